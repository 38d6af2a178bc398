"""The recipient table: Campaign.recipients filters, orders and keyset pages."""

import base64
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from app import versions
from app.models import Response
from tests.factories import event, graphql, make_campaign, make_organization, post_events

ADD_RECIPIENTS = """
mutation($input: AddRecipientsInput!) {
  addRecipients(input: $input) { added skipped userErrors { field message code } }
}
"""

RECIPIENTS = """
query($id: ID!, $first: Int, $after: String, $filter: RecipientFilter, $orderBy: RecipientOrder) {
  node(id: $id) {
    ... on Campaign {
      recipients(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id status contact { email name } latestResponse { occurredAt } } }
      }
    }
  }
}
"""

# RecipientStatus in the contract's order: the STATUS sort order.
STATUS_ORDER = [
    "NOT_SENT",
    "QUEUED",
    "SENT",
    "DEFERRED",
    "DELIVERED",
    "BOUNCED",
    "DROPPED",
    "OPENED",
    "CLICKED",
    "UNSUBSCRIBED",
    "COMPLAINED",
]
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


async def add_recipients(client, organization, campaign_id, contacts, variant=None) -> None:
    input: dict[str, Any] = {"campaignId": campaign_id, "contacts": contacts}
    if variant:
        input["variantName"] = variant
    body = await graphql(client, organization, ADD_RECIPIENTS, {"input": input})
    assert body["data"]["addRecipients"]["userErrors"] == []


async def recipients_page(client, organization, campaign_id, **arguments) -> dict[str, Any]:
    body = await graphql(client, organization, RECIPIENTS, {"id": campaign_id, **arguments})
    return body["data"]["node"]["recipients"]


async def emails(client, organization, campaign_id, **arguments) -> list[str]:
    page = await recipients_page(client, organization, campaign_id, first=500, **arguments)
    assert page["totalCount"] == len(page["edges"])
    return [edge["node"]["contact"]["email"] for edge in page["edges"]]


def pk(global_id: str) -> int:
    return int(base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).split(b":")[1])


# --- A small campaign worked out by hand ------------------------------------------------------
#
# contact            name            owner  variant  events (minutes)                  status
# ann@example.com    Ann Archer      olga   A        SENT 0, DELIVERED 1, OPENED 2,   CLICKED
#                                                    CLICKED a 3
# bob@example.com    Bob Baker       piet   A        SENT 0, DELIVERED 1, OPENED 5    OPENED
# cat@example.com    Cat Carter      olga   B        SENT 0, BOUNCED 1                BOUNCED
# abe@example.com    -               -      B        SENT 0, DELIVERED 2, CLICKED b   UNSUBSCRIBED
#                                                    4, UNSUBSCRIBED 6
# aaron@sample.org   Zoe 100%_done   -      B        none                             QUEUED


async def small_campaign(client, organization) -> str:
    campaign_id = await make_campaign(
        client,
        organization,
        "spring",
        variants=[{"name": "A", "isControl": True}, {"name": "B"}],
        links=[{"url": "https://example.com/a"}, {"url": "https://example.com/b"}],
    )
    await add_recipients(
        client,
        organization,
        campaign_id,
        [
            {"email": "ann@example.com", "name": "Ann Archer", "ownerEmail": "olga@example.com"},
            {"email": "bob@example.com", "name": "Bob Baker", "ownerEmail": "piet@example.com"},
        ],
        variant="A",
    )
    await add_recipients(
        client,
        organization,
        campaign_id,
        [
            {"email": "cat@example.com", "name": "Cat Carter", "ownerEmail": "olga@example.com"},
            {"email": "abe@example.com"},
            {"email": "aaron@sample.org", "name": "Zoe 100%_done"},
        ],
        variant="B",
    )
    events = [
        event("SENT", "ann@example.com", minutes=0),
        event("DELIVERED", "ann@example.com", minutes=1),
        event("OPENED", "ann@example.com", minutes=2),
        event("CLICKED", "ann@example.com", minutes=3, url="https://example.com/a"),
        event("SENT", "bob@example.com", minutes=0),
        event("DELIVERED", "bob@example.com", minutes=1),
        event("OPENED", "bob@example.com", minutes=5),
        event("SENT", "cat@example.com", minutes=0),
        event(
            "BOUNCED",
            "cat@example.com",
            minutes=1,
            bounce={"type": "HARD", "category": "USER_NOT_FOUND"},
        ),
        event("SENT", "abe@example.com", minutes=0),
        event("DELIVERED", "abe@example.com", minutes=2),
        event("CLICKED", "abe@example.com", minutes=4, url="https://example.com/b"),
        event("UNSUBSCRIBED", "abe@example.com", minutes=6),
    ]
    response = await post_events(client, organization, events)
    assert response.json() == {"accepted": 13, "duplicates": 0, "unmatched": 0}
    return campaign_id


