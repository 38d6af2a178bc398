"""addRecipients and POST /events at once on one organization: every request succeeds.

Every write of an organization takes its data-versions row last in its transaction, so on
PostgreSQL concurrent writers of one organization wait on each other; addRecipients writes
contacts in email order as ingest does (in the caller's order they deadlocked). A deadlock or
serialization failure that PostgreSQL still reports runs the mutation's transaction again (as for
POST /events), never a 500: shown by failing one transaction the way asyncpg reports a deadlock.
The numbers below are counted by hand from the scenario.
"""

import asyncio
import random
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app import versions
from app.models import Contact
from tests.factories import (
    ADD_RECIPIENTS,
    UPSERT_CAMPAIGN,
    add_recipients,
    event,
    graphql,
    make_campaign,
    post_events,
)

CONTACTS = 20
# person0..person3 bounced hard in an earlier campaign: added again, they are NOT_SENT.
SUPPRESSED = range(4)
TASKS = 10  # of each kind: 20 requests at once

STATS = """
query { campaign(externalId: "spring") { stats { recipients sent delivered notSent } } }
"""


def email(n: int) -> str:
    return f"person{n}@example.com"


def contacts_of(task: int) -> list[dict[str, Any]]:
    """Every contact, renamed, in an order of the task's own."""
    order = list(range(CONTACTS))
    random.Random(task).shuffle(order)
    return [{"email": email(n), "name": f"Person {n}"} for n in order]


def events_of(task: int) -> list[dict[str, Any]]:
    """A send to each contact not suppressed, a delivery to the even ones; shuffled."""
    events = []
    for n in range(len(SUPPRESSED), CONTACTS):
        events.append(event("SENT", email(n), id=f"sent-{n}"))
        if n % 2 == 0:
            events.append(event("DELIVERED", email(n), minutes=1, id=f"delivered-{n}"))
    random.Random(100 + task).shuffle(events)
    return events


async def test_concurrent_add_recipients_and_posted_events_all_succeed(
    client, database, organization
) -> None:
    await make_campaign(client, organization, "first")
    bounces = []
    for n in SUPPRESSED:
        bounces.append(event("SENT", email(n), "first", id=f"first-sent-{n}"))
        bounces.append(
            event("BOUNCED", email(n), "first", 1, id=f"first-bounce-{n}", bounce={"type": "HARD"})
        )
    assert (await post_events(client, organization, bounces)).json()["accepted"] == 8
    campaign_id = await make_campaign(client, organization, "spring")

    async def adder(task: int) -> Any:
        variables = {"input": {"campaignId": campaign_id, "contacts": contacts_of(task)}}
        return await client.post(
            "/graphql",
            json={"query": ADD_RECIPIENTS, "variables": variables},
            headers=organization.headers(),
        )

    async def poster(task: int) -> Any:
        return await post_events(client, organization, events_of(task))

    answers = await asyncio.gather(
        *(adder(task) for task in range(TASKS)), *(poster(task) for task in range(TASKS))
    )

    assert [a.status_code for a in answers] == [200] * (2 * TASKS), [
        a.text for a in answers if a.status_code != 200
    ]
    added = [a.json() for a in answers[:TASKS]]
    assert all("errors" not in body for body in added), added
    results = [body["data"]["addRecipients"] for body in added]
    assert all(result["userErrors"] == [] for result in results), results
    # Each call named the 20 contacts once: each one added or found already there.
    assert all(result["added"] + result["skipped"] == CONTACTS for result in results)
    # The 4 suppressed contacts become recipients only through addRecipients.
    assert len(SUPPRESSED) <= sum(result["added"] for result in results) <= CONTACTS
    # 16 sends and 8 deliveries (persons 4, 6, ..., 18), each stored once.
    posted = [a.json() for a in answers[TASKS:]]
    assert sum(body["accepted"] for body in posted) == 16 + 8
    assert sum(body["duplicates"] for body in posted) == TASKS * 24 - 24

    body = await graphql(client, organization, STATS)
    assert body["data"]["campaign"]["stats"] == {
        "recipients": 20,
        "sent": 16,
        "delivered": 8,
        "notSent": 4,
    }
    async with database.read() as connection:
        rows = await connection.execute(
            select(Contact.email, Contact.name).where(Contact.organization_id == organization.id)
        )
        names = {row.email: row.name for row in rows}
    assert names == {email(n): f"Person {n}" for n in range(CONTACTS)}


class Deadlock(Exception):
    """Raised by the driver as asyncpg raises PostgreSQL's deadlock_detected."""

    sqlstate = "40P01"


class OneDeadlock:
    """Once armed, the next data-versions bump (a write's last statement) fails like a deadlock:
    PostgreSQL has rolled the transaction back, and the caller must run it again."""

    def __init__(self) -> None:
        self.armed = False
        self.bumps = 0
        self.failed = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = versions.bump

        async def bump(connection: Any, *args: Any, **kwargs: Any) -> None:
            self.bumps += 1
            if self.armed:
                self.armed = False
                self.failed += 1
                raise DBAPIError("UPDATE data_versions", None, Deadlock("deadlock detected"))
            await original(connection, *args, **kwargs)

        monkeypatch.setattr(versions, "bump", bump)


async def test_a_deadlocked_add_recipients_runs_again_and_adds_once(
    client, database, organization, monkeypatch
) -> None:
    await make_campaign(client, organization, "first")
    bounced = [
        event("SENT", email(0), "first", id="first-sent"),
        event("BOUNCED", email(0), "first", 1, id="first-bounce", bounce={"type": "HARD"}),
    ]
    assert (await post_events(client, organization, bounced)).json()["accepted"] == 2
    campaign_id = await make_campaign(client, organization, "spring")
    deadlock = OneDeadlock()
    deadlock.install(monkeypatch)
    deadlock.armed = True

    contacts = [{"email": email(n), "name": f"Person {n}"} for n in range(3)]
    result = await add_recipients(client, organization, campaign_id, contacts)

    assert deadlock.failed == 1 and deadlock.bumps >= 2  # the failed try, then the one kept
    assert result == {"added": 3, "skipped": 0, "userErrors": []}
    body = await graphql(client, organization, STATS)
    # person0 bounced hard before: recorded NOT_SENT once; the others wait to be sent.
    assert body["data"]["campaign"]["stats"] == {
        "recipients": 3,
        "sent": 0,
        "delivered": 0,
        "notSent": 1,
    }
    async with database.read() as connection:
        rows = await connection.execute(
            select(Contact.email, Contact.name).where(Contact.organization_id == organization.id)
        )
        names = {row.email: row.name for row in rows}
    assert names == {email(n): f"Person {n}" for n in range(3)}


async def test_a_deadlocked_upsert_campaign_runs_again(client, organization, monkeypatch) -> None:
    deadlock = OneDeadlock()
    deadlock.install(monkeypatch)
    deadlock.armed = True
    input = {"externalId": "summer", "name": "Summer", "cost": "12.50"}

    body = await graphql(client, organization, UPSERT_CAMPAIGN, {"input": input})

    assert deadlock.failed == 1 and deadlock.bumps == 2
    payload = body["data"]["upsertCampaign"]
    assert payload["userErrors"] == []
    assert (payload["campaign"]["externalId"], payload["campaign"]["name"]) == ("summer", "Summer")
    listed = await graphql(
        client, organization, 'query { campaign(externalId: "summer") { name cost } }'
    )
    assert listed["data"]["campaign"] == {"name": "Summer", "cost": "12.50"}
