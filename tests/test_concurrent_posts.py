"""16 clients posting overlapping event batches at once: each waits its turn, none is refused.

On SQLite the writers of one process queue on the app's write lock, and writers of another
process (a second app with an engine of its own on the same file) wait through BEGIN IMMEDIATE
and the busy timeout: no "database is locked". On PostgreSQL rows are locked in one order. Every
distinct event is stored once, and the statistics equal the ones counted by hand below.
"""

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.database import Database
from app.main import create_app
from app.models import Response
from app.settings import Settings
from tests.factories import event, graphql, make_campaign, post_events

CLIENTS = 16
CONTACTS = 20
# Contact n opens n % 3 times; contacts 4, 8 and 16 (openers all) also click once.
CLICKERS = {4, 8, 16}

STATS = """
query { campaign(externalId: "spring") {
  stats { recipients sent delivered opened opens clicked clicks }
} }
"""


def history() -> list[dict[str, Any]]:
    """Every distinct event of the scenario, each with its own id."""
    events = []
    for n in range(CONTACTS):
        email = f"person{n}@example.com"
        events.append(event("SENT", email, id=f"sent-{n}"))
        events.append(event("DELIVERED", email, minutes=1, id=f"delivered-{n}"))
        for number in range(n % 3):
            events.append(event("OPENED", email, minutes=30 + number, id=f"open-{n}-{number}"))
        if n in CLICKERS:
            events.append(
                event("CLICKED", email, minutes=60, url="https://example.com/a", id=f"click-{n}")
            )
    return events


def batches_of(client: int, events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Client `client`'s two batches: most of the events (every one is in several clients'
    batches), shuffled, so batches overlap in events and in recipients."""
    shuffle = random.Random(client)
    mine = [e for index, e in enumerate(events) if (index + client) % 4 != 0]
    shuffle.shuffle(mine)
    return [mine[: len(mine) // 2], mine[len(mine) // 2 :]]


@pytest.fixture
async def other_process(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A second app with an engine (and write lock) of its own, as another process has."""
    database = Database.from_url(database_url)
    app = create_app(Settings(database_url=database_url), database)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            yield client
    finally:
        await database.dispose()


async def test_sixteen_clients_posting_overlapping_batches_all_succeed(
    client, other_process, database, organization
) -> None:
    await make_campaign(client, organization, "spring")
    events = history()
    assert len(events) == 62  # 20 sent, 20 delivered, 7 x 1 + 6 x 2 opens, 3 clicks

    async def poster(number: int) -> list[httpx.Response]:
        # Half the clients through each app: two writers' queues on one database.
        http = client if number % 2 == 0 else other_process
        answers = []
        for batch in batches_of(number, events):
            answers.append(await post_events(http, organization, batch))
        return answers

    answers = [a for group in await asyncio.gather(*map(poster, range(CLIENTS))) for a in group]

    assert [a.status_code for a in answers] == [200] * (2 * CLIENTS), [
        a.text for a in answers if a.status_code != 200
    ]
    posted = sum(len(batch) for number in range(CLIENTS) for batch in batches_of(number, events))
    assert sum(a.json()["accepted"] for a in answers) == 62
    assert sum(a.json()["duplicates"] for a in answers) == posted - 62
    async with database.read() as connection:
        stored = await connection.execute(
            select(func.count())
            .select_from(Response)
            .where(Response.organization_id == organization.id)
        )
    assert stored.scalar() == 62
    body = await graphql(client, organization, STATS)
    assert body["data"]["campaign"]["stats"] == {
        "recipients": 20,
        "sent": 20,
        "delivered": 20,
        "opened": 13,  # contacts n with n % 3 != 0
        "opens": 19,  # 7 contacts open once (n % 3 == 1), 6 twice
        "clicked": 3,
        "clicks": 3,
    }
