"""The response cache: a repeated dashboard is the same bytes for one statement (the key read
with the versions the answer depends on); any write it depends on, through this app or another one over the same
database, changes the next answer; keys never mix time zones, variables or roles; answers with
errors are never kept; a dashboard executed in full costs at most 7 statements on PostgreSQL."""

from typing import Any

import httpx
import pytest

from app.database import Database
from app.enums import Role
from app.main import create_app
from app.settings import Settings
from tests.cache_helpers import campaign_with_events, dashboard, statements_sent
from tests.factories import event, graphql, make_organization, post_events


def sent_and_opened(answer: httpx.Response) -> tuple[int, int]:
    stats = answer.json()["data"]["campaign"]["stats"]
    return stats["sent"], stats["opened"]


async def test_a_repeated_dashboard_is_the_same_bytes_for_one_statement(
    client, database, monkeypatch
):
    organization = await make_organization(database)
    campaign_id = await campaign_with_events(client, organization)

    with statements_sent(database, monkeypatch) as executed:
        first = await dashboard(client, organization, campaign_id)
    with statements_sent(database, monkeypatch) as cached:
        second = await dashboard(client, organization, campaign_id)

    assert first.status_code == second.status_code == 200
    assert sent_and_opened(first) == (1, 1)
    assert second.content == first.content
    # The key with the versions, then campaign, statistics, timeline, variants, links: on
    # PostgreSQL nothing else (autocommit: no BEGIN, no ROLLBACK); SQLite adds its BEGIN and
    # ROLLBACK around them (one snapshot), and first its quick reader's check of the key.
    framing = 3 if database.sqlite else 0
    assert executed.count <= 7 + framing, executed.sent
    # A hit is the key with the versions alone, on both (SQLite: on the quick reader, in
    # autocommit: no BEGIN, no ROLLBACK).
    [statement] = cached.sent
    assert "api_keys" in statement
    assert "data_versions" in statement


async def test_an_ingest_between_two_requests_changes_the_answer(client, database):
    organization = await make_organization(database)
    campaign_id = await campaign_with_events(client, organization)
    assert sent_and_opened(await dashboard(client, organization, campaign_id)) == (1, 1)

    more = [event("SENT", "bob@example.com", variant="B"), event("SENT", "cy@example.com")]
    assert (await post_events(client, organization, more)).json()["accepted"] == 2

    assert sent_and_opened(await dashboard(client, organization, campaign_id)) == (3, 1)


async def test_a_write_through_another_instance_is_seen_by_the_next_request(database_url, database):
    """Two app processes over one database (two apps, two engines): each has its own cache;
    the version check in the database tells instance A that B wrote."""
    other = Database.from_url(database_url)
    app_a = create_app(Settings(database_url=database_url), database)
    app_b = create_app(Settings(database_url=database_url), other)
    try:
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app_a), base_url="http://a") as a,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app_b), base_url="http://b") as b,
        ):
            organization = await make_organization(database)
            campaign_id = await campaign_with_events(a, organization)
            assert sent_and_opened(await dashboard(a, organization, campaign_id)) == (1, 1)
            assert sent_and_opened(await dashboard(a, organization, campaign_id)) == (1, 1)

            opened = [event("OPENED", "ann@example.com", variant="A", minutes=9)]
            clicked = [event("SENT", "dee@example.com"), event("OPENED", "dee@example.com")]
            assert (await post_events(b, organization, opened + clicked)).status_code == 200

            # ann opened again (still one opener), dee was sent and opened.
            assert sent_and_opened(await dashboard(a, organization, campaign_id)) == (2, 2)
    finally:
        await other.dispose()


async def test_a_write_to_another_campaign_keeps_the_dashboard_but_not_the_list(
    client, database, monkeypatch
):
    organization = await make_organization(database)
    spring = await campaign_with_events(client, organization, "spring")
    await campaign_with_events(client, organization, "autumn")
    listing = "{ campaigns(first: 10) { edges { node { externalId stats { sent } } } } }"
    await dashboard(client, organization, spring)
    before = await graphql(client, organization, listing, role=Role.VIEWER)

    autumn_sent = [event("SENT", "eve@example.com", campaign="autumn")]
    assert (await post_events(client, organization, autumn_sent)).status_code == 200

    with statements_sent(database, monkeypatch) as spring_again:
        assert sent_and_opened(await dashboard(client, organization, spring)) == (1, 1)
    assert spring_again.count == 1  # autumn's write did not touch spring's versions
    after = await graphql(client, organization, listing, role=Role.VIEWER)
    sent = {
        edge["node"]["externalId"]: edge["node"]["stats"]["sent"]
        for edge in after["data"]["campaigns"]["edges"]
    }
    assert sent == {"spring": 1, "autumn": 2}
    assert after != before


