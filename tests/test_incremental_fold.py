"""Ingest folds only each batch's new events into the recipient's stored summary
(app/ingest/fold_state.py). For random histories cut into random batches in random orders, with
replays, deletions and forgotten summaries (NULL, as migration 0008 leaves them) mixed in, the
aggregates, recipient states and stored summaries equal a recomputation from the history by the
full fold: `reconcile` (the oracle) finds nothing. `reconcile` also reports and repairs a stored
summary that drifted."""

import asyncio
import os
from datetime import UTC, datetime
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update

from app.database import Database
from app.ids import parse_pk
from app.ingest.apply import apply_events
from app.ingest.events import parse_events
from app.ingest.fold_state import EMPTY, loads
from app.ingest.manual import delete_responses
from app.main import create_app
from app.models import Contact, Recipient
from app.reconcile import Drift, reconcile
from app.settings import Settings
from tests.factories import event, make_campaign, make_organization

EXAMPLES = int(os.environ.get("CAMPAIGN_GRAPH_FOLD_PROPERTY_EXAMPLES", "15"))
LINKS = ["https://example.com/a", "https://example.com/b"]
CONTACTS = ["ann@example.com", "bob@example.com", "cy@example.org"]
KINDS = [
    "SENT", "SENT", "DELIVERED", "DELIVERED", "OPENED", "OPENED", "CLICKED", "CLICKED", "CLICKED",
    "BOUNCED", "DEFERRED", "DROPPED", "NOT_SENT", "COMPLAINED", "UNSUBSCRIBED", "PURCHASED", "LEAD",
]  # fmt: skip


@st.composite
def one_event(draw: Any, number: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    extra: dict[str, Any] = {"id": f"e{number}"}
    if draw(st.booleans()):
        extra["variant"] = draw(st.sampled_from(["A", "B"]))
    if kind in ("OPENED", "CLICKED"):
        extra["country"] = draw(st.sampled_from(["NL", "DE", None]))
        flag = draw(st.sampled_from([None, None, True, False]))
        if flag is not None:
            extra["machine" if kind == "OPENED" else "bot"] = flag
    if kind == "CLICKED":
        extra["url"] = draw(st.sampled_from(LINKS))
    if kind == "BOUNCED":
        extra["bounce"] = {"type": draw(st.sampled_from(["HARD", "SOFT"]))}
    if kind in ("DROPPED", "NOT_SENT"):
        extra["skipReason"] = draw(st.sampled_from(["UNSUBSCRIBED", "OTHER"]))
    if kind == "PURCHASED":
        extra["amount"] = draw(st.sampled_from(["5.00", "12.50"]))
    extra = {key: value for key, value in extra.items() if value is not None}
    # Seconds apart: equal instants and the click-burst window (10 s) both happen.
    seconds = draw(st.sampled_from([0, 0, 2, 4, 9, 15, 120]))
    return event(kind, draw(st.sampled_from(CONTACTS)), minutes=seconds / 60, **extra)


@st.composite
def scenarios(draw: Any) -> list[tuple[str, Any]]:
    """Steps: ("batch", events) in a random order and cut, with ("replay", events),
    ("delete", email) and ("forget", None) mixed in."""
    events = [draw(one_event(number)) for number in range(draw(st.integers(1, 14)))]
    events = draw(st.permutations(events))
    cuts = sorted(draw(st.lists(st.integers(0, len(events)), max_size=4)))
    edges = [0, *cuts, len(events)]
    steps: list[tuple[str, Any]] = []
    sent: list[list[dict[str, Any]]] = []
    for start, end in zip(edges, edges[1:], strict=False):
        batch = events[start:end]
        if batch:
            steps.append(("batch", batch))
            sent.append(batch)
        extra = draw(st.sampled_from(["", "", "replay", "delete", "forget"]))
        if extra == "replay" and sent:
            steps.append(("replay", draw(st.sampled_from(sent))))
        elif extra == "delete":
            steps.append(("delete", draw(st.sampled_from(CONTACTS))))
        elif extra == "forget":
            steps.append(("forget", None))
    return steps


async def apply(database: Database, organization_id: int, events: list[dict[str, Any]]) -> int:
    parsed, problems = parse_events(events, datetime.now(UTC))
    assert not problems, problems
    async with database.write() as connection:
        result = await apply_events(connection, organization_id, parsed)
    return result.accepted


async def run(database_url: str, steps: list[tuple[str, Any]]) -> None:
    database = Database.from_url(database_url)
    try:
        app = create_app(Settings(database_url=database_url), database)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            organization = await make_organization(database)
            links = [{"url": url} for url in LINKS]
            pk = parse_pk(
                await make_campaign(client, organization, "spring", links=links), "Campaign"
            )
            assert pk is not None
        seen: set[str] = set()
        for kind, value in steps:
            if kind == "batch":
                assert await apply(database, organization.id, value) == len(value)
                seen |= {e["id"] for e in value}
            elif kind == "replay":
                assert await apply(database, organization.id, value) == 0  # no-ops
            elif kind == "forget":
                async with database.write() as connection:
                    await connection.execute(
                        update(Recipient).where(Recipient.campaign_id == pk).values(fold=None)
                    )
            else:
                async with database.write() as connection:
                    contact_id = (
                        await connection.execute(
                            select(Contact.id).where(
                                Contact.organization_id == organization.id, Contact.email == value
                            )
                        )
                    ).scalar_one_or_none()
                    if contact_id is not None and await _is_recipient(connection, pk, contact_id):
                        await delete_responses(
                            connection, organization.id, pk, contact_id, deleted_by="test"
                        )
        async with database.read() as connection:
            assert await reconcile(connection, pk) == []
            # Summaries were stored (not left to reconcile's NULL "fold it later") unless the last
            # step forgot them.
            stored = (
                await connection.execute(
                    select(func.count())
                    .select_from(Recipient)
                    .where(Recipient.campaign_id == pk, Recipient.fold.is_not(None))
                )
            ).scalar_one()
            if steps and steps[-1][0] == "batch":
                assert stored >= 1
    finally:
        await database.dispose()


async def _is_recipient(connection: Any, campaign_id: int, contact_id: int) -> bool:
    found = await connection.execute(
        select(Recipient.id).where(
            Recipient.campaign_id == campaign_id, Recipient.contact_id == contact_id
        )
    )
    return found.first() is not None


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=scenarios())
def test_incremental_fold_equals_the_full_fold(
    database_url: str, steps: list[tuple[str, Any]]
) -> None:
    asyncio.run(run(database_url, steps))


