"""Live statistics over graphql-transport-ws: authenticated at connection_init, scoped to the
organization, at most one message a second with the newest numbers, across app instances and
from the command line (PostgreSQL: NOTIFY; SQLite: each app polls the subscribed campaigns' data
versions at most once a second)."""

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
from sqlalchemy import select, update
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.cli import ingest_file
from app.database import Database
from app.enums import Role
from app.ids import global_id
from app.models import CampaignStats, Contact
from app.pubsub import broker_for, stop_broker
from tests.factories import event, graphql, make_campaign, make_organization, post_events

PROJECT = Path(__file__).resolve().parent.parent
SUBSCRIPTION = """
subscription($id: ID!) {
  campaignStats(campaignId: $id) { recipients sent delivered opened clicks openRate clickRate }
}
"""
# A write made by another process reaches a subscriber within this many seconds: on SQLite the
# app polls the data versions once a second and sends at most one message a second, so 2 s at
# worst; the rest is slack for a loaded machine.
HEARD_WITHIN = 5.0


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
async def subscribed(
    url: str, key: str, campaign_id: str, query: str = SUBSCRIPTION
) -> AsyncIterator[ClientConnection]:
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
                    "payload": {"query": query, "variables": {"id": campaign_id}},
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


RECORD_RESPONSE = """
mutation($input: RecordResponseInput!) { recordResponse(input: $input) { userErrors { code } } }
"""
DELETE_RESPONSES = """
mutation($input: DeleteResponsesInput!) {
  deleteResponses(input: $input) { deletedCount userErrors { code } }
}
"""
ADD_RECIPIENTS = """
mutation($input: AddRecipientsInput!) { addRecipients(input: $input) { added userErrors { code } } }
"""
UPSERT_CAMPAIGN = """
mutation($input: UpsertCampaignInput!) { upsertCampaign(input: $input) { userErrors { code } } }
"""


async def test_subscribers_of_one_campaign_share_one_read_per_change(
    app, client, organization, database, count_statements
):
    campaign_id = await make_campaign(client, organization, "spring")
    async with serving(app, database) as url:
        key = organization.keys[Role.VIEWER]
        async with (
            subscribed(url, key, campaign_id) as first,
            subscribed(url, key, campaign_id) as second,
        ):
            assert (await next_stats(first))["sent"] == 0
            assert (await next_stats(second))["sent"] == 0
            with count_statements() as counter:
                await post_events(client, organization, [event("SENT", "ann@example.com", id="1")])
                assert (await next_stats(first))["sent"] == 1
                assert (await next_stats(second))["sent"] == 1
            reads = [
                statement
                for statement in counter.statements
                if statement.lstrip().upper().startswith("SELECT")
                and "max(campaign_stats.updated_at)" in statement
            ]
            # One read of the campaign's numbers for both subscribers.
            assert len(reads) == 1, reads


async def test_a_subscriber_hears_responses_recorded_and_deleted_by_hand(
    app, client, organization, database
):
    campaign_id = await make_campaign(client, organization, "spring")
    await post_events(client, organization, [event("SENT", "bob@example.com", id="b1")])
    async with serving(app, database) as url:
        async with subscribed(url, organization.keys[Role.VIEWER], campaign_id) as socket:
            # bob: sent.
            assert await next_stats(socket) == {
                "recipients": 1, "sent": 1, "delivered": 0, "opened": 0, "clicks": 0,
                "openRate": 0.0, "clickRate": 0.0,
            }  # fmt: skip
            recorded = await graphql(
                client, organization, RECORD_RESPONSE,
                {"input": {"campaignId": campaign_id, "email": "ann@example.com",
                           "type": "OPENED", "occurredAt": "2026-11-20T09:05:00Z"}},
            )  # fmt: skip
            assert recorded["data"]["recordResponse"]["userErrors"] == []
            # ann opened, which proves she was sent and delivered: 1 of 2 sent opened.
            assert await next_stats(socket) == {
                "recipients": 2, "sent": 2, "delivered": 1, "opened": 1, "clicks": 0,
                "openRate": 0.5, "clickRate": 0.0,
            }  # fmt: skip
            async with database.read() as connection:
                ann = (
                    await connection.execute(
                        select(Contact.id).where(
                            Contact.organization_id == organization.id,
                            Contact.email == "ann@example.com",
                        )
                    )
                ).scalar_one()
            deleted = await graphql(
                client, organization, DELETE_RESPONSES,
                {"input": {"campaignId": campaign_id, "contactId": str(global_id("Contact", ann))}},
            )  # fmt: skip
            assert deleted["data"]["deleteResponses"]["deletedCount"] == 1
            # ann stays a recipient with no history; only bob's send is left.
            assert await next_stats(socket) == {
                "recipients": 2, "sent": 1, "delivered": 0, "opened": 0, "clicks": 0,
                "openRate": 0.0, "clickRate": 0.0,
            }  # fmt: skip


