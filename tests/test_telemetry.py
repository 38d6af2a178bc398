"""GET /metrics: after real traffic, the counters say what was sent; off without a token."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.credentials import postmark_settings
from app.database import SQLITE_KEPT_CONNECTIONS
from app.enums import Role
from app.ingest.providers.tracking import OPEN, make_token
from app.main import create_app
from app.settings import Settings
from app.telemetry import MAX_OPERATION_NAMES
from tests.factories import event, graphql, make_campaign, post_events
from tests.test_subscriptions import next_stats, serving, subscribed
from tests.test_tracking import ids
from tests.test_webhook_postmark import PASSWORD, RECORDS, USERNAME, basic
from tests.webhook_helpers import configure

TOKEN = "scrape-token-0123456789"
TRACKING_SECRET = "tracking-secret-for-telemetry-tests"


@pytest.fixture
def metrics_app(database: Any, database_url: str) -> Any:
    settings = Settings(
        database_url=database_url, metrics_token=TOKEN, tracking_secret=TRACKING_SECRET
    )
    return create_app(settings, database)


@pytest.fixture
async def metrics_client(metrics_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=metrics_app), base_url="http://testserver"
    ) as client:
        yield client


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[Any]], float]:
    """Every sample of /metrics: (name, labels) -> value."""
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[Any]], float], name: str, **labels: str) -> float:
    """A sample's value; 0 when the series is not there yet (nothing counted)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def events(samples: Any, source: str) -> dict[str, float]:
    outcomes = ("accepted", "duplicate", "unmatched", "refused")
    return {
        outcome: value(samples, "campaign_graph_events_total", source=source, outcome=outcome)
        for outcome in outcomes
    }


async def test_metrics_answer_404_while_no_token_is_set(client) -> None:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404
    assert "METRICS_TOKEN" in response.json()["error"]


