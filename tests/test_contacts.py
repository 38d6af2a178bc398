"""Query.contact and Query.contacts: what integrations look contacts up by."""

from typing import Any

from tests.factories import event, graphql, make_campaign, make_organization, post_events

ADD_RECIPIENTS = """
mutation($input: AddRecipientsInput!) {
  addRecipients(input: $input) { added userErrors { field message code } }
}
"""

CONTACT = """
query($id: ID, $email: String, $externalId: String) {
  contact(id: $id, email: $email, externalId: $externalId) {
    id email name externalId suppressed suppressionReason owner { email }
  }
}"""

CONTACTS = """
query($first: Int, $after: String, $filter: ContactFilter) {
  contacts(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id email } }
  }
}"""

# ann  c-1  Ann Archer  owner olga
# bob  c-2  Bob Baker   owner piet  hard bounce: suppressed (PREVIOUSLY_BOUNCED)
# cat  -    Cat Carter  owner olga  unsubscribed: suppressed (UNSUBSCRIBED)
# dan  c-40 -           -


async def people(client, organization) -> str:
    campaign_id = await make_campaign(client, organization, "spring")
    contacts = [
        {
            "email": "ann@example.com",
            "externalId": "c-1",
            "name": "Ann Archer",
            "ownerEmail": "olga@example.com",
        },
        {
            "email": "bob@example.com",
            "externalId": "c-2",
            "name": "Bob Baker",
            "ownerEmail": "piet@example.com",
        },
        {"email": "cat@example.com", "name": "Cat Carter", "ownerEmail": "olga@example.com"},
        {"email": "dan@example.com", "externalId": "c-40"},
    ]
    body = await graphql(
        client,
        organization,
        ADD_RECIPIENTS,
        {"input": {"campaignId": campaign_id, "contacts": contacts}},
    )
    assert body["data"]["addRecipients"] == {"added": 4, "userErrors": []}
    events = [
        event("BOUNCED", "bob@example.com", bounce={"type": "HARD", "category": "USER_NOT_FOUND"}),
        event("UNSUBSCRIBED", "cat@example.com", minutes=5),
    ]
    response = await post_events(client, organization, events)
    assert response.json()["accepted"] == 2
    return campaign_id


async def lookup(client, organization, **arguments: Any) -> dict[str, Any] | None:
    body = await graphql(client, organization, CONTACT, arguments)
    return body["data"]["contact"]


async def test_contact_by_email_external_id_and_id(client, organization):
    await people(client, organization)
    ann = await lookup(client, organization, email="ann@example.com")
    assert ann is not None
    assert ann["name"] == "Ann Archer"
    assert ann["externalId"] == "c-1"
    assert ann["owner"] == {"email": "olga@example.com"}
    assert ann["suppressed"] is False and ann["suppressionReason"] is None
    # emails are matched trimmed and case-insensitively
    assert await lookup(client, organization, email="  ANN@Example.com ") == ann
    assert await lookup(client, organization, externalId="c-1") == ann
    assert await lookup(client, organization, id=ann["id"]) == ann
    bob = await lookup(client, organization, externalId="c-2")
    assert bob is not None and bob["email"] == "bob@example.com"
    assert bob["suppressed"] is True and bob["suppressionReason"] == "PREVIOUSLY_BOUNCED"
    assert await lookup(client, organization, email="nobody@example.com") is None
    assert await lookup(client, organization, externalId="c-404") is None


async def test_another_organizations_contact_is_null(client, organization, database):
    await people(client, organization)
    other = await make_organization(database)
    await people(client, other)
    theirs = await lookup(client, other, email="ann@example.com")
    ours = await lookup(client, organization, email="ann@example.com")
    assert theirs is not None and ours is not None and theirs["id"] != ours["id"]
    # Their id is nothing here; the same email or external id finds our own contact.
    assert await lookup(client, organization, id=theirs["id"]) is None
    assert await lookup(client, organization, externalId="c-1") == ours
    body = await graphql(client, organization, f'query {{ node(id: "{theirs["id"]}") {{ id }} }}')
    assert body["data"]["node"] is None


