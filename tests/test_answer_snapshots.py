"""Whole answers of the benchmark's queries (the dashboard, the campaign list, a recipients page),
and of a refused field and a bad argument, for a small campaign whose numbers are worked out by
hand: any change in how fields are resolved must leave every byte of these answers as it is."""

from typing import Any

import pytest
from sqlalchemy import select

from app.database import Database
from app.enums import Role
from app.ids import global_id, parse_pk
from app.models import Contact, Link, Recipient, Variant
from bench.queries import CAMPAIGNS_QUERY, RECIPIENTS_QUERY, dashboard_query
from tests.factories import (
    Organization,
    add_recipients,
    event,
    graphql,
    make_campaign,
    post_events,
)

ONE = "https://shop.example.com/one"
TWO = "https://shop.example.com/two"
# Added first (by name: Ann, Bob, Cat, Dan, Eve), then their events, minutes after 09:00 UTC.
PEOPLE = [("ann", "Ann", "A"), ("bob", "Bob", "A"), ("cat", "Cat", "B"), ("dan", "Dan", "B")]


def events() -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []

    def add(kind: str, person: str, minutes: float, variant: str, **extra: Any) -> None:
        made.append(
            event(
                kind, f"{person}@example.com", "snap", minutes, id=f"e{len(made)}",
                variant=variant, **extra,
            )
        )  # fmt: skip

    for person, _, variant in PEOPLE:
        add("SENT", person, 0, variant)
    add("DELIVERED", "ann", 1, "A")
    add("OPENED", "ann", 62, "A", machine=False)
    add("CLICKED", "ann", 63, "A", url=ONE, bot=False)
    add("DELIVERED", "bob", 2, "A")
    add("OPENED", "bob", 65, "A", machine=False)
    add("OPENED", "bob", 130, "A", machine=False)
    add("BOUNCED", "cat", 5, "B", bounce={"type": "HARD", "category": "USER_NOT_FOUND"})
    add("DELIVERED", "dan", 1, "B")
    add("CLICKED", "dan", 70, "B", url=TWO, bot=False)
    add("CLICKED", "dan", 125, "B", url=ONE, bot=False)
    add("UNSUBSCRIBED", "dan", 140, "B")
    return made


async def scenario(client: Any, organization: Organization) -> str:
    """The campaign "Snapshot" (two variants, two links, five recipients), then an empty
    campaign "Other" made after it; the Snapshot's global id."""
    campaign_id = await make_campaign(
        client, organization, "snap", name="Snapshot", status="SENT",
        sentAt="2026-11-20T09:00:00Z", cost="10.00",
        variants=[{"name": "B"}, {"name": "A", "isControl": True}],
        links=[{"url": TWO, "position": 2}, {"url": ONE, "position": 1}],
    )  # fmt: skip
    for variant in ("A", "B"):
        contacts = [
            {"email": f"{person}@example.com", "name": name, "ownerEmail": "owner@example.com"}
            for person, name, of in PEOPLE
            if of == variant
        ]
        await add_recipients(client, organization, campaign_id, contacts, variant)
    await add_recipients(
        client, organization, campaign_id, [{"email": "eve@example.com", "name": "Eve"}]
    )
    response = await post_events(client, organization, events())
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(events()), response.text
    await make_campaign(client, organization, "other", name="Other")
    return campaign_id


async def pks(database: Database, organization: Organization, campaign_id: str) -> dict[str, int]:
    """Primary keys by name: variants "variant:A"/"variant:B", links by URL, contacts and
    recipients by person ("contact:ann", "recipient:ann")."""
    campaign_pk = parse_pk(campaign_id, "Campaign")
    found: dict[str, int] = {}
    async with database.read() as connection:
        rows = await connection.execute(
            select(Contact.email, Contact.id, Recipient.id)
            .join(Recipient, Recipient.contact_id == Contact.id)
            .where(Recipient.campaign_id == campaign_pk)
        )
        for email, contact_pk, recipient_pk in rows:
            person = email.split("@")[0]
            found[f"contact:{person}"] = contact_pk
            found[f"recipient:{person}"] = recipient_pk
        variants = await connection.execute(
            select(Variant.name, Variant.id).where(Variant.campaign_id == campaign_pk)
        )
        found.update({f"variant:{name}": pk for name, pk in variants})
        links = await connection.execute(
            select(Link.url, Link.id).where(Link.campaign_id == campaign_pk)
        )
        found.update({url: pk for url, pk in links})
    return found


def cost(requested: int) -> dict[str, Any]:
    return {"cost": {"requested": requested, "limit": 100_000}}