async def test_metrics_need_the_token(metrics_client) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        response = await metrics_client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
    assert (await metrics_client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200  # fmt: skip


async def test_events_are_counted_by_outcome(metrics_client, organization) -> None:
    await make_campaign(metrics_client, organization, "spring")
    ann, bob = event("SENT", "ann@example.com", id="a"), event("SENT", "bob@example.com", id="b")
    # 3 events: ann and bob accepted, ann again a duplicate.
    assert (await post_events(metrics_client, organization, [ann, bob])).status_code == 200
    assert (await post_events(metrics_client, organization, [ann])).status_code == 200
    # An unknown campaign: kept unmatched.
    other = event("SENT", "cy@example.com", campaign="nope", id="c")
    assert (await post_events(metrics_client, organization, [other])).status_code == 200
    # A batch of 2 with a bad event is refused whole: 2 refused; a request without a key: 1.
    bad = [event("SENT", "dee@example.com", id="d"), event("SHIPPED", "eve@example.com")]
    assert (await post_events(metrics_client, organization, bad)).status_code == 400
    assert (await metrics_client.post("/events", json=[ann])).status_code == 401

    samples = await scrape(metrics_client)
    assert events(samples, "events") == {
        "accepted": 2,
        "duplicate": 1,
        "unmatched": 1,
        "refused": 3,
    }
    # Three batches were stored (the refused ones never reached the database).
    assert value(samples, "campaign_graph_ingest_batch_duration_seconds_count", source="events") == 3  # fmt: skip
    requests = "campaign_graph_http_requests_total"
    assert value(samples, requests, method="POST", route="/events", status="200") == 3
    assert value(samples, requests, method="POST", route="/events", status="400") == 1
    assert value(samples, requests, method="POST", route="/events", status="401") == 1
    assert value(samples, "campaign_graph_http_request_duration_seconds_count", method="POST", route="/events") == 5  # fmt: skip


async def test_webhooks_are_counted_by_provider_under_their_route_template(
    metrics_client, database, organization
) -> None:
    await configure(database, organization, "postmark", postmark_settings(USERNAME, PASSWORD))
    await make_campaign(metrics_client, organization, "spring")
    path = f"/webhooks/postmark/{organization.name}"
    delivery = RECORDS[0]
    assert (await metrics_client.post(path, json=delivery, headers=basic())).status_code == 200
    assert (await metrics_client.post(path, json=delivery, headers=basic())).status_code == 200
    wrong = basic(password="not the password at all")
    assert (await metrics_client.post(path, json=delivery, headers=wrong)).status_code == 401
    # An unknown provider is no source: a 404, counted under the route only.
    assert (await metrics_client.post(f"/webhooks/nobody/{organization.name}", json={})).status_code == 404  # fmt: skip

    samples = await scrape(metrics_client)
    assert events(samples, "postmark") == {
        "accepted": 1,
        "duplicate": 1,
        "unmatched": 0,
        "refused": 1,
    }
    assert not any(dict(labels).get("source") == "nobody" for _, labels in samples)
    route = "/webhooks/{provider}/{organization}"
    requests = "campaign_graph_http_requests_total"
    assert value(samples, requests, method="POST", route=route, status="200") == 2
    assert value(samples, requests, method="POST", route=route, status="401") == 1
    assert value(samples, requests, method="POST", route=route, status="404") == 1
    # Never a raw path: the organization's name is in no label.
    assert not any(organization.name in str(labels) for _, labels in samples)


async def test_tracking_and_manual_responses_are_counted(
    metrics_client, database, organization
) -> None:
    campaign_id = await make_campaign(metrics_client, organization, "spring")
    await post_events(metrics_client, organization, [event("SENT", "ann@example.com", id="a")])
    recipients, _ = await ids(database, organization, "spring")
    pixel = make_token(TRACKING_SECRET, OPEN, organization.id, recipients["ann@example.com"])
    forged = make_token("not the secret", OPEN, organization.id, recipients["ann@example.com"])
    for token in (pixel, pixel, forged):
        assert (await metrics_client.get(f"/t/o/{token}.gif")).status_code == 200
    record = """mutation Record($input: RecordResponseInput!) {
      recordResponse(input: $input) { userErrors { code } } }"""
    recorded = await graphql(
        metrics_client, organization, record,
        {"input": {"campaignId": campaign_id, "email": "bob@example.com", "type": "OPENED",
                   "occurredAt": "2026-11-20T09:05:00Z"}},
    )  # fmt: skip
    assert recorded["data"]["recordResponse"]["userErrors"] == []

    samples = await scrape(metrics_client)
    # Every pixel request is an open of its own: two accepted, the forged token refused.
    assert events(samples, "tracking") == {
        "accepted": 2,
        "duplicate": 0,
        "unmatched": 0,
        "refused": 1,
    }
    assert events(samples, "manual")["accepted"] == 1
    requests = "campaign_graph_http_requests_total"
    assert value(samples, requests, method="GET", route="/t/o/{token}.gif", status="200") == 3


async def test_graphql_operations_are_counted_by_name_with_errors_by_code(
    metrics_client, organization
) -> None:
    await make_campaign(metrics_client, organization, "spring")  # anonymous mutation
    dashboard = 'query Dashboard { campaign(externalId: "spring") { stats { sent } } }'
    for _ in range(2):
        await graphql(metrics_client, organization, dashboard)
    # A viewer may not write: FORBIDDEN.
    upsert = """mutation Upsert { upsertCampaign(input: {externalId: "x", name: "X"}) {
      userErrors { code } } }"""
    body = await graphql(metrics_client, organization, upsert, role=Role.VIEWER, expect_errors=True)  # fmt: skip
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # A field that does not exist: a validation error, which has no code.
    body = await graphql(metrics_client, organization, "query Broken { nothing }", expect_errors=True)  # fmt: skip
    assert "extensions" not in body["errors"][0] or "code" not in body["errors"][0]["extensions"]

    samples = await scrape(metrics_client)
    operations = "campaign_graph_graphql_operations_total"
    errors = "campaign_graph_graphql_errors_total"
    assert value(samples, operations, operation="Dashboard", type="query") == 2
    assert value(samples, operations, operation="<anonymous>", type="mutation") == 1
    assert value(samples, operations, operation="Upsert", type="mutation") == 1
    assert value(samples, operations, operation="Broken", type="query") == 1
    assert value(samples, errors, operation="Upsert", type="mutation", code="FORBIDDEN") == 1
    assert value(samples, errors, operation="Broken", type="query", code="<none>") == 1
    assert value(samples, errors, operation="Dashboard", type="query", code="FORBIDDEN") == 0
    duration = "campaign_graph_graphql_operation_duration_seconds_count"
    assert value(samples, duration, operation="Dashboard", type="query") == 2
    requests = "campaign_graph_http_requests_total"
    assert value(samples, requests, method="POST", route="/graphql", status="200") == 5


async def test_operation_names_are_bounded(metrics_app) -> None:
    telemetry = metrics_app.state.telemetry
    labels = [telemetry.operation_label(f"Op{number}") for number in range(MAX_OPERATION_NAMES + 5)]
    assert labels[:MAX_OPERATION_NAMES] == [f"Op{n}" for n in range(MAX_OPERATION_NAMES)]
    assert labels[MAX_OPERATION_NAMES:] == ["<other>"] * 5
    assert telemetry.operation_label("Op3") == "Op3"  # a known name keeps its label


async def test_pool_use_is_read_at_scrape_time(metrics_client, database) -> None:
    samples = await scrape(metrics_client)
    # The engine's pool (app/database.py): none in use between requests but SQLite's writer's.
    kept = SQLITE_KEPT_CONNECTIONS if database.sqlite else 20
    writer = 1 if database.keeps_writer else 0
    assert value(samples, "campaign_graph_db_pool_size") == kept
    assert value(samples, "campaign_graph_db_pool_checked_out") == writer
    async with database.read(), database.read():
        samples = await scrape(metrics_client)
        writer = 1 if database.keeps_writer else 0  # a first read takes the writer's first
    assert value(samples, "campaign_graph_db_pool_checked_out") == writer + 2


async def test_live_subscriptions_are_a_gauge(metrics_app, metrics_client, organization, database):
    campaign_id = await make_campaign(metrics_client, organization, "spring")
    gauge = "campaign_graph_live_subscriptions"
    async with serving(metrics_app, database) as url:
        key = organization.keys[Role.VIEWER]
        async with subscribed(url, key, campaign_id) as first:
            await next_stats(first)
            async with subscribed(url, key, campaign_id) as second:
                await next_stats(second)
                assert value(await scrape(metrics_client), gauge) == 2
            # The second socket closed; its subscription ends as the server notices.
            for _ in range(100):
                if value(await scrape(metrics_client), gauge) == 1:
                    break
                await asyncio.sleep(0.02)
            assert value(await scrape(metrics_client), gauge) == 1


async def test_each_app_counts_its_own_traffic(database, database_url, organization) -> None:
    settings = Settings(database_url=database_url, metrics_token=TOKEN)
    # Many apps in one process: no registration clash, no shared counter.
    apps = [create_app(settings, database) for _ in range(20)]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        for app in apps[:2]
    ]
    try:
        await post_events(clients[0], organization, [event("SENT", "ann@example.com")])
        first, second = await scrape(clients[0]), await scrape(clients[1])
    finally:
        for client in clients:
            await client.aclose()
    route = {"method": "POST", "route": "/events"}
    assert value(first, "campaign_graph_http_requests_total", status="200", **route) == 1
    assert value(second, "campaign_graph_http_requests_total", status="200", **route) == 0
    # ann's event has an unknown campaign: unmatched, in the first app only.
    assert events(first, "events")["unmatched"] == 1
    assert events(second, "events")["unmatched"] == 0