async def test_a_subscriber_hears_recipients_added_and_a_new_cost(
    app, client, organization, database
):
    campaign_id = await make_campaign(client, organization, "spring", cost="10.00")
    query = "subscription($id: ID!) { campaignStats(campaignId: $id) { recipients cost } }"
    async with serving(app, database) as url:
        key = organization.keys[Role.VIEWER]
        async with subscribed(url, key, campaign_id, query) as socket:
            assert await next_stats(socket) == {"recipients": 0, "cost": "10.00"}
            added = await graphql(
                client, organization, ADD_RECIPIENTS,
                {"input": {"campaignId": campaign_id,
                           "contacts": [{"email": "ann@example.com"}, {"email": "bob@example.com"}]}},
            )  # fmt: skip
            assert added["data"]["addRecipients"]["added"] == 2
            assert await next_stats(socket) == {"recipients": 2, "cost": "10.00"}
            upserted = await graphql(
                client, organization, UPSERT_CAMPAIGN,
                {"input": {"externalId": "spring", "name": "Spring", "cost": "25.00"}},
            )  # fmt: skip
            assert upserted["data"]["upsertCampaign"]["userErrors"] == []
            assert await next_stats(socket) == {"recipients": 2, "cost": "25.00"}


async def test_a_subscriber_hears_events_ingested_from_a_file(
    app, client, organization, database, database_url, tmp_path
):
    campaign_id = await make_campaign(client, organization, "spring")
    path = tmp_path / "events.ndjson"
    events = [
        event("SENT", "ann@example.com", id="1"),
        event("DELIVERED", "ann@example.com", minutes=1, id="2"),
        event("SENT", "bob@example.com", id="3"),
    ]
    path.write_text("\n".join(json.dumps(item) for item in events) + "\n")
    # On PostgreSQL the command line is another process with its own engine: NOTIFY reaches the
    # app's LISTEN connection. SQLite has no such channel, so there it shares the app's broker.
    sqlite = database_url.startswith("sqlite")
    command_database = database if sqlite else Database.from_url(database_url)
    try:
        async with serving(app, database) as url:
            async with subscribed(url, organization.keys[Role.VIEWER], campaign_id) as socket:
                assert (await next_stats(socket))["sent"] == 0
                result = await ingest_file(command_database, organization.name, path, "canonical")
                assert result.accepted == 3
                stats = await next_stats(socket)
                assert (stats["recipients"], stats["sent"], stats["delivered"]) == (2, 2, 1)
    finally:
        if not sqlite:
            await command_database.dispose()


@pytest.mark.fresh_database
async def test_a_subscriber_hears_a_repair_made_by_the_command_line(
    app, client, organization, database, database_url
):
    campaign_id = await make_campaign(client, organization, "spring")
    await post_events(client, organization, [event("SENT", "ann@example.com", id="1")])
    # Drift: 5 sends too many in the stored aggregate row.
    async with database.write() as connection:
        await connection.execute(update(CampaignStats).values(sent=CampaignStats.sent + 5))
    async with serving(app, database) as url:
        async with subscribed(url, organization.keys[Role.VIEWER], campaign_id) as socket:
            assert (await next_stats(socket))["sent"] == 6
            repair = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "app.cli", "reconcile", "--repair",
                cwd=PROJECT, env={**os.environ, "DATABASE_URL": database_url},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            output, errors = await asyncio.wait_for(repair.communicate(), 120)
            assert repair.returncode == 0, errors.decode()
            assert b"repaired" in output
            # Recomputed from the history: ann's one send. Heard within HEARD_WITHIN.
            assert (await next_stats(socket, timeout=HEARD_WITHIN))["sent"] == 1


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


# --- Two app instances sharing one database ---------------------------------------------------


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
            stats = await next_stats(socket, timeout=HEARD_WITHIN)
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


async def test_a_revoked_key_stops_receiving_numbers(
    app, client, organization, database, monkeypatch
):
    """A subscription outlives the check at connection_init: after its key is revoked, the next
    change completes the subscription instead of sending numbers."""
    from app import auth
    from app.models import ApiKey
    from resolvers import live_stats

    monkeypatch.setattr(live_stats, "KEY_CHECK_SECONDS", 0.0)
    campaign_id = await make_campaign(client, organization, "revoked")
    viewer_key = organization.keys[Role.VIEWER]
    async with serving(app, database) as url:
        async with subscribed(url, viewer_key, campaign_id) as socket:
            assert (await next_stats(socket))["recipients"] == 0
            async with database.write() as connection:
                await connection.execute(
                    update(ApiKey)
                    .where(ApiKey.key_hash == auth.hash_key(viewer_key))
                    .values(revoked_at=auth.datetime.now(auth.UTC))
                )
            await post_events(
                client,
                organization,
                [event("SENT", "ann@example.com", id="r1", campaign="revoked")],
            )
            # No numbers after the revocation: the subscription completes.
            assert await receive(socket) == {"id": "1", "type": "complete"}
