"""POST /events: a batch is validated whole, applied whole or not at all, replays are no-ops."""

from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from app.enums import Role
from app.models import Contact, Recipient, Response, UnmatchedEvent
from tests.factories import UPSERT_CAMPAIGN, event, graphql, make_campaign, post_events

STATS = """
query($externalId: String!) {
  campaign(externalId: $externalId) { stats { recipients sent delivered opened clicks revenue } }
}
"""


async def stats(client: Any, organization: Any, external_id: str = "spring") -> dict[str, Any]:
    body = await graphql(client, organization, STATS, {"externalId": external_id})
    campaign = body["data"]["campaign"]
    return campaign["stats"] if campaign else {}


async def count(database: Any, model: Any) -> int:
    async with database.read() as connection:
        return int((await connection.execute(select(func.count()).select_from(model))).scalar())


@pytest.mark.fresh_database
async def test_every_bad_event_is_named_and_nothing_is_applied(client, database, organization):
    await make_campaign(client, organization, "spring")
    good = event("SENT", "ann@example.com", id="good")
    no_time = event("SENT", "bob@example.com")
    del no_time["occurredAt"]
    batch = [
        good,  # 0
        event("SHIPPED", "bob@example.com"),  # 1: not a ResponseType
        no_time,  # 2: no occurredAt
        {**event("SENT", "bob@example.com"), "occurredAt": "2026-11-20T09:00:00"},  # 3: no offset
        event("SENT", "bob@example.com", minutes=60 * 24 * 365 * 5),  # 4: five years ahead
        event("SENT", "bob@example.com", colour="blue"),  # 5: unknown field
        event("SENT", "not-an-email"),  # 6
        event("OPENED", "bob@example.com", amount="5.00"),  # 7: amount on an open
        event("PURCHASED", "bob@example.com", amount="12.345"),  # 8: three decimals
        event("PURCHASED", "bob@example.com", amount="-1.00"),  # 9: negative
        event("SENT", "bob@example.com", bounce={"type": "HARD"}),  # 10: bounce on SENT
        event("BOUNCED", "bob@example.com", bounce={"type": "MEDIUM"}),  # 11
        event("OPENED", "bob@example.com", url="https://example.com"),  # 12: url on an open
        event("SENT", "bob@example.com", campaign=""),  # 13: no campaign
        {**event("SENT", "bob@example.com"), "contact": {}},  # 14: no email, no externalId
        "SENT",  # 15: not an object
        event("OPENED", "bob@example.com", machine="yes"),  # 16
    ]
    response = await post_events(client, organization, batch)
    assert response.status_code == 400
    body = response.json()
    assert "nothing of the batch was applied" in body["error"]
    reasons = {problem["index"]: problem["reason"] for problem in body["problems"]}
    assert sorted(reasons) == list(range(1, len(batch)))
    expected_words = {
        1: "type",
        2: "occurredAt is required",
        3: "offset",
        4: "future",
        5: "colour",
        6: "not an email",
        7: "only for PURCHASED",
        8: "more than two decimals",
        9: "zero or more",
        10: "only for BOUNCED",
        11: "HARD or SOFT",
        12: "only for CLICKED",
        13: "campaign",
        14: "email or an externalId",
        15: "object",
        16: "true or false",
    }
    for index, words in expected_words.items():
        assert words in reasons[index], (index, reasons[index])

    # Nothing of the batch: not even the good event, and no contact was created.
    assert await stats(client, organization) == {
        "recipients": 0,
        "sent": 0,
        "delivered": 0,
        "opened": 0,
        "clicks": 0,
        "revenue": "0.00",
    }
    assert await count(database, Response) == 0
    assert await count(database, Contact) == 0
    # The good event alone is accepted afterwards: it was not stored as a duplicate.
    response = await post_events(client, organization, [good])
    assert response.json() == {"accepted": 1, "duplicates": 0, "unmatched": 0}


@pytest.mark.fresh_database
async def test_bodies_that_are_not_a_json_array_are_refused(client, database, organization):
    headers = organization.headers(Role.INTEGRATION)
    for body, content_type in [
        (b"this is not json", "application/json"),
        (b'{"type": "SENT"}', "application/json"),
        (b"", "application/json"),
        (b'{"type": "SENT"}\nnot json\n', "application/x-ndjson"),
    ]:
        response = await client.post(
            "/events", content=body, headers={**headers, "Content-Type": content_type}
        )
        assert response.status_code == 400, body
        assert response.json()["error"]
    assert await count(database, Response) == 0


async def test_an_empty_batch_is_fine(client, organization):
    response = await post_events(client, organization, [])
    assert response.status_code == 200
    assert response.json() == {"accepted": 0, "duplicates": 0, "unmatched": 0}


