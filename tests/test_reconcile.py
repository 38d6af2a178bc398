"""`reconcile` recomputes every aggregate from the history, reports drift and repairs it."""

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from app import cli
from app.database import Database
from app.ids import parse_pk
from app.main import create_app
from app.reconcile import Drift, reconcile
from app.settings import Settings
from tests.factories import (
    Organization,
    event,
    graphql,
    make_campaign,
    make_organization,
    post_events,
)

LINK = "https://example.com/a"
STATS = 'query { campaign(externalId: "spring") { stats { opened opens clicks } } }'
# 09:00-09:15 UTC on the day of tests.factories.BASE_TIME
FIRST_BUCKET = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def fill(client: httpx.AsyncClient, organization: Organization) -> int:
    """A campaign with two openers and a click; its primary key."""
    campaign_id = await make_campaign(client, organization, "spring", links=[{"url": LINK}])
    events = [
        event("SENT", "ann@example.com", id="1"),
        event("OPENED", "ann@example.com", minutes=2, id="2", machine=False),
        event("OPENED", "ann@example.com", minutes=3, id="3", machine=False),
        event("SENT", "bob@example.com", id="4"),
        event("CLICKED", "bob@example.com", minutes=5, id="5", url=LINK, bot=False),
    ]
    response = await post_events(client, organization, events)
    assert response.json()["accepted"] == 5
    pk = parse_pk(campaign_id, "Campaign")
    assert pk is not None
    return pk


async def tamper(database: Database, campaign_id: int) -> None:
    """Change two aggregate rows by hand, as a bug or a stray script might."""
    async with database.write() as connection:
        await connection.execute(
            text("UPDATE campaign_stats SET opened = 7 WHERE campaign_id = :id"),
            {"id": campaign_id},
        )
        await connection.execute(
            text("UPDATE timeline_buckets SET opens = opens + 4 WHERE campaign_id = :id"),
            {"id": campaign_id},
        )


def expected_drift(campaign_id: int) -> list[Drift]:
    # ann and bob opened (a click proves an open); ann's two opens at 09:02 and 09:03 fall in
    # the first bucket, as does bob's click.
    return [
        Drift("campaign_stats", (campaign_id, 0, 0), "opened", 7, 2),
        Drift("timeline_buckets", (campaign_id, 0, FIRST_BUCKET), "opens", 6, 2),
    ]


@pytest.mark.fresh_database
async def test_a_healthy_database_has_no_drift(client, database, organization):
    campaign_id = await fill(client, organization)
    async with database.read() as connection:
        assert await reconcile(connection) == []
        assert await reconcile(connection, campaign_id) == []


@pytest.mark.fresh_database
async def test_drift_is_reported_and_repaired(client, database, organization):
    campaign_id = await fill(client, organization)
    await tamper(database, campaign_id)
    body = await graphql(client, organization, STATS)
    assert body["data"]["campaign"]["stats"]["opened"] == 7  # served as stored

    async with database.read() as connection:
        drifts = await reconcile(connection)
    assert sorted(drifts, key=lambda d: d.table) == expected_drift(campaign_id)

    async with database.write() as connection:
        repaired = await reconcile(connection, campaign_id, repair=True)
    assert sorted(repaired, key=lambda d: d.table) == expected_drift(campaign_id)

    async with database.read() as connection:
        assert await reconcile(connection) == []
    body = await graphql(client, organization, STATS)
    assert body["data"]["campaign"]["stats"] == {"opened": 2, "opens": 2, "clicks": 1}


async def test_reconcile_of_one_campaign_leaves_the_others_alone(client, database, organization):
    campaign_id = await fill(client, organization)
    other = await make_campaign(client, organization, "autumn")
    other_id = parse_pk(other, "Campaign")
    await tamper(database, campaign_id)
    async with database.read() as connection:
        assert await reconcile(connection, other_id) == []
        assert len(await reconcile(connection, campaign_id)) == 2


@pytest.mark.fresh_database
def test_the_command_reports_drift_and_repairs_it(database_url, monkeypatch, capsys):
    """`campaign-graph reconcile`: exit 0 when healthy, 2 on drift, and --repair fixes it."""

    async def prepare() -> int:
        database = Database.from_url(database_url)
        try:
            app = create_app(Settings(database_url=database_url), database)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                organization = await make_organization(database)
                campaign_id = await fill(client, organization)
            return campaign_id
        finally:
            await database.dispose()

    async def tamper_with(campaign_id: int) -> None:
        database = Database.from_url(database_url)
        try:
            await tamper(database, campaign_id)
        finally:
            await database.dispose()

    monkeypatch.setenv("DATABASE_URL", database_url)
    campaign_id = asyncio.run(prepare())

    cli.main(["reconcile"])
    assert "no drift" in capsys.readouterr().out

    asyncio.run(tamper_with(campaign_id))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["reconcile", "--campaign", "spring"])
    assert exit_info.value.code == 2
    out = capsys.readouterr().out
    assert "campaign_stats" in out and "timeline_buckets" in out
    assert "2 drifting counter(s)" in out

    cli.main(["reconcile", "--repair"])
    assert "repaired" in capsys.readouterr().out
    cli.main(["reconcile"])
    assert "no drift" in capsys.readouterr().out


@pytest.mark.fresh_database
def test_the_command_refuses_an_unknown_campaign(database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["reconcile", "--campaign", "nowhere"])
    assert exit_info.value.code == 1
    assert "no campaign 'nowhere'" in capsys.readouterr().err
