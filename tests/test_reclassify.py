"""`reclassify`: after a change of rules, the stored history's statistics equal those of the same
events ingested under the new rules, `reconcile` finds no drift, and a second run moves nothing."""

import asyncio
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app import cli
from app.database import Database
from app.ids import parse_pk
from app.ingest import automation
from app.main import create_app
from app.models import Response
from app.reclassify import reclassify
from app.reconcile import reconcile
from app.settings import Settings
from tests.factories import (
    Organization,
    event,
    graphql,
    make_campaign,
    make_organization,
    post_events,
)

LINKS = ["https://example.com/a", "https://example.com/b"]
CONTACTS = ["ann@example.com", "bob@example.com", "cy@example.org"]
OUTLOOK = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36 Edg/119.0"
IPHONE_MAIL = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
# A gateway the rules do not know yet, and one they know.
NEW_SCANNER = "Mozilla/5.0 (compatible; Perception Point URL check)"
AGENTS = [OUTLOOK, IPHONE_MAIL, "Mozilla/5.0", "Mimecast URL Protect", NEW_SCANNER, None]
# A person's address, Apple's network, and a network the rules do not count as a proxy yet.
IPS = ["203.0.113.7", "17.58.1.1", "198.51.100.9", None]
STATS = """stats { opens clicks opened clicked machineOpens botClicks }
           human: stats(humanOnly: true) { opens clicks opened clicked }
           links { url clicks clicked }"""


# --- Rule changes, as an operator's release would make them ----------------------------------


def _patch(name: str, value: Any) -> Iterator[None]:
    old = getattr(automation, name)
    setattr(automation, name, value)
    automation.is_scanner_agent.cache_clear()
    automation.is_apple_privacy_proxy.cache_clear()
    try:
        yield
    finally:
        setattr(automation, name, old)
        automation.is_scanner_agent.cache_clear()
        automation.is_apple_privacy_proxy.cache_clear()


@contextmanager
def new_scanner_agent() -> Iterator[None]:
    pattern = re.compile(automation.SCANNER_AGENTS.pattern + "|perception point", re.IGNORECASE)
    yield from _patch("SCANNER_AGENTS", pattern)


@contextmanager
def mimecast_dropped() -> Iterator[None]:
    pattern = re.compile(automation.SCANNER_AGENTS.pattern.replace("|mimecast", ""), re.I)
    yield from _patch("SCANNER_AGENTS", pattern)


@contextmanager
def new_proxy_range() -> Iterator[None]:
    from ipaddress import ip_network

    networks = (*automation.APPLE_NETWORKS, ip_network("198.51.100.0/24"))
    yield from _patch("APPLE_NETWORKS", networks)


@contextmanager
def wider_burst_window() -> Iterator[None]:
    yield from _patch("SCANNER_WINDOW", timedelta(seconds=40))


RULE_CHANGES = {
    "new scanner agent": new_scanner_agent,
    "scanner agent dropped": mimecast_dropped,
    "new proxy range": new_proxy_range,
    "wider click burst": wider_burst_window,
}


# --- Histories -----------------------------------------------------------------------------


@st.composite
def histories(draw: Any) -> list[dict[str, Any]]:
    events = []
    for number in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(["SENT", "DELIVERED", "OPENED", "CLICKED", "CLICKED"]))
        extra: dict[str, Any] = {"id": f"e{number}"}
        if kind in ("OPENED", "CLICKED"):
            extra["userAgent"] = draw(st.sampled_from(AGENTS))
            extra["ip"] = draw(st.sampled_from(IPS))
            flag = draw(st.sampled_from([None, None, None, True, False]))
            if flag is not None:
                extra["machine" if kind == "OPENED" else "bot"] = flag
        if kind == "CLICKED":
            extra["url"] = draw(st.sampled_from(LINKS))
        extra = {key: value for key, value in extra.items() if value is not None}
        seconds = draw(st.integers(0, 60))
        events.append(event(kind, draw(st.sampled_from(CONTACTS)), minutes=seconds / 60, **extra))
    return events


# --- What is compared ----------------------------------------------------------------------


async def campaign_pk(client: httpx.AsyncClient, organization: Organization) -> int:
    body = await graphql(client, organization, '{ campaign(externalId: "spring") { id } }')
    pk = parse_pk(body["data"]["campaign"]["id"], "Campaign")
    assert pk is not None
    return pk