async def ids_of(client, organization, campaign_id) -> dict[str, str]:
    """Global ids of the campaign's variants, links and users, by name, url and email."""
    body = await graphql(
        client,
        organization,
        """query($id: ID!) { node(id: $id) { ... on Campaign {
             variants { id name } links { id url }
             recipients(first: 10) { edges { node { contact { owner { id email } } } } } } } }""",
        {"id": campaign_id},
    )
    campaign = body["data"]["node"]
    found = {variant["name"]: variant["id"] for variant in campaign["variants"]}
    found.update({link["url"]: link["id"] for link in campaign["links"]})
    for edge in campaign["recipients"]["edges"]:
        owner = edge["node"]["contact"]["owner"]
        if owner:
            found[owner["email"]] = owner["id"]
    return found


async def test_each_filter_picks_the_recipients_worked_out_by_hand(client, organization, database):
    campaign_id = await small_campaign(client, organization)
    ids = await ids_of(client, organization, campaign_id)

    async def matching(**filter: Any) -> set[str]:
        return set(await emails(client, organization, campaign_id, filter=filter))

    everyone = {
        "ann@example.com",
        "bob@example.com",
        "cat@example.com",
        "abe@example.com",
        "aaron@sample.org",
    }
    assert await matching() == everyone
    assert await matching(status=["CLICKED", "OPENED"]) == {"ann@example.com", "bob@example.com"}
    assert await matching(status=["QUEUED"]) == {"aaron@sample.org"}
    assert await matching(status=["COMPLAINED"]) == set()
    # abe clicked without an OPENED event: `responded` is about the types recorded.
    assert await matching(responded=["OPENED"]) == {"ann@example.com", "bob@example.com"}
    assert await matching(responded=["DELIVERED", "CLICKED"]) == {
        "ann@example.com",
        "abe@example.com",
    }
    assert await matching(variantId=ids["B"]) == {
        "cat@example.com",
        "abe@example.com",
        "aaron@sample.org",
    }
    assert await matching(ownerId=ids["olga@example.com"]) == {
        "ann@example.com",
        "cat@example.com",
    }
    assert await matching(linkId=ids["https://example.com/a"]) == {"ann@example.com"}
    assert await matching(linkId=ids["https://example.com/b"]) == {"abe@example.com"}
    assert await matching(search="ARCH") == {"ann@example.com"}
    assert await matching(search="sample") == {"aaron@sample.org"}
    # % and _ are characters to look for, not wildcards.
    assert await matching(search="%") == {"aaron@sample.org"}
    assert await matching(search="0%_d") == {"aaron@sample.org"}
    assert await matching(search="a%n") == set()
    assert await matching(variantId=ids["B"], status=["UNSUBSCRIBED", "QUEUED"]) == {
        "abe@example.com",
        "aaron@sample.org",
    }

    # A deleted response no longer counts for `responded`.
    async with database.write() as connection:
        await connection.execute(
            update(Response)
            .where(Response.type == "OPENED", Response.campaign_id == pk(campaign_id))
            .where(Response.occurred_at == datetime(2026, 11, 20, 9, 2, tzinfo=UTC))
            .values(deleted_at=datetime.now(UTC))
        )
        # A write behind the app's back moves the campaign's version like the app's own writes
        # do, or cached answers would not know of it.
        await versions.bump(connection, organization.id, [pk(campaign_id)])
    assert await matching(responded=["OPENED"]) == {"bob@example.com"}