async def test_ndjson_is_one_event_a_line(client, organization):
    await make_campaign(client, organization, "spring")
    events = [
        event("SENT", "ann@example.com", id="1"),
        event("DELIVERED", "ann@example.com", minutes=1, id="2"),
        event("OPENED", "ann@example.com", minutes=2, id="3"),
        event("SENT", "bob@example.com", id="4"),
    ]
    body = b"\n".join(orjson.dumps(e) for e in events) + b"\n\n"  # blank lines are skipped
    response = await client.post(
        "/events",
        content=body,
        headers={
            **organization.headers(Role.INTEGRATION),
            "Content-Type": "application/x-ndjson",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 4, "duplicates": 0, "unmatched": 0}
    assert await stats(client, organization) == {
        "recipients": 2,
        "sent": 2,
        "delivered": 1,
        "opened": 1,
        "clicks": 0,
        "revenue": "0.00",
    }


async def test_duplicates_within_a_batch_and_across_batches(client, organization):
    await make_campaign(client, organization, "spring")
    purchase = event("PURCHASED", "ann@example.com", minutes=5, id="p1", amount="10.00")
    # Without an id, an event's dedupe key is a hash of its content.
    open_without_id = event("OPENED", "ann@example.com", minutes=2)
    batch = [purchase, purchase, open_without_id, open_without_id, purchase]
    response = await post_events(client, organization, batch)
    assert response.json() == {"accepted": 2, "duplicates": 3, "unmatched": 0}
    response = await post_events(client, organization, [purchase, open_without_id])
    assert response.json() == {"accepted": 0, "duplicates": 2, "unmatched": 0}
    # The same id with other content is still the same event: the first one counts.
    resent = {**purchase, "amount": "99.00"}
    response = await post_events(client, organization, [resent])
    assert response.json() == {"accepted": 0, "duplicates": 1, "unmatched": 0}
    assert await stats(client, organization) == {
        "recipients": 1,
        "sent": 1,  # the open proves delivery
        "delivered": 1,
        "opened": 1,
        "clicks": 0,
        "revenue": "10.00",
    }


@pytest.mark.fresh_database
async def test_events_of_an_unknown_campaign_wait_for_it(client, database, organization):
    events = [
        event("SENT", "ann@example.com", campaign="autumn", id="1"),
        event("OPENED", "ann@example.com", campaign="autumn", minutes=1, id="2"),
        event("CLICKED", "ann@example.com", campaign="autumn", minutes=2, id="3", bot=False),
        event("SENT", "bob@example.com", campaign="autumn", id="4"),
    ]
    response = await post_events(client, organization, events)
    assert response.json() == {"accepted": 0, "duplicates": 0, "unmatched": 4}
    assert await stats(client, organization, "autumn") == {}  # no such campaign yet
    assert await count(database, UnmatchedEvent) == 4
    assert await count(database, Response) == 0
    # Sent again while waiting: duplicates, kept once.
    response = await post_events(client, organization, events[:2])
    assert response.json() == {"accepted": 0, "duplicates": 2, "unmatched": 0}

    body = await graphql(
        client, organization, UPSERT_CAMPAIGN, {"input": {"externalId": "autumn", "name": "Autumn"}}
    )
    assert body["data"]["upsertCampaign"]["userErrors"] == []
    assert await stats(client, organization, "autumn") == {
        "recipients": 2,
        "sent": 2,
        "delivered": 1,
        "opened": 1,
        "clicks": 1,
        "revenue": "0.00",
    }
    assert await count(database, Response) == 4
    assert await count(database, Recipient) == 2
    # Applied once: replaying them now, or upserting the campaign again, changes nothing.
    response = await post_events(client, organization, events)
    assert response.json() == {"accepted": 0, "duplicates": 4, "unmatched": 0}
    await graphql(
        client, organization, UPSERT_CAMPAIGN, {"input": {"externalId": "autumn", "name": "Autumn"}}
    )
    assert (await stats(client, organization, "autumn"))["sent"] == 2
    assert await count(database, Response) == 4


@pytest.mark.fresh_database
async def test_an_event_for_a_known_campaign_creates_contact_and_recipient(
    client, database, organization
):
    await make_campaign(client, organization, "spring")
    response = await post_events(
        client,
        organization,
        [
            event("SENT", "Ann@Example.com", id="1"),
            {
                **event("DELIVERED", "ann@example.com", minutes=1, id="2"),
                "contact": {"email": "ann@example.com", "externalId": "c-1", "name": "Ann"},
            },
        ],
    )
    assert response.json() == {"accepted": 2, "duplicates": 0, "unmatched": 0}
    # Emails are compared without case: one contact, one recipient.
    assert await count(database, Contact) == 1
    assert await count(database, Recipient) == 1
    assert (await stats(client, organization))["delivered"] == 1
