"""Live statistics over graphql-transport-ws: authenticated at connection_init, scoped to the
organization, at most one message a second with the newest numbers, across app instances on
PostgreSQL."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.enums import Role
from app.pubsub import broker_for, stop_broker
from tests.factories import event, make_campaign, make_organization, post_events

PROJECT = Path(__file__).resolve().parent.parent
SUBSCRIPTION = """
subscription($id: ID!) {
  campaignStats(campaignId: $id) { recipients sent delivered opened clicks openRate clickRate }
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def serving(app: Any, database: Any) -> AsyncIterator[str]:
    """The app on a real socket in this event loop (websockets need one); its ws:// base."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task
        await stop_broker(database)


async def receive(socket: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        if message["type"] != "ping":
            return message


@asynccontextmanager
async def subscribed(url: str, key: str, campaign_id: str) -> AsyncIterator[ClientConnection]:
    async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        )
        assert (await receive(socket))["type"] == "connection_ack"
        await socket.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIPTION, "variables": {"id": campaign_id}},
                }
            )
        )
        yield socket


async def next_stats(socket: ClientConnection, timeout: float = 10) -> dict[str, Any]:
    message = await receive(socket, timeout)
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    return message["payload"]["data"]["campaignStats"]


async def test_a_subscriber_hears_new_numbers_as_events_arrive(app, client, organization, database):
    campaign_id = await make_campaign(client, organization, "spring")
    async with serving(app, database) as url:
        async with subscribed(url, organization.keys[Role.VIEWER], campaign_id) as socket:
            # First the numbers as they are: nothing yet, and no rate without a denominator.
            assert await next_stats(socket) == {
                "recipients": 0, "sent": 0, "delivered": 0, "opened": 0, "clicks": 0,
                "openRate": None, "clickRate": None,
            }  # fmt: skip
            await post_events(
                client,
                organization,
                [
                    event("SENT", "ann@example.com", id="1"),
                    event("DELIVERED", "ann@example.com", minutes=1, id="2"),
                    event("OPENED", "ann@example.com", minutes=2, id="3"),
                    event("SENT", "bob@example.com", id="4"),
                ],
            )
            # ann: sent, delivered, opened; bob: sent. openRate = 1 opened / 2 sent.
            assert await next_stats(socket) == {
                "recipients": 2, "sent": 2, "delivered": 1, "opened": 1, "clicks": 0,
                "openRate": 0.5, "clickRate": 0.0,
            }  # fmt: skip
        # The client went away: its listener is released.
        for _ in range(100):
            if broker_for(database).listener_count == 0:
                break
            await asyncio.sleep(0.02)
        assert broker_for(database).listener_count == 0


async def test_at_most_one_message_a_second_with_the_newest_numbers(
    app, client, organization, database
):
    campaign_id = await make_campaign(client, organization, "spring")
    async with serving(app, database) as url:
        async with subscribed(url, organization.keys[Role.VIEWER], campaign_id) as socket:
            await next_stats(socket)
            arrivals: list[tuple[float, int]] = []

            async def read_until_all_ten_arrive() -> None:
                while not arrivals or arrivals[-1][1] < 10:
                    stats = await next_stats(socket, timeout=30)
                    arrivals.append((time.monotonic(), stats["sent"]))

            # Read while posting, so that arrival times are when the messages came.
            reader = asyncio.create_task(read_until_all_ten_arrive())
            # Ten batches at once, one new sent recipient each.
            await asyncio.gather(
                *(
                    post_events(
                        client, organization, [event("SENT", f"r{n}@example.com", id=f"s{n}")]
                    )
                    for n in range(10)
                )
            )
            await reader
            gaps = [
                later[0] - earlier[0]
                for earlier, later in zip(arrivals, arrivals[1:], strict=False)
            ]
            # Sent a second apart at least; a busy machine may deliver one late and the next on
            # time, so the gaps measured here get some slack.
            assert all(gap >= 0.75 for gap in gaps), gaps
            # Fewer messages than batches: the changes within a second arrive together.
            assert len(arrivals) < 10, arrivals
            assert [sent for _, sent in arrivals] == sorted(sent for _, sent in arrivals)


async def expect_closed(socket: ClientConnection) -> int | None:
    try:
        await receive(socket, timeout=5)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    raise AssertionError("the socket stayed open")


@pytest.mark.parametrize("payload", [{}, {"Authorization": "Bearer cg_wrong"}, {"apiKey": "x"}])
async def test_a_missing_or_wrong_key_is_refused_at_connection_init(
    app, client, organization, database, payload
):
    campaign_id = await make_campaign(client, organization, "spring")
    async with serving(app, database) as url:
        async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
            assert await expect_closed(socket) == 4403
        # Subscribing without connection_init is refused too.
        async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:
            await socket.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": SUBSCRIPTION, "variables": {"id": campaign_id}},
                    }
                )
            )
            assert await expect_closed(socket) == 4401


async def test_another_organizations_campaign_is_not_found(app, client, organization, database):
    campaign_id = await make_campaign(client, organization, "spring")
    await post_events(client, organization, [event("SENT", "ann@example.com", id="1")])
    other = await make_organization(database)
    async with serving(app, database) as url:
        async with subscribed(url, other.keys[Role.ADMIN], campaign_id) as socket:
            message = await receive(socket)
            assert message["type"] in {"next", "error"}
            errors = (
                message["payload"]["errors"] if message["type"] == "next" else message["payload"]
            )
            assert "no campaign" in errors[0]["message"]
            assert not (message["payload"].get("data") or {}).get("campaignStats")
        async with subscribed(url, organization.keys[Role.VIEWER], "not-an-id") as socket:
            message = await receive(socket)
            assert "no campaign" in json.dumps(message)


async def test_a_lost_listen_connection_is_reopened_and_nothing_is_missed(
    app, client, organization, database, database_url
):
    if database_url.startswith("sqlite"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    campaign_id = await make_campaign(client, organization, "spring")
    async with serving(app, database) as url:
        async with subscribed(url, organization.keys[Role.VIEWER], campaign_id) as socket:
            assert (await next_stats(socket))["sent"] == 0
            listening = broker_for(database)._connection  # type: ignore[attr-defined]
            async with database.write() as connection:
                await connection.exec_driver_sql(
                    f"SELECT pg_terminate_backend({listening.get_server_pid()})"
                )
            # Posted while no one listens: heard once the connection is back.
            await post_events(client, organization, [event("SENT", "ann@example.com", id="1")])
            assert (await next_stats(socket, timeout=15))["sent"] == 1


# --- Two app instances sharing one PostgreSQL database ---------------------------------------


def start_instance(database_url: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        ],
        cwd=PROJECT,
        env={**os.environ, "DATABASE_URL": database_url},
    )  # fmt: skip


async def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90  # a loaded machine imports the app slowly
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the app instance exited"
            try:
                if (await http.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{base} did not start")


async def test_a_subscriber_on_one_instance_hears_events_posted_to_another(
    database_url, client, organization
):
    if database_url.startswith("sqlite"):
        pytest.skip("several app instances share a database on PostgreSQL only")
    campaign_id = await make_campaign(client, organization, "spring")
    ports = free_port(), free_port()
    instances = [start_instance(database_url, port) for port in ports]
    try:
        first, second = (f"http://127.0.0.1:{port}" for port in ports)
        await wait_healthy(first, instances[0])
        await wait_healthy(second, instances[1])
        url = first.replace("http://", "ws://") + "/graphql"
        async with subscribed(url, organization.keys[Role.VIEWER], campaign_id) as socket:
            assert (await next_stats(socket))["sent"] == 0
            async with httpx.AsyncClient(base_url=second) as other_instance:
                response = await post_events(
                    other_instance,
                    organization,
                    [
                        event("SENT", "ann@example.com", id="1"),
                        event("DELIVERED", "ann@example.com", minutes=1, id="2"),
                        event("CLICKED", "ann@example.com", minutes=2, id="3"),
                        event("SENT", "bob@example.com", id="4"),
                        event("SENT", "cy@example.com", id="5"),
                    ],
                )
                assert response.status_code == 200, response.text
            # ann clicked (which proves an open): 1 of 3 sent opened and clicked.
            stats = await next_stats(socket)
            assert (stats["sent"], stats["delivered"], stats["opened"], stats["clicks"]) == (
                3, 1, 1, 1,
            )  # fmt: skip
            assert stats["clickRate"] == pytest.approx(1 / 3)
    finally:
        for process in instances:
            process.terminate()
        for process in instances:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