async def test_ids_of_another_organization_match_nothing(client, organization, database):
    campaign_id = await small_campaign(client, organization)
    other = await make_organization(database)
    other_campaign = await small_campaign(client, other)
    foreign = await ids_of(client, other, other_campaign)
    for filter in (
        {"variantId": foreign["B"]},
        {"ownerId": foreign["olga@example.com"]},
        {"linkId": foreign["https://example.com/a"]},
    ):
        assert await emails(client, organization, campaign_id, filter=filter) == []


async def test_orders_worked_out_by_hand(client, organization):
    campaign_id = await small_campaign(client, organization)

    async def ordered(field: str, direction: str) -> list[str]:
        order = {"field": field, "direction": direction}
        return [
            e.split("@")[0] for e in await emails(client, organization, campaign_id, orderBy=order)
        ]

    # NAME: a contact without a name sorts by its email ("abe@example.com").
    assert await ordered("NAME", "ASC") == ["abe", "ann", "bob", "cat", "aaron"]
    assert await ordered("NAME", "DESC") == ["aaron", "cat", "bob", "ann", "abe"]
    assert await ordered("EMAIL", "ASC") == ["aaron", "abe", "ann", "bob", "cat"]
    # QUEUED < BOUNCED < OPENED < CLICKED < UNSUBSCRIBED in RecipientStatus.
    assert await ordered("STATUS", "ASC") == ["aaron", "cat", "bob", "ann", "abe"]
    assert await ordered("STATUS", "DESC") == ["abe", "ann", "bob", "cat", "aaron"]
    # Latest response: abe 6, bob 5, ann 3, cat 1, aaron never (oldest).
    assert await ordered("DATE", "DESC") == ["abe", "bob", "ann", "cat", "aaron"]
    assert await ordered("DATE", "ASC") == ["aaron", "cat", "ann", "bob", "abe"]
    # Default: NAME ascending.
    assert [e.split("@")[0] for e in await emails(client, organization, campaign_id)] == [
        "abe",
        "ann",
        "bob",
        "cat",
        "aaron",
    ]


async def test_a_renamed_contact_moves_in_name_order_in_every_campaign(client, organization):
    """Recipients keep a copy of their contact's name to page from an index; renaming the
    contact (addRecipients with a new name) must move it in every campaign's name order."""
    first = await make_campaign(client, organization, "rename-one")
    second = await make_campaign(client, organization, "rename-two")
    people = [
        {"email": "zoe@example.com", "name": "Zoe"},
        {"email": "max@example.com", "name": "Max"},
    ]
    for campaign_id in (first, second):
        await add_recipients(client, organization, campaign_id, people)

    async def names(campaign_id: str) -> list[str]:
        order = {"field": "NAME", "direction": "ASC"}
        page = await recipients_page(client, organization, campaign_id, orderBy=order)
        return [edge["node"]["contact"]["name"] for edge in page["edges"]]

    assert await names(first) == ["Max", "Zoe"]
    # Zoe becomes "Abby" through the second campaign: the first one's order follows too.
    await add_recipients(
        client, organization, second, [{"email": "zoe@example.com", "name": "Abby"}]
    )
    assert await names(first) == ["Abby", "Max"]
    assert await names(second) == ["Abby", "Max"]


# --- Paging through 1,234 recipients ----------------------------------------------------------

COUNT = 1234


def big_contacts() -> list[dict[str, Any]]:
    """Names repeat (150 distinct) so that the id breaks ties; every 97th has no name."""
    contacts = []
    for number in range(COUNT):
        contact: dict[str, Any] = {"email": f"p{number:04d}@example.com"}
        if number % 97:
            contact["name"] = f"Person {number % 150:03d}"
        contacts.append(contact)
    return contacts