async def served(client: httpx.AsyncClient, organization: Organization) -> dict[str, Any]:
    body = await graphql(
        client,
        organization,
        f"""{{ campaign(externalId: "spring") {{ {STATS}
              recipients(first: 10) {{ edges {{ node {{ contact {{ email }} opens clicks status }} }} }}
        }} }}""",
    )
    campaign = body["data"]["campaign"]
    edges = campaign.pop("recipients")["edges"]
    campaign["recipients"] = sorted(
        (
            e["node"]["contact"]["email"],
            e["node"]["opens"],
            e["node"]["clicks"],
            e["node"]["status"],
        )
        for e in edges
    )
    campaign["links"] = sorted(
        (link["url"], link["clicks"], link["clicked"]) for link in campaign["links"]
    )
    return campaign


async def reasons(database: Database, organization: Organization) -> dict[str, tuple[str, str]]:
    """Each open's and click's (type, reason or "human"), by the event's id."""
    async with database.read() as connection:
        rows = await connection.execute(
            select(Response.event_key, Response.type, Response.classified_by).where(
                Response.organization_id == organization.id,
                Response.type.in_(["OPENED", "CLICKED"]),
            )
        )
        return {row.event_key: (row.type, row.classified_by or "human") for row in rows}


async def ingest(
    client: httpx.AsyncClient, database: Database, events: list[dict[str, Any]]
) -> Organization:
    organization = await make_organization(database)
    await make_campaign(client, organization, "spring", links=[{"url": url} for url in LINKS])
    response = await post_events(client, organization, events)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(events)
    return organization


async def check(database_url: str, events: list[dict[str, Any]], change: str) -> None:
    database = Database.from_url(database_url)
    try:
        app = create_app(Settings(database_url=database_url), database)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            stored = await ingest(client, database, events)  # under the old rules
            before = await reasons(database, stored)
            pk = await campaign_pk(client, stored)
            with RULE_CHANGES[change]():
                dry = await reclassify(database, pk, dry_run=True)
                report = await reclassify(database, pk)
                fresh = await ingest(client, database, events)  # under the new rules
                again = await reclassify(database, pk)
            # The recomputation: the same events ingested under the new rules.
            assert await served(client, stored) == await served(client, fresh)
            after = await reasons(database, stored)
            assert after == await reasons(database, fresh)
            async with database.read() as connection:
                assert await reconcile(connection, pk) == []
            # What moved, per open and click, from its reason before to its reason after.
            moved = Counter(
                (kind, before[key][1], after[key][1])
                for key, (kind, _) in after.items()
                if before[key] != after[key]
            )
            assert report.moved == moved
            assert dry.moved == moved and dry.restamped == report.restamped
            # Running it twice changes nothing.
            assert again.moved == Counter() and again.restamped == 0
    finally:
        await database.dispose()


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=histories(), change=st.sampled_from(sorted(RULE_CHANGES)))
def test_reclassify_equals_ingest_under_the_new_rules(
    database_url: str, events: list[dict[str, Any]], change: str
) -> None:
    asyncio.run(check(database_url, events, change))


# --- The command, and rows stored before rule versions --------------------------------------


async def _prepare(database_url: str, events: list[dict[str, Any]]) -> None:
    database = Database.from_url(database_url)
    try:
        app = create_app(Settings(database_url=database_url), database)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await ingest(client, database, events)
    finally:
        await database.dispose()


async def _machine_counts(database_url: str) -> tuple[int, int]:
    database = Database.from_url(database_url)
    try:
        async with database.read() as connection:
            rows = (
                await connection.execute(select(Response.type, Response.machine, Response.bot))
            ).all()
    finally:
        await database.dispose()
    return (
        sum(1 for kind, machine, _ in rows if kind == "OPENED" and machine),
        sum(1 for kind, _, bot in rows if kind == "CLICKED" and bot),
    )


def moved_row(out: str, direction: str, reason: str, opens: int, clicks: int) -> bool:
    return re.search(rf"{direction}\s*│\s*{reason}\s*│\s*{opens}\s*│\s*{clicks}\b", out) is not None