async def test_reconcile_reports_and_repairs_a_drifted_summary(app, database, organization):
    """ann opened twice and clicked; her stored summary is overwritten with an empty one (as a bug
    might): reconcile names it, repairs it, and the next event is folded onto the right one."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        pk = parse_pk(
            await make_campaign(client, organization, "fall", links=[{"url": LINKS[0]}]), "Campaign"
        )
    assert pk is not None
    events = [
        event("OPENED", "ann@example.com", "fall", minutes=1, id="f1", machine=False),
        event("OPENED", "ann@example.com", "fall", minutes=2, id="f2", machine=False),
        event("CLICKED", "ann@example.com", "fall", minutes=3, id="f3", url=LINKS[0], bot=False),
    ]
    assert await apply(database, organization.id, events) == 3
    async with database.write() as connection:
        rid, good = (
            await connection.execute(
                select(Recipient.id, Recipient.fold).where(Recipient.campaign_id == pk)
            )
        ).one()
        summary = loads(good)
        assert summary is not None
        assert summary.counts == {"OPENED": 2, "CLICKED": 1}
        await connection.execute(
            text("UPDATE recipients SET fold = :f WHERE id = :id"), {"f": EMPTY, "id": rid}
        )
    async with database.read() as connection:
        assert await reconcile(connection, pk) == [Drift("recipients", (rid,), "fold", EMPTY, good)]
    async with database.write() as connection:
        assert len(await reconcile(connection, pk, repair=True)) == 1
    async with database.read() as connection:
        assert await reconcile(connection, pk) == []
    more = [event("OPENED", "ann@example.com", "fall", minutes=4, id="f4", machine=False)]
    assert await apply(database, organization.id, more) == 1
    async with database.read() as connection:
        assert await reconcile(connection, pk) == []
        stored = (
            await connection.execute(select(Recipient.fold).where(Recipient.id == rid))
        ).scalar_one()
    state = loads(stored)
    assert state is not None and state.counts == {"OPENED": 3, "CLICKED": 1}
    assert len(state.links) == 1 and state.first_click is not None