def big_events() -> list[dict[str, Any]]:
    """Events for about two thirds of the recipients, at 40 distinct minutes (many ties)."""
    events = []
    for number in range(COUNT):
        email = f"p{number:04d}@example.com"
        minute = number % 40
        if number % 3 == 0:
            events.append(event("SENT", email, minutes=minute))
        if number % 6 == 0:
            events.append(event("DELIVERED", email, minutes=minute + 1))
        if number % 12 == 0:
            events.append(event("OPENED", email, minutes=minute + 2))
        if number % 24 == 0:
            events.append(event("CLICKED", email, minutes=minute + 3))
        if number % 5 == 0:
            events.append(event("SENT", email, minutes=minute))
            events.append(
                event(
                    "BOUNCED",
                    email,
                    minutes=minute + 1,
                    bounce={"type": "SOFT", "category": "MAILBOX_FULL"},
                )
            )
        if number % 49 == 0:
            events.append(event("UNSUBSCRIBED", email, minutes=minute + 5))
    return events


def sort_value(node: dict[str, Any], field: str) -> Any:
    contact = node["contact"]
    if field == "NAME":
        return (contact["name"] or contact["email"]).lower()
    if field == "EMAIL":
        return contact["email"]
    if field == "STATUS":
        return STATUS_ORDER.index(node["status"])
    latest = node["latestResponse"]
    return datetime.fromisoformat(latest["occurredAt"]) if latest else NEVER


async def page_through(client, organization, campaign_id, order, between=None) -> list[dict]:
    nodes: list[dict[str, Any]] = []
    after = None
    pages = 0
    while True:
        page = await recipients_page(
            client, organization, campaign_id, first=100, after=after, orderBy=order
        )
        assert page["totalCount"] == COUNT
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        nodes += [edge["node"] for edge in page["edges"]]
        pages += 1
        if between:
            await between(pages)
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert len(page["edges"]) == 100
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]
    assert pages == 13  # 12 pages of 100 and one of 34
    return nodes


async def test_paging_returns_every_recipient_once_in_every_order(client, organization):
    campaign_id = await make_campaign(client, organization, "spring")
    await add_recipients(client, organization, campaign_id, big_contacts())
    response = await post_events(client, organization, big_events())
    assert response.status_code == 200, response.text
    for field in ("NAME", "EMAIL", "STATUS", "DATE"):
        for direction in ("ASC", "DESC"):
            order = {"field": field, "direction": direction}
            nodes = await page_through(client, organization, campaign_id, order)
            assert sorted(node["contact"]["email"] for node in nodes) == [
                f"p{number:04d}@example.com" for number in range(COUNT)
            ]
            expected = sorted(
                nodes,
                key=lambda node: (sort_value(node, field), pk(node["id"])),
                reverse=direction == "DESC",
            )
            assert nodes == expected, (field, direction)
            if field == "STATUS":
                # The events above make at least these statuses: the order is really exercised.
                assert {node["status"] for node in nodes} >= {
                    "QUEUED",
                    "SENT",
                    "DELIVERED",
                    "BOUNCED",
                    "OPENED",
                    "CLICKED",
                    "UNSUBSCRIBED",
                }


async def test_paging_while_events_arrive_sees_each_recipient_once(client, organization):
    campaign_id = await make_campaign(client, organization, "spring")
    await add_recipients(client, organization, campaign_id, big_contacts())

    async def events_arrive(pages: int) -> None:
        # After each page, events for recipients everywhere in the order.
        batch = [
            event("SENT", f"p{number:04d}@example.com", minutes=pages)
            for number in range(pages, COUNT, 61)
        ]
        response = await post_events(client, organization, batch)
        assert response.status_code == 200, response.text

    for order in ({"field": "NAME", "direction": "ASC"}, {"field": "EMAIL", "direction": "DESC"}):
        nodes = await page_through(client, organization, campaign_id, order, events_arrive)
        assert len({node["id"] for node in nodes}) == COUNT