@pytest.mark.fresh_database
def test_the_command_prints_what_moves_and_dry_run_writes_nothing(
    database_url, monkeypatch, capsys
):
    events = [
        event("OPENED", "ann@example.com", userAgent=IPHONE_MAIL, ip="198.51.100.9", id="o1"),
        event("OPENED", "ann@example.com", userAgent=IPHONE_MAIL, ip="17.58.1.1", id="o2"),
        event("CLICKED", "bob@example.com", userAgent=NEW_SCANNER, url=LINKS[0], id="c1"),
        event(
            "CLICKED", "bob@example.com", userAgent="Mimecast URL Protect", url=LINKS[0], id="c2"
        ),
    ]
    monkeypatch.setenv("DATABASE_URL", database_url)
    asyncio.run(_prepare(database_url, events))
    # Old rules: o2 is Apple's proxy, c2 Mimecast's scanner.
    assert asyncio.run(_machine_counts(database_url)) == (1, 1)
    with new_proxy_range(), new_scanner_agent(), mimecast_dropped():
        cli.main(["reclassify", "--dry-run"])
        out = capsys.readouterr().out
        # o1 now falls in the new proxy range, c1 is the new scanner's, c2 counts as a person's.
        assert moved_row(out, "to automated", "PRIVACY_PROXY", 1, 0)
        assert moved_row(out, "to automated", "SCANNER_AGENT", 0, 1)
        assert moved_row(out, "back to human", "SCANNER_AGENT", 0, 1)
        assert "4 open(s) and click(s) read, 3 response(s) to restamp" in out
        assert "dry run: nothing written" in out
        assert asyncio.run(_machine_counts(database_url)) == (1, 1)

        cli.main(["reclassify", "--campaign", "spring"])
        out = capsys.readouterr().out
        assert moved_row(out, "to automated", "PRIVACY_PROXY", 1, 0)
        assert "3 response(s) restamped, 2 recipient(s) refolded" in out
        assert asyncio.run(_machine_counts(database_url)) == (2, 1)

        cli.main(["reclassify"])
        assert "nothing moved" in capsys.readouterr().out
    cli.main(["reconcile"])
    assert "no drift" in capsys.readouterr().out


@pytest.mark.fresh_database
def test_the_command_refuses_an_unknown_campaign(database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["reclassify", "--campaign", "nowhere"])
    assert exit_info.value.code == 1
    assert "no campaign 'nowhere'" in capsys.readouterr().err


@pytest.mark.fresh_database
def test_rows_from_before_rule_versions_get_their_reason_inferred(
    database_url, monkeypatch, capsys
):
    from alembic import command

    from app.migrate import alembic_config

    events = [
        event("OPENED", "ann@example.com", userAgent="Mozilla/5.0", ip="17.58.1.1", id="mpp"),
        event("OPENED", "ann@example.com", userAgent=IPHONE_MAIL, machine=True, id="said"),
        event("OPENED", "bob@example.com", userAgent="Mozilla/5.0", machine=False, id="person"),
        event("CLICKED", "bob@example.com", userAgent=OUTLOOK, url=LINKS[0], id="click"),
    ]
    monkeypatch.setenv("DATABASE_URL", database_url)
    asyncio.run(_prepare(database_url, events))
    # Back to 0004 and up again: the rows keep only their combined flags, as old rows do.
    config = alembic_config(database_url)
    command.downgrade(config, "0004")
    command.upgrade(config, "head")

    async def columns() -> dict[str, tuple[Any, ...]]:
        database = Database.from_url(database_url)
        try:
            async with database.read() as connection:
                rows = await connection.execute(
                    select(
                        Response.event_key,
                        Response.classified_by,
                        Response.reported,
                        Response.rule_version,
                    )
                )
                return {row[0].removeprefix("canonical:"): tuple(row[1:]) for row in rows}
        finally:
            await database.dispose()

    assert asyncio.run(columns()) == {
        "mpp": ("REPORTED", None, None),
        "said": ("REPORTED", None, None),
        "person": (None, None, None),
        "click": (None, None, None),
    }
    cli.main(["reclassify"])
    out = capsys.readouterr().out
    # Nothing moves between a person's and set aside; the Apple open gets its real reason.
    assert "to automated" not in out and "back to human" not in out
    assert re.search(r"from REPORTED\s*│\s*PRIVACY_PROXY\s*│\s*1\s*│\s*0", out)
    version = automation.RULE_VERSION
    assert asyncio.run(columns()) == {
        "mpp": ("PRIVACY_PROXY", None, version),
        "said": ("REPORTED", True, version),
        "person": (None, False, version),
        "click": (None, None, version),
    }
    cli.main(["reconcile"])
    assert "no drift" in capsys.readouterr().out
