"""History, newest first: Campaign.activity, Recipient.responses and Contact.responses."""

import base64
from datetime import timedelta
from typing import Any

from tests.factories import (
    BASE_TIME,
    event,
    graphql,
    make_campaign,
    make_organization,
    post_events,
)

RESPONSE = "type occurredAt campaign { externalId } contact { email }"

ACTIVITY = f"""
query($id: ID!, $first: Int, $after: String, $types: [ResponseType!], $since: DateTime) {{
  node(id: $id) {{ ... on Campaign {{
    activity(first: $first, after: $after, types: $types, since: $since) {{
      totalCount pageInfo {{ hasNextPage endCursor }}
      edges {{ cursor node {{ id {RESPONSE} }} }}
    }}
  }} }}
}}"""

CONTACT_HISTORY = f"""
query($email: String!, $first: Int, $after: String, $campaignId: ID, $types: [ResponseType!],
      $since: DateTime) {{
  contact(email: $email) {{
    id
    responses(first: $first, after: $after, campaignId: $campaignId, types: $types,
              since: $since) {{
      totalCount pageInfo {{ hasNextPage endCursor }}
      edges {{ node {{ {RESPONSE} }} }}
    }}
    campaigns {{ totalCount edges {{ node {{ status campaign {{ externalId }} }} }} }}
  }}
}}"""

RECIPIENT_RESPONSES = """
query($id: ID!, $first: Int, $after: String) {
  node(id: $id) { ... on Campaign {
    recipients(filter: {search: "ann"}) { edges { node {
      responses(first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { type occurredAt } }
      }
    } } }
  } }
}"""


def at(minutes: float) -> str:
    return (BASE_TIME + timedelta(minutes=minutes)).isoformat()


def pk(global_id: str) -> int:
    return int(base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).split(b":")[1])


# spring (sent 1 Nov): ann SENT 0, DELIVERED 1, OPENED 10, CLICKED 20; bob SENT 2, OPENED 15
# autumn (sent 15 Nov): ann SENT 30, DELIVERED 31, OPENED 40, PURCHASED 50


async def two_campaigns(client, organization) -> dict[str, str]:
    spring = await make_campaign(
        client,
        organization,
        "spring",
        sentAt="2026-11-01T09:00:00Z",
        links=[{"url": "https://example.com/a"}],
    )
    autumn = await make_campaign(client, organization, "autumn", sentAt="2026-11-15T09:00:00Z")
    events = [
        event("SENT", "ann@example.com", "spring", 0),
        event("DELIVERED", "ann@example.com", "spring", 1),
        event("OPENED", "ann@example.com", "spring", 10),
        event("CLICKED", "ann@example.com", "spring", 20, url="https://example.com/a"),
        event("SENT", "bob@example.com", "spring", 2),
        event("OPENED", "bob@example.com", "spring", 15),
        event("SENT", "ann@example.com", "autumn", 30),
        event("DELIVERED", "ann@example.com", "autumn", 31),
        event("OPENED", "ann@example.com", "autumn", 40),
        event("PURCHASED", "ann@example.com", "autumn", 50, amount="12.50"),
    ]
    response = await post_events(client, organization, events)
    assert response.json() == {"accepted": 10, "duplicates": 0, "unmatched": 0}
    return {"spring": spring, "autumn": autumn}


async def activity(client, organization, campaign_id, **arguments) -> dict[str, Any]:
    body = await graphql(client, organization, ACTIVITY, {"id": campaign_id, **arguments})
    return body["data"]["node"]["activity"]


def entries(connection: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (
            edge["node"]["contact"]["email"].split("@")[0],
            edge["node"]["type"],
            edge["node"]["occurredAt"],
        )
        for edge in connection["edges"]
    ]


async def test_activity_is_the_campaigns_event_log_newest_first(client, organization):
    campaigns = await two_campaigns(client, organization)
    log = await activity(client, organization, campaigns["spring"])
    assert log["totalCount"] == 6
    assert entries(log) == [
        ("ann", "CLICKED", at(20)),
        ("bob", "OPENED", at(15)),
        ("ann", "OPENED", at(10)),
        ("bob", "SENT", at(2)),
        ("ann", "DELIVERED", at(1)),
        ("ann", "SENT", at(0)),
    ]
    opened_or_clicked = await activity(
        client, organization, campaigns["spring"], types=["OPENED", "CLICKED"]
    )
    assert opened_or_clicked["totalCount"] == 3
    assert entries(opened_or_clicked) == [
        ("ann", "CLICKED", at(20)),
        ("bob", "OPENED", at(15)),
        ("ann", "OPENED", at(10)),
    ]
    # since is inclusive
    recent = await activity(client, organization, campaigns["spring"], since=at(10))
    assert [entry[1:] for entry in entries(recent)] == [
        ("CLICKED", at(20)),
        ("OPENED", at(15)),
        ("OPENED", at(10)),
    ]
    recent_opens = await activity(
        client, organization, campaigns["spring"], types=["OPENED"], since=at(11)
    )
    assert recent_opens["totalCount"] == 1
    assert entries(recent_opens) == [("bob", "OPENED", at(15))]
    autumn = await activity(client, organization, campaigns["autumn"], types=["PURCHASED"])
    assert entries(autumn) == [("ann", "PURCHASED", at(50))]


