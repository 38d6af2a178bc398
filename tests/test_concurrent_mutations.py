"""addRecipients and POST /events at once on one organization: every request succeeds.

Every write of an organization takes its data-versions row last in its transaction, so on
PostgreSQL concurrent writers of one organization wait on each other; a deadlock or serialization
failure that PostgreSQL still reports runs the write again (as for POST /events), never a 500.
The numbers below are counted by hand from the scenario.
"""

import asyncio
import random
from typing import Any

from sqlalchemy import select

from app.models import Contact
from tests.factories import ADD_RECIPIENTS, event, graphql, make_campaign, post_events

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