async def test_bad_arguments_get_clear_errors(client, organization):
    campaign_id = await small_campaign(client, organization)
    email_order = {"field": "EMAIL", "direction": "ASC"}
    page = await recipients_page(client, organization, campaign_id, first=2, orderBy=email_order)
    email_cursor = page["pageInfo"]["endCursor"]
    bad = [
        ({"first": 501}, "first must be between 0 and 500"),
        ({"first": -1}, "first must be between 0 and 500"),
        ({"after": "not a cursor"}, "after is not a cursor"),
        # a cursor of another order: a string where STATUS has a number
        ({"after": email_cursor, "orderBy": {"field": "STATUS", "direction": "ASC"}}, "cursor"),
        ({"filter": {"variantId": campaign_id}}, "filter.variantId is not a Variant id"),
        ({"filter": {"linkId": "garbage"}}, "filter.linkId is not a Link id"),
    ]
    for arguments, message in bad:
        body = await graphql(
            client,
            organization,
            RECIPIENTS,
            {"id": campaign_id, **arguments},
            expect_errors=True,
        )
        [error] = body["errors"]
        assert message in error["message"], (arguments, error)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_first_500_is_allowed_and_first_0_gives_only_the_count(client, organization):
    campaign_id = await small_campaign(client, organization)
    page = await recipients_page(client, organization, campaign_id, first=500)
    assert len(page["edges"]) == 5
    page = await recipients_page(client, organization, campaign_id, first=0)
    assert page["edges"] == [] and page["totalCount"] == 5
    assert page["pageInfo"]["hasNextPage"] is True


# --- No N+1: nested recipient pages of a campaign list ----------------------------------------

NESTED = """
query { campaigns(first: 50) { edges { node { externalId recipients(first: 20) {
  totalCount edges { node { contact { email } latestResponse { type } } } } } } } }
"""


async def add_campaigns(client, organization, numbers: range) -> None:
    for number in numbers:
        campaign_id = await make_campaign(client, organization, f"c{number:02d}")
        await add_recipients(
            client,
            organization,
            campaign_id,
            [{"email": f"r{person}@example.com"} for person in range(number % 4 + 1)],
        )
        await post_events(
            client, organization, [event("SENT", "r0@example.com", campaign=f"c{number:02d}")]
        )


async def test_nested_recipient_pages_cost_the_same_for_5_and_50_campaigns(
    client, organization, count_statements
):
    async def run() -> tuple[int, dict[str, Any]]:
        with count_statements() as counter:
            body = await graphql(client, organization, NESTED)
        return counter.count, body["data"]["campaigns"]["edges"]

    await add_campaigns(client, organization, range(5))
    five, edges = await run()
    await add_campaigns(client, organization, range(5, 50))
    fifty, edges = await run()
    assert fifty == five
    # key lookup, campaigns, recipient pages, their counts, contacts, latest responses (+ BEGINs)
    assert five <= 8
    assert len(edges) == 50
    for edge in edges:
        campaign = edge["node"]
        number = int(campaign["externalId"][1:])
        recipients = campaign["recipients"]
        # campaign cNN has NN % 4 + 1 recipients; r0 has a SENT event
        assert recipients["totalCount"] == number % 4 + 1
        by_email = {e["node"]["contact"]["email"]: e["node"] for e in recipients["edges"]}
        assert set(by_email) == {f"r{person}@example.com" for person in range(number % 4 + 1)}
        assert by_email["r0@example.com"]["latestResponse"] == {"type": "SENT"}
        assert all(
            by_email[email]["latestResponse"] is None
            for email in by_email
            if email != "r0@example.com"
        )


async def test_pages_in_a_list_equal_pages_asked_one_campaign_at_a_time(client, organization):
    await add_campaigns(client, organization, range(6))
    order = {"field": "EMAIL", "direction": "DESC"}
    listed = await graphql(
        client,
        organization,
        """query($order: RecipientOrder) { campaigns(first: 10) { edges { node { id
             recipients(first: 2, orderBy: $order) { pageInfo { hasNextPage endCursor }
               edges { node { contact { email } } } } } } } }""",
        {"order": order},
    )
    for edge in listed["data"]["campaigns"]["edges"]:
        alone = await recipients_page(
            client, organization, edge["node"]["id"], first=2, orderBy=order
        )
        in_list = edge["node"]["recipients"]
        assert [e["node"]["contact"]["email"] for e in in_list["edges"]] == [
            e["node"]["contact"]["email"] for e in alone["edges"]
        ]
        assert in_list["pageInfo"] == {
            "hasNextPage": alone["pageInfo"]["hasNextPage"],
            "endCursor": alone["pageInfo"]["endCursor"],
        }