async def test_contact_lookup_needs_exactly_one_argument(client, organization):
    await people(client, organization)
    campaign = await graphql(client, organization, "query { campaigns { edges { node { id } } } }")
    campaign_id = campaign["data"]["campaigns"]["edges"][0]["node"]["id"]
    bad = [
        ({}, "exactly one"),
        ({"email": "ann@example.com", "externalId": "c-1"}, "exactly one"),
        ({"id": campaign_id}, "id is not a Contact id"),
        ({"id": "!!"}, "id is not a Contact id"),
    ]
    for arguments, message in bad:
        body = await graphql(client, organization, CONTACT, arguments, expect_errors=True)
        [error] = body["errors"]
        assert message in error["message"], (arguments, error)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def contact_emails(client, organization, **filter: Any) -> list[str]:
    body = await graphql(client, organization, CONTACTS, {"first": 500, "filter": filter})
    connection = body["data"]["contacts"]
    assert connection["totalCount"] == len(connection["edges"])
    return [edge["node"]["email"].split("@")[0] for edge in connection["edges"]]


async def test_contacts_filters(client, organization, database):
    await people(client, organization)
    await people(client, await make_organization(database))  # never listed here
    # olga and piet are users, not contacts; the list is by email
    assert await contact_emails(client, organization) == ["ann", "bob", "cat", "dan"]
    assert await contact_emails(client, organization, search="CARTER") == ["cat"]
    assert await contact_emails(client, organization, search="dan@") == ["dan"]
    assert await contact_emails(client, organization, search="c-4") == ["dan"]
    assert await contact_emails(client, organization, search="c-") == ["ann", "bob", "dan"]
    assert await contact_emails(client, organization, suppressed=True) == ["bob", "cat"]
    assert await contact_emails(client, organization, suppressed=False) == ["ann", "dan"]
    ann = await lookup(client, organization, email="ann@example.com")
    body = await graphql(client, organization, CONTACT, {"email": "bob@example.com"})
    assert body["data"]["contact"]["owner"] == {"email": "piet@example.com"}
    owners = await graphql(
        client,
        organization,
        'query { contact(email: "ann@example.com") { owner { id } } }',
    )
    olga = owners["data"]["contact"]["owner"]["id"]
    assert await contact_emails(client, organization, ownerId=olga) == ["ann", "cat"]
    assert await contact_emails(client, organization, ownerId=olga, suppressed=True) == ["cat"]
    body = await graphql(
        client, organization, CONTACTS, {"filter": {"ownerId": ann["id"]}}, expect_errors=True
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_contacts_page_by_email(client, organization):
    await people(client, organization)
    seen: list[str] = []
    after = None
    while True:
        body = await graphql(client, organization, CONTACTS, {"first": 3, "after": after})
        connection = body["data"]["contacts"]
        assert connection["totalCount"] == 4
        assert connection["pageInfo"]["hasPreviousPage"] == (after is not None)
        seen += [edge["node"]["email"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == ["ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com"]
    body = await graphql(client, organization, CONTACTS, {"after": "garbage!"}, expect_errors=True)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_contact_lists_cost_the_same_for_few_and_many(client, organization, count_statements):
    query = """query { contacts(first: 100) { edges { node { email
      campaigns(first: 5) { totalCount edges { node { status campaign { externalId } } } }
      responses(first: 5) { edges { node { type campaign { externalId } } } }
    } } } }"""

    async def add(numbers: range) -> None:
        await make_campaign(client, organization, f"c{numbers.start}")
        events = [event("SENT", f"p{n:02d}@example.com", f"c{numbers.start}") for n in numbers]
        await post_events(client, organization, events)

    await add(range(0, 3))
    with count_statements() as few:
        await graphql(client, organization, query)
    await add(range(3, 40))
    await add(range(0, 40))  # a second campaign for everyone
    with count_statements() as many:
        body = await graphql(client, organization, query)
    assert many.count == few.count
    edges = body["data"]["contacts"]["edges"]
    assert len(edges) == 40
    for edge in edges:
        number = int(edge["node"]["email"][1:3])
        # p00..p02 were sent c0 and then c0 again (nothing new); p03..p39 c3 and c0.
        expected = {"c0"} if number < 3 else {"c0", "c3"}
        campaigns = edge["node"]["campaigns"]
        assert campaigns["totalCount"] == len(expected)
        assert {e["node"]["campaign"]["externalId"] for e in campaigns["edges"]} == expected
        assert {
            e["node"]["campaign"]["externalId"] for e in edge["node"]["responses"]["edges"]
        } == (expected)