async def test_activity_pages_through_ties_once_each(client, organization):
    campaign_id = await make_campaign(client, organization, "ties")
    # 30 contacts sent at the same instant, 10 opened a minute later: ties broken by id.
    events = [event("SENT", f"p{n:02d}@example.com", "ties", 0) for n in range(30)]
    events += [event("OPENED", f"p{n:02d}@example.com", "ties", 1) for n in range(0, 30, 3)]
    await post_events(client, organization, events)
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        page = await activity(client, organization, campaign_id, first=7, after=after)
        assert page["totalCount"] == 40
        seen += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 40 and len({node["id"] for node in seen}) == 40
    assert [node["type"] for node in seen] == ["OPENED"] * 10 + ["SENT"] * 30
    opened_ids = [pk(node["id"]) for node in seen[:10]]
    sent_ids = [pk(node["id"]) for node in seen[10:]]
    assert opened_ids == sorted(opened_ids, reverse=True)
    assert sent_ids == sorted(sent_ids, reverse=True)


async def test_deleted_responses_leave_the_log(client, organization):
    campaigns = await two_campaigns(client, organization)
    body = await graphql(client, organization, 'query { contact(email: "ann@example.com") { id } }')
    ann = body["data"]["contact"]["id"]
    body = await graphql(
        client,
        organization,
        """mutation($input: DeleteResponsesInput!) {
             deleteResponses(input: $input) { deletedCount userErrors { code } } }""",
        {"input": {"campaignId": campaigns["spring"], "contactId": ann, "note": "asked"}},
    )
    assert body["data"]["deleteResponses"] == {"deletedCount": 4, "userErrors": []}
    log = await activity(client, organization, campaigns["spring"])
    assert log["totalCount"] == 2
    assert entries(log) == [("bob", "OPENED", at(15)), ("bob", "SENT", at(2))]
    body = await graphql(client, organization, CONTACT_HISTORY, {"email": "ann@example.com"})
    history = body["data"]["contact"]["responses"]
    assert history["totalCount"] == 4
    assert {edge["node"]["campaign"]["externalId"] for edge in history["edges"]} == {"autumn"}


async def test_recipient_responses_newest_first_in_pages(client, organization):
    campaigns = await two_campaigns(client, organization)
    variables = {"id": campaigns["spring"], "first": 3}
    body = await graphql(client, organization, RECIPIENT_RESPONSES, variables)
    [recipient] = body["data"]["node"]["recipients"]["edges"]
    page = recipient["node"]["responses"]
    assert page["totalCount"] == 4
    assert page["pageInfo"]["hasNextPage"] is True
    assert [(e["node"]["type"], e["node"]["occurredAt"]) for e in page["edges"]] == [
        ("CLICKED", at(20)),
        ("OPENED", at(10)),
        ("DELIVERED", at(1)),
    ]
    variables["after"] = page["pageInfo"]["endCursor"]
    body = await graphql(client, organization, RECIPIENT_RESPONSES, variables)
    [recipient] = body["data"]["node"]["recipients"]["edges"]
    page = recipient["node"]["responses"]
    assert [(e["node"]["type"], e["node"]["occurredAt"]) for e in page["edges"]] == [
        ("SENT", at(0))
    ]
    assert page["pageInfo"]["hasNextPage"] is False


async def contact_history(client, organization, **arguments) -> dict[str, Any]:
    variables = {"email": "ann@example.com", **arguments}
    body = await graphql(client, organization, CONTACT_HISTORY, variables)
    return body["data"]["contact"]