def bucket(hour: int, sent: int = 0, delivered: int = 0, opens: int = 0, clicks: int = 0,
           bounced: int = 0, unsubscribed: int = 0) -> dict[str, Any]:  # fmt: skip
    return {
        "start": f"2026-11-20T{hour:02d}:00:00+00:00", "sent": sent, "delivered": delivered,
        "opens": opens, "clicks": clicks, "bounced": bounced, "unsubscribed": unsubscribed,
    }  # fmt: skip


@pytest.mark.parametrize("with_timeline", [True, False])
async def test_dashboard(client, organization, database, with_timeline):
    campaign_id = await scenario(client, organization)
    pk = await pks(database, organization, campaign_id)
    variables: dict[str, Any] = {"id": campaign_id}
    if with_timeline:
        variables |= {"from": "2026-11-20T09:00:00Z", "to": "2026-11-20T12:00:00Z"}
    body = await graphql(client, organization, dashboard_query(with_timeline), variables)

    # Sent: ann, bob, cat, dan (eve is queued); delivered: ann, bob, dan; bounced: cat;
    # opened: ann, bob and dan (a click proves an open); clicked: ann, dan.
    campaign: dict[str, Any] = {
        "id": campaign_id,
        "name": "Snapshot",
        "status": "SENT",
        "sentAt": "2026-11-20T09:00:00+00:00",
        "stats": {
            "recipients": 5, "sent": 4, "delivered": 3, "bounced": 1, "opened": 3, "opens": 3,
            "clicked": 2, "clicks": 3, "unsubscribed": 1, "complained": 0, "revenue": "0.00",
            "deliveryRate": 0.75, "openRate": 0.75, "clickRate": 0.5, "clickToOpenRate": 2 / 3,
            "bounceRate": 0.25,
        },
        # dan opted out, ann clicked, bob opened; cat (bounced) and eve (queued) did not receive.
        "funnel": {"notReceived": 2, "received": 0, "opened": 1, "clicked": 1, "optedOut": 1},
    }  # fmt: skip
    if with_timeline:
        campaign["timeline"] = [
            bucket(9, sent=4, delivered=3, bounced=1),
            bucket(10, opens=2, clicks=2),  # ann's open and click, bob's open, dan's click
            bucket(11, opens=1, clicks=1, unsubscribed=1),  # bob, dan, dan
        ]
    campaign["variants"] = [
        {
            "id": global_id("Variant", pk["variant:A"]), "name": "A", "isControl": True,
            "stats": {"sent": 2, "delivered": 2, "opened": 2, "clicked": 1, "openRate": 1.0,
                      "clickRate": 0.5},
        },
        {
            "id": global_id("Variant", pk["variant:B"]), "name": "B", "isControl": False,
            "stats": {"sent": 2, "delivered": 1, "opened": 1, "clicked": 1, "openRate": 0.5,
                      "clickRate": 0.5},
        },
    ]  # fmt: skip
    campaign["links"] = [
        {"id": global_id("Link", pk[ONE]), "url": ONE, "clicks": 2, "clicked": 2},
        {"id": global_id("Link", pk[TWO]), "url": TWO, "clicks": 1, "clicked": 1},
    ]
    # Every field costs 1: 4 scalars, stats 1 + 16, funnel 1 + 5, timeline 1 + 7, variants
    # 1 + 3 + stats 1 + 6, links 1 + 4, and the campaign itself.
    requested = 1 + 4 + 17 + 6 + (8 if with_timeline else 0) + 11 + 5
    assert body == {"data": {"campaign": campaign}, "extensions": cost(requested)}


async def test_campaign_list(client, organization, database):
    campaign_id = await scenario(client, organization)
    pk = await pks(database, organization, campaign_id)
    body = await graphql(client, organization, CAMPAIGNS_QUERY)

    none = {"sent": 0, "delivered": 0, "opened": 0, "clicked": 0, "openRate": None,
            "clickRate": None}  # fmt: skip
    other = await graphql(client, organization, '{ campaign(externalId: "other") { id } }')
    edges = [
        # Newest first: Other was made last.
        {"node": {"id": other["data"]["campaign"]["id"], "name": "Other", "sentAt": None,
                  "stats": none, "variants": [], "links": []}},
        {"node": {
            "id": campaign_id, "name": "Snapshot", "sentAt": "2026-11-20T09:00:00+00:00",
            "stats": {"sent": 4, "delivered": 3, "opened": 3, "clicked": 2, "openRate": 0.75,
                      "clickRate": 0.5},
            "variants": [
                {"id": global_id("Variant", pk["variant:A"]), "name": "A",
                 "stats": {"sent": 2, "delivered": 2, "opened": 2, "clicked": 1,
                           "openRate": 1.0, "clickRate": 0.5}},
                {"id": global_id("Variant", pk["variant:B"]), "name": "B",
                 "stats": {"sent": 2, "delivered": 1, "opened": 1, "clicked": 1,
                           "openRate": 0.5, "clickRate": 0.5}},
            ],
            "links": [
                {"id": global_id("Link", pk[ONE]), "url": ONE, "clicks": 2, "clicked": 2},
                {"id": global_id("Link", pk[TWO]), "url": TWO, "clicks": 1, "clicked": 1},
            ],
        }},
    ]  # fmt: skip
    # campaigns 1, then 100 of each: edges, node, and the node's 25 fields (3 scalars,
    # stats 1 + 6, variants 1 + 2 + stats 1 + 6, links 1 + 4).
    assert body == {"data": {"campaigns": {"edges": edges}}, "extensions": cost(1 + 100 * 27)}


