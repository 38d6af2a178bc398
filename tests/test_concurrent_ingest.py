"""Several writers at once: concurrent batches for the same campaign and the same recipients, with
overlapping events in different orders, commit without a deadlock escaping and without a lost
update. Every event is stored once, and the statistics, recipient states and stored summaries
equal a recomputation from the history (`reconcile` finds nothing)."""

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select, text

from app.database import Database
from app.ids import parse_pk
from app.ingest.apply import IngestResult, apply_events
from app.ingest.events import parse_events
from app.models import Response
from app.reconcile import reconcile
from tests.factories import event, make_campaign

WRITERS = 8
CONTACTS = [f"person{n}@example.com" for n in range(12)]
LINKS = ["https://example.com/a", "https://example.com/b", "https://example.com/c"]


def events_of(writer: int) -> list[dict[str, Any]]:
    """A writer's batch: 20 events shared by every writer (replays for all but the first to
    commit) and 20 of its own, over the same twelve recipients, in a shuffled order."""
    rng = random.Random(writer)
    shared = [
        event(
            kind,
            CONTACTS[n % len(CONTACTS)],
            "busy",
            minutes=n % 7,
            id=f"shared-{n}",
            **({"url": LINKS[n % 3], "bot": False} if kind == "CLICKED" else {}),
        )
        for n, kind in enumerate(["SENT", "DELIVERED", "OPENED", "CLICKED"] * 5)
    ]
    own = [
        event(
            kind,
            rng.choice(CONTACTS),
            "busy",
            minutes=rng.randint(0, 30),
            id=f"own-{writer}-{n}",
            **({"url": rng.choice(LINKS)} if kind == "CLICKED" else {}),
        )
        for n, kind in enumerate(rng.choices(["OPENED", "CLICKED", "DELIVERED"], k=20))
    ]
    batch = shared + own
    rng.shuffle(batch)
    return batch


async def deadlocks(database: Database) -> int:
    """Deadlocks PostgreSQL detected in this database so far (0 on SQLite: one writer)."""
    if database.sqlite:
        return 0
    async with database.read() as connection:
        await connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        found = await connection.execute(
            text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        )
        return int(found.scalar_one())


async def test_concurrent_overlapping_batches_lose_nothing(app, database, organization):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        global_id = await make_campaign(
            client, organization, "busy", links=[{"url": u} for u in LINKS]
        )
    campaign_id = parse_pk(global_id, "Campaign")
    assert campaign_id is not None

    async def write(writer: int) -> IngestResult:
        parsed, problems = parse_events(events_of(writer), datetime.now(UTC))
        assert not problems
        return await database.retrying_write(
            lambda connection: apply_events(connection, organization.id, parsed)
        )

    deadlocks_before = await deadlocks(database)
    results = await asyncio.gather(*(write(writer) for writer in range(WRITERS)))
    # Rows are locked in one order (recipients by id, then aggregate rows by key), so PostgreSQL
    # never had to break a deadlock (retrying_write would have hidden one).
    assert await deadlocks(database) == deadlocks_before

    # 20 shared events stored once, 20 of each writer's own.
    assert sum(result.accepted for result in results) == 20 + 20 * WRITERS
    assert sum(result.duplicates for result in results) == 20 * (WRITERS - 1)
    async with database.read() as connection:
        stored = await connection.execute(
            select(func.count()).select_from(Response).where(Response.campaign_id == campaign_id)
        )
        assert stored.scalar_one() == 20 + 20 * WRITERS
        assert await reconcile(connection, campaign_id) == []
