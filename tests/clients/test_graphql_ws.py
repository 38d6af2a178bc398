"""Live statistics through graphql-ws, the client browser dashboards use (Node, `ws`): the
current numbers, then new ones after events arrive, at most one message a second; a wrong key
is refused with 4403."""

import asyncio
import json
import os
from typing import Any

import httpx

from app.enums import Role
from tests.clients.live import CLIENTS, LiveServer, require_node
from tests.factories import Organization, event, make_campaign, post_events


async def first_line(process: asyncio.subprocess.Process) -> dict[str, Any]:
    assert process.stdout is not None and process.stderr is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    if not line:  # it failed before the first message: say why
        raise AssertionError((await process.stderr.read()).decode())
    parsed: dict[str, Any] = json.loads(line)
    return parsed


async def test_graphql_ws_hears_the_numbers_then_the_new_ones(
    live_server: LiveServer, organization: Organization
) -> None:
    node = require_node()
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        campaign_id = await make_campaign(client, organization, "spring")
        process = await asyncio.create_subprocess_exec(
            node,
            str(CLIENTS / "subscribe.mjs"),
            cwd=CLIENTS,
            env=os.environ
            | {
                "GRAPHQL_WS_URL": live_server.url.replace("http://", "ws://") + "/graphql",
                "API_KEY": organization.keys[Role.VIEWER],
                "BAD_KEY": "cg_not-a-key-of-anyone",
                "CAMPAIGN_ID": campaign_id,
                "WANT_OPENED": "2",
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            # The first message is out: what the events change comes after it.
            assert await first_line(process) == {"ready": True}
            for batch in [
                [
                    event("SENT", "ann@example.com", id="1"),
                    event("SENT", "bob@example.com", id="2"),
                ],
                [event("OPENED", "ann@example.com", minutes=5, id="3")],
                [event("OPENED", "bob@example.com", minutes=6, id="4")],
            ]:
                answer = await post_events(client, organization, batch)
                assert answer.status_code == 200, answer.text
            stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0, stderr.decode()
    report = json.loads(stdout.decode().strip().splitlines()[-1])

    messages = report["messages"]
    assert all("errors" not in message for message in messages), messages
    stats = [message["data"]["campaignStats"] for message in messages]
    # Before any event: nothing, and no rate without a denominator.
    assert stats[0] == {"recipients": 0, "sent": 0, "opened": 0, "openRate": None}
    # ann and bob were sent the campaign and both opened it: 2 of 2 sent opened.
    assert stats[-1] == {"recipients": 2, "sent": 2, "opened": 2, "openRate": 1.0}
    # Three batches posted at once are merged: never two messages within a second.
    arrivals = [message["at"] for message in messages]
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    assert len(gaps) >= 1 and all(gap >= 0.95 for gap in gaps), gaps

    assert report["badKeyClose"]["code"] == 4403