async def test_recipients_page(client, organization, database):
    campaign_id = await scenario(client, organization)
    pk = await pks(database, organization, campaign_id)
    body = await graphql(client, organization, RECIPIENTS_QUERY, {"id": campaign_id})

    def node(person: str, status: str, opens: int, clicks: int, sent: str | None,
             first_open: str | None) -> dict[str, Any]:  # fmt: skip
        return {"node": {
            "id": global_id("Recipient", pk[f"recipient:{person}"]), "status": status,
            "opens": opens, "clicks": clicks, "sentAt": sent, "firstOpenedAt": first_open,
            "contact": {"id": global_id("Contact", pk[f"contact:{person}"]),
                        "email": f"{person}@example.com", "name": person.title()},
        }}  # fmt: skip

    nine = "2026-11-20T09:00:00+00:00"
    edges = [  # by name
        node("ann", "CLICKED", 1, 1, nine, "2026-11-20T10:02:00+00:00"),
        node("bob", "OPENED", 2, 0, nine, "2026-11-20T10:05:00+00:00"),
        node("cat", "BOUNCED", 0, 0, nine, None),
        # dan never opened, but his first click (10:10) proves an open.
        node("dan", "UNSUBSCRIBED", 0, 2, nine, "2026-11-20T10:10:00+00:00"),
        node("eve", "QUEUED", 0, 0, None, None),
    ]
    # campaign 1, recipients 1, then 500 each: edges, node, its 6 scalars, contact 1 + 3,
    # pageInfo, hasNextPage.
    requested = 2 + 500 * (1 + 1 + 6 + 4 + 2)
    assert body == {
        "data": {"campaign": {"recipients": {"edges": edges, "pageInfo": {"hasNextPage": False}}}},
        "extensions": cost(requested),
    }


async def test_refused_field(client, organization):
    """A viewer asks for an admin's field beside the dashboard's: the refusal nulls the data
    (refusedEvents is not nullable) and says why, at the field."""
    campaign_id = await scenario(client, organization)
    query = """query Refused($id: ID!) {
  campaign(id: $id) { name }
  refusedEvents { totalCount }
}"""
    body = await graphql(
        client, organization, query, {"id": campaign_id}, role=Role.VIEWER, expect_errors=True
    )
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "this needs the ADMIN role; the key has VIEWER",
                "locations": [{"line": 3, "column": 3}],
                "path": ["refusedEvents"],
                "extensions": {"code": "FORBIDDEN"},
            }
        ],
        # campaign 1 + name 1, refusedEvents 1 + its default page of 50 totalCount.
        "extensions": cost(2 + 1 + 50),
    }


async def test_bad_arguments(client, organization):
    """A page too large, and a timeline ending before it starts: each refusal says why, at its
    field, and nulls the nearest nullable field above it."""
    campaign_id = await scenario(client, organization)
    page = RECIPIENTS_QUERY.replace("first: 500", "first: 501")
    body = await graphql(client, organization, page, {"id": campaign_id}, expect_errors=True)
    assert body == {
        # Campaign.recipients is not nullable: its error nulls the campaign.
        "data": {"campaign": None},
        "errors": [
            {
                "message": "first must be between 0 and 500, got 501",
                "locations": [{"line": 3, "column": 5}],
                "path": ["campaign", "recipients"],
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ],
        "extensions": cost(2 + 501 * 14),
    }

    variables = {"id": campaign_id, "from": "2026-11-20T12:00:00Z", "to": "2026-11-20T09:00:00Z"}
    body = await graphql(client, organization, dashboard_query(True), variables, expect_errors=True)
    assert body["errors"] == [
        {
            "message": "to must be later than from",
            "locations": [{"line": 6, "column": 5}],  # the document's sixth line
            "path": ["campaign", "timeline"],
            "extensions": {"code": "BAD_USER_INPUT", "argument": "to"},
        }
    ]
    # Campaign.timeline is a non-null list: its error nulls the campaign.
    assert body["data"] == {"campaign": None}