async def test_time_zones_variables_and_roles_never_share_an_answer(client, database):
    organization = await make_organization(database)
    campaign_id = await campaign_with_events(client, organization)

    def first_bucket(answer: httpx.Response) -> str:
        buckets = answer.json()["data"]["campaign"]["timeline"]
        return str(buckets[0]["start"])

    utc = await dashboard(client, organization, campaign_id, zone="UTC")
    tokyo = await dashboard(client, organization, campaign_id, zone="Asia/Tokyo")
    # From 2026-11-20T00:00Z: the first hour starts at midnight UTC, 09:00 in Tokyo (UTC+9).
    assert first_bucket(utc) == "2026-11-20T00:00:00+00:00"
    assert first_bucket(tokyo) == "2026-11-20T09:00:00+09:00"

    # The organization's own zone is the default: an organization in New York (UTC-5 in
    # November) asking the same document gets its own buckets.
    new_york = await make_organization(database, timezone="America/New_York")
    ny_campaign = await campaign_with_events(client, new_york)
    assert first_bucket(await dashboard(client, new_york, ny_campaign)) == (
        "2026-11-19T19:00:00-05:00"
    )

    viewer = await graphql(client, organization, "{ viewer { role } }", role=Role.VIEWER)
    admin = await graphql(client, organization, "{ viewer { role } }", role=Role.ADMIN)
    assert viewer["data"]["viewer"]["role"] == "VIEWER"
    assert admin["data"]["viewer"]["role"] == "ADMIN"


async def test_answers_with_errors_are_not_kept(client, database, monkeypatch):
    organization = await make_organization(database)
    query: dict[str, Any] = {"query": '{ viewer { role } campaign(id: "nonsense") { id } }'}
    headers = organization.headers(Role.VIEWER)
    first = await client.post("/graphql", json=query, headers=headers)
    with statements_sent(database, monkeypatch) as again:
        second = await client.post("/graphql", json=query, headers=headers)
    assert first.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert second.json() == first.json()
    assert "etag" not in second.headers
    # Executed again: the key with the versions, then the viewer's own read (SQLite: after
    # its quick reader's check of the key, inside BEGIN and ROLLBACK).
    framing = 3 if database.sqlite else 0
    assert again.count > 1 + framing


async def test_mutations_are_never_cached(client, database):
    organization = await make_organization(database)
    upsert = """mutation($input: UpsertCampaignInput!) {
      upsertCampaign(input: $input) { campaign { name } userErrors { message } } }"""
    names = []
    for name in ("First", "Second"):
        body = {"query": upsert, "variables": {"input": {"externalId": "x", "name": name}}}
        answer = await client.post("/graphql", json=body, headers=organization.headers())
        assert "etag" not in answer.headers
        names.append(answer.json()["data"]["upsertCampaign"]["campaign"]["name"])
    assert names == ["First", "Second"]


@pytest.mark.parametrize("bound", [0, 3000])
async def test_the_cache_holds_at_most_its_bound(database_url, database, bound):
    app = create_app(Settings(database_url=database_url, response_cache_bytes=bound), database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        organization = await make_organization(database)
        campaign_id = await campaign_with_events(client, organization)
        answers = [
            await dashboard(client, organization, campaign_id, zone=zone)
            for zone in ("UTC", "Europe/Paris", "Asia/Tokyo", "America/Lima", "UTC")
        ]
    assert [answer.status_code for answer in answers] == [200] * 5
    assert answers[0].content == answers[-1].content
    cache = app.state.graphql.cache
    assert cache.bytes <= bound
    if bound == 0:
        assert len(cache) == 0
    else:
        # Each dashboard answer is a little over 1,000 bytes with the entry's overhead: two
        # fit, the older ones were evicted.
        assert 1 <= len(cache) <= 2
        assert cache.evictions >= 2


async def test_the_cache_shows_in_metrics(database_url, database):
    settings = Settings(database_url=database_url, metrics_token="scrape-token")
    app = create_app(settings, database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        organization = await make_organization(database)
        campaign_id = await campaign_with_events(client, organization)
        for _ in range(3):
            await dashboard(client, organization, campaign_id)
        scraped = await client.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
    samples = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in scraped.text.splitlines()
        if line.startswith("campaign_graph_response_cache")
    }
    cache = app.state.graphql.cache
    assert cache.bytes > 1000
    assert samples == {
        "campaign_graph_response_cache_bytes": cache.bytes,
        "campaign_graph_response_cache_entries": 1.0,
        "campaign_graph_response_cache_hits_total": 2.0,
        "campaign_graph_response_cache_misses_total": 1.0,
    }
