"""HTTP caching of GraphQL answers: an ETag from the versions read, If-None-Match -> 304 for
one statement (the key read with the versions; nothing executed), Cache-Control: private, no-cache; and the
opt-in staleness (Cache-Control: max-stale=N or @cached(maxAge: N)) with its Age."""

import httpx
import orjson
import pytest

from app.enums import Role
from app.routes import graphql as graphql_edge
from tests.cache_helpers import DASHBOARD, campaign_with_events, dashboard, statements_sent
from tests.factories import event, make_organization, post_events


class Clock:
    """The edge's clock, still unless moved: ages are exact."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1_000_000.0
        monkeypatch.setattr(graphql_edge, "clock", lambda: self.now)


def sent(answer: httpx.Response) -> int:
    return int(answer.json()["data"]["campaign"]["stats"]["sent"])


async def send_one_more(client: httpx.AsyncClient, organization, email: str) -> None:
    answer = await post_events(client, organization, [event("SENT", email, variant="B")])
    assert answer.json()["accepted"] == 1


async def test_if_none_match_is_a_304_for_one_statement(client, database, monkeypatch):
    organization = await make_organization(database)
    campaign_id = await campaign_with_events(client, organization)
    first = await dashboard(client, organization, campaign_id)
    etag = first.headers["etag"]
    assert etag.startswith('W/"')
    assert first.headers["cache-control"] == "private, no-cache"
    assert first.headers["vary"] == "Authorization, Accept"

    with statements_sent(database, monkeypatch) as revalidation:
        unchanged = await dashboard(
            client, organization, campaign_id, headers={"If-None-Match": etag}
        )
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    # The key with the versions alone (SQLite: on its quick reader, no BEGIN or ROLLBACK).
    assert revalidation.count == 1, revalidation.sent

    await send_one_more(client, organization, "bob@example.com")
    changed = await dashboard(client, organization, campaign_id, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert sent(changed) == 2
    assert changed.headers["etag"] != etag


async def test_the_etag_is_the_same_for_another_instance_and_a_get(client, database, app):
    """Computed from the key and the versions, not remembered: a GET of the same operation by
    a browser revalidates against the answer a POST got, on a cache emptied in between."""
    organization = await make_organization(database)
    campaign_id = await campaign_with_events(client, organization)
    posted = await dashboard(client, organization, campaign_id)
    app.state.graphql.cache.clear()
    variables = orjson.dumps({"id": campaign_id, "zone": None}).decode()
    revalidated = await client.get(
        "/graphql",
        params={"query": DASHBOARD, "variables": variables},
        headers={**organization.headers(Role.VIEWER), "If-None-Match": posted.headers["etag"]},
    )
    assert revalidated.status_code == 304


async def test_max_stale_serves_the_cached_answer_within_n_seconds_with_its_age(
    client, database, monkeypatch
):
    clock = Clock(monkeypatch)
    organization = await make_organization(database)
    campaign_id = await campaign_with_events(client, organization)
    assert sent(await dashboard(client, organization, campaign_id)) == 1
    await send_one_more(client, organization, "bob@example.com")

    clock.now += 20.4
    stale = await dashboard(
        client, organization, campaign_id, headers={"Cache-Control": "max-stale=30"}
    )
    assert sent(stale) == 1  # the answer from before bob, 20 seconds old
    assert stale.headers["age"] == "20"
    assert stale.json()["extensions"]["cache"] == {"age": 20}
    assert "cost" in stale.json()["extensions"]  # the answer's own extensions are kept

    # The client already holds that answer: a 304, with the same Age.
    held = await dashboard(
        client,
        organization,
        campaign_id,
        headers={"Cache-Control": "max-stale=30", "If-None-Match": stale.headers["etag"]},
    )
    assert (held.status_code, held.headers["age"]) == (304, "20")

    exact = await dashboard(client, organization, campaign_id)
    assert sent(exact) == 2
    assert "age" not in exact.headers
    assert "cache" not in exact.json()["extensions"]

    clock.now += 39.6
    await send_one_more(client, organization, "cy@example.com")
    # The cached answer (bob included) was known exact at +20.4 s: 39.6 s old at +60 s, beyond
    # the 30 accepted, so the versions are checked and the dashboard runs again.
    again = await dashboard(
        client, organization, campaign_id, headers={"Cache-Control": "max-stale=30"}
    )
    assert sent(again) == 3
    assert again.headers["age"] == "0"
    assert again.json()["extensions"]["cache"] == {"age": 0}


@pytest.mark.parametrize("header", ["max-stale=3600", "max-stale"])
async def test_max_stale_is_capped_by_the_setting(client, database, monkeypatch, header):
    clock = Clock(monkeypatch)
    organization = await make_organization(database)
    campaign_id = await campaign_with_events(client, organization)
    await dashboard(client, organization, campaign_id)
    await send_one_more(client, organization, "bob@example.com")
    # MAX_STALE_SECONDS is 60 by default: 61 seconds is too old whatever the client accepts.
    clock.now += 61
    answer = await dashboard(client, organization, campaign_id, headers={"Cache-Control": header})
    assert sent(answer) == 2


async def test_the_cached_directive_opts_in_like_the_header(client, database, monkeypatch):
    clock = Clock(monkeypatch)
    organization = await make_organization(database)
    campaign_id = await campaign_with_events(client, organization)
    query = DASHBOARD.replace(
        "query Dashboard($id: ID!, $zone: String)",
        "query Dashboard($id: ID!, $zone: String) @cached(maxAge: 10)",
    )
    variables = {"id": campaign_id, "zone": None}

    async def ask() -> httpx.Response:
        return await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers=organization.headers(),
        )

    first = await ask()
    assert sent(first) == 1
    assert first.json()["extensions"]["cache"] == {"age": 0}
    await send_one_more(client, organization, "bob@example.com")
    clock.now += 5
    within = await ask()
    assert (sent(within), within.headers["age"]) == (1, "5")
    clock.now += 6
    beyond = await ask()
    assert (sent(beyond), beyond.headers["age"]) == (2, "0")