async def test_contact_history_across_campaigns(client, organization):
    campaigns = await two_campaigns(client, organization)
    ann = await contact_history(client, organization)
    assert ann["responses"]["totalCount"] == 8
    assert [
        (e["node"]["campaign"]["externalId"], e["node"]["type"]) for e in ann["responses"]["edges"]
    ] == [
        ("autumn", "PURCHASED"),
        ("autumn", "OPENED"),
        ("autumn", "DELIVERED"),
        ("autumn", "SENT"),
        ("spring", "CLICKED"),
        ("spring", "OPENED"),
        ("spring", "DELIVERED"),
        ("spring", "SENT"),
    ]
    # campaigns, newest (by sentAt) first
    assert ann["campaigns"]["totalCount"] == 2
    assert [
        (e["node"]["campaign"]["externalId"], e["node"]["status"])
        for e in ann["campaigns"]["edges"]
    ] == [("autumn", "OPENED"), ("spring", "CLICKED")]

    spring = await contact_history(client, organization, campaignId=campaigns["spring"])
    assert spring["responses"]["totalCount"] == 4
    assert [e["node"]["type"] for e in spring["responses"]["edges"]] == [
        "CLICKED",
        "OPENED",
        "DELIVERED",
        "SENT",
    ]
    opens = await contact_history(client, organization, types=["OPENED"])
    assert entries(opens["responses"]) == [("ann", "OPENED", at(40)), ("ann", "OPENED", at(10))]
    autumn_money = await contact_history(
        client, organization, campaignId=campaigns["autumn"], types=["OPENED", "PURCHASED"]
    )
    assert [e["node"]["type"] for e in autumn_money["responses"]["edges"]] == [
        "PURCHASED",
        "OPENED",
    ]
    since = await contact_history(client, organization, since=at(31))
    assert [e["node"]["type"] for e in since["responses"]["edges"]] == [
        "PURCHASED",
        "OPENED",
        "DELIVERED",
    ]
    # Paging the whole history two at a time gives the same 8 in the same order.
    paged: list[tuple[str, str, str]] = []
    after = None
    while True:
        page = await contact_history(client, organization, first=2, after=after)
        paged += entries(page["responses"])
        if not page["responses"]["pageInfo"]["hasNextPage"]:
            break
        after = page["responses"]["pageInfo"]["endCursor"]
    assert paged == entries(ann["responses"])


async def test_another_organizations_campaign_filters_to_nothing(client, organization, database):
    await two_campaigns(client, organization)
    other = await make_organization(database)
    foreign = await make_campaign(client, other, "spring")
    ann = await contact_history(client, organization, campaignId=foreign)
    assert ann["responses"]["totalCount"] == 0
    assert ann["responses"]["edges"] == []


async def test_bad_history_arguments(client, organization):
    campaigns = await two_campaigns(client, organization)
    bad = [
        (CONTACT_HISTORY, {"email": "ann@example.com", "since": "2026-11-20T09:00:00"}, "offset"),
        (CONTACT_HISTORY, {"email": "ann@example.com", "first": 501}, "first"),
        (ACTIVITY, {"id": campaigns["spring"], "after": "bm90IGEgY3Vyc29y"}, "cursor"),
        (ACTIVITY, {"id": campaigns["spring"], "first": 1000}, "first"),
    ]
    for query, variables, message in bad:
        body = await graphql(client, organization, query, variables, expect_errors=True)
        [error] = body["errors"]
        assert message in error["message"], (variables, error)
        assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_history_of_many_recipients_costs_the_same_statements(
    client, organization, count_statements
):
    query = """query { campaigns(first: 50) { edges { node { externalId
      activity(first: 5) { totalCount edges { node { type } } }
      recipients(first: 10) { edges { node { responses(first: 3) { edges { node { type } } } } } }
    } } } }"""

    async def add(numbers: range) -> None:
        for number in numbers:
            name = f"c{number:02d}"
            await make_campaign(client, organization, name)
            await post_events(
                client,
                organization,
                [event("SENT", f"r{p}@example.com", name, p) for p in range(number % 3 + 1)],
            )

    await add(range(3))
    with count_statements() as few:
        small = await graphql(client, organization, query)
    await add(range(3, 30))
    with count_statements() as many:
        large = await graphql(client, organization, query)
    assert many.count == few.count
    assert len(small["data"]["campaigns"]["edges"]) == 3
    edges = large["data"]["campaigns"]["edges"]
    assert len(edges) == 30
    for edge in edges:
        # campaign cNN: NN % 3 + 1 recipients with one SENT each
        recipients = int(edge["node"]["externalId"][1:]) % 3 + 1
        assert edge["node"]["activity"]["totalCount"] == recipients
        assert len(edge["node"]["recipients"]["edges"]) == recipients
        for recipient in edge["node"]["recipients"]["edges"]:
            assert recipient["node"]["responses"]["edges"] == [{"node": {"type": "SENT"}}]
