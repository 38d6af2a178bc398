"""Wherever the API takes a campaign id, the campaign's external id works too, scoped to the
key's organization; and `campaign()` takes exactly one of id and externalId.

Our organization: campaign "spring" with ann (SENT, DELIVERED, OPENED) and bob (SENT).
Another organization: campaign "secret" with cy (SENT), and a campaign also called "spring"
with dan (SENT, DELIVERED): our "spring" is never theirs, theirs is never ours.
"""

import csv
import io
import json
from typing import Any

from app.enums import Role
from tests.factories import event, graphql, make_campaign, make_organization, post_events
from tests.test_subscriptions import next_stats, receive, serving, subscribed

STATS = "query($id: String!) { campaign(externalId: $id) { stats { recipients sent delivered opened } } }"
HISTORY = """
query($campaignId: ID) {
  contact(email: "ann@example.com") { responses(campaignId: $campaignId) { totalCount } }
}"""
RECORD = """
mutation($input: RecordResponseInput!) {
  recordResponse(input: $input) { recipient { status } userErrors { field message code } }
}"""
DELETE = """
mutation($input: DeleteResponsesInput!) {
  deleteResponses(input: $input) { deletedCount userErrors { field message code } }
}"""
ADD = """
mutation($input: AddRecipientsInput!) {
  addRecipients(input: $input) { added skipped userErrors { field message code } }
}"""
NOT_FOUND = [{"field": ["input", "campaignId"], "message": "no such campaign", "code": "NOT_FOUND"}]


async def scenario(client: Any, organization: Any, database: Any) -> tuple[str, Any]:
    """Our "spring"'s global id, and the other organization."""
    spring = await make_campaign(client, organization, "spring")
    await post_events(
        client,
        organization,
        [
            event("SENT", "ann@example.com", id="1"),
            event("DELIVERED", "ann@example.com", minutes=1, id="2"),
            event("OPENED", "ann@example.com", minutes=2, id="3"),
            event("SENT", "bob@example.com", id="4"),
        ],
    )
    other = await make_organization(database)
    await make_campaign(client, other, "secret")
    await make_campaign(client, other, "spring")
    await post_events(
        client,
        other,
        [
            event("SENT", "cy@example.com", campaign="secret", id="1"),
            event("SENT", "dan@example.com", id="2"),
            event("DELIVERED", "dan@example.com", minutes=1, id="3"),
        ],
    )
    return spring, other


async def stats(client: Any, organization: Any, external_id: str) -> dict[str, int]:
    body = await graphql(client, organization, STATS, {"id": external_id})
    return dict(body["data"]["campaign"]["stats"])


OURS = {"recipients": 2, "sent": 2, "delivered": 1, "opened": 1}
SECRET = {"recipients": 1, "sent": 1, "delivered": 0, "opened": 0}
THEIR_SPRING = {"recipients": 1, "sent": 1, "delivered": 1, "opened": 0}


async def assert_unchanged(client: Any, organization: Any, other: Any) -> None:
    assert await stats(client, organization, "spring") == OURS
    assert await stats(client, other, "secret") == SECRET
    assert await stats(client, other, "spring") == THEIR_SPRING


async def test_downloads_by_external_id(client, organization, database):
    spring, other = await scenario(client, organization, database)
    headers = organization.headers(Role.VIEWER)
    for kind in ("recipients.csv", "activity.csv", "summary.xlsx"):
        by_id = await client.get(f"/exports/campaigns/{spring}/{kind}", headers=headers)
        by_external_id = await client.get(f"/exports/campaigns/spring/{kind}", headers=headers)
        assert by_id.status_code == by_external_id.status_code == 200, by_external_id.text
        assert by_external_id.headers["content-disposition"] == (
            f'attachment; filename="spring-{kind}"'
        )
        if kind.endswith(".csv"):
            assert by_external_id.content == by_id.content
        # The other organization's campaign, by external id: like one that does not exist.
        for missing in ("secret", "nope"):
            refused = await client.get(f"/exports/campaigns/{missing}/{kind}", headers=headers)
            assert refused.status_code == 404
            assert refused.json() == {
                "error": f"no campaign with id {missing!r} in this organization"
            }
    # Our "spring" has ann and bob only (theirs has dan).
    response = await client.get("/exports/campaigns/spring/recipients.csv", headers=headers)
    emails = sorted(row["email"] for row in csv.DictReader(io.StringIO(response.text)))
    assert emails == ["ann@example.com", "bob@example.com"]
    await assert_unchanged(client, organization, other)


async def test_contact_responses_by_external_id(client, organization, database):
    spring, other = await scenario(client, organization, database)

    async def count(campaign_id: str | None) -> int:
        body = await graphql(client, organization, HISTORY, {"campaignId": campaign_id})
        return int(body["data"]["contact"]["responses"]["totalCount"])

    assert await count(None) == 3
    assert await count(spring) == 3
    assert await count("spring") == 3
    # Another organization's campaign, or none at all: nothing.
    assert await count("secret") == 0
    assert await count("nope") == 0
    await assert_unchanged(client, organization, other)


async def test_record_and_delete_responses_by_external_id(client, organization, database):
    _, other = await scenario(client, organization, database)
    base = {"email": "bob@example.com", "type": "DELIVERED", "occurredAt": "2026-11-20T09:05:00Z"}
    for missing in ("secret", "nope"):
        body = await graphql(
            client, organization, RECORD, {"input": {**base, "campaignId": missing}}
        )
        assert body["data"]["recordResponse"] == {"recipient": None, "userErrors": NOT_FOUND}
        body = await graphql(
            client,
            organization,
            DELETE,
            {"input": {"campaignId": missing, "contactId": await contact_id(client, organization)}},
        )
        assert body["data"]["deleteResponses"] == {"deletedCount": 0, "userErrors": NOT_FOUND}
    await assert_unchanged(client, organization, other)

    body = await graphql(client, organization, RECORD, {"input": {**base, "campaignId": "spring"}})
    assert body["data"]["recordResponse"] == {
        "recipient": {"status": "DELIVERED"},
        "userErrors": [],
    }
    assert await stats(client, organization, "spring") == {**OURS, "delivered": 2}
    body = await graphql(
        client,
        organization,
        DELETE,
        {"input": {"campaignId": "spring", "contactId": await contact_id(client, organization)}},
    )
    # ann's SENT, DELIVERED and OPENED.
    assert body["data"]["deleteResponses"] == {"deletedCount": 3, "userErrors": []}
    assert await stats(client, organization, "spring") == {
        "recipients": 2, "sent": 1, "delivered": 1, "opened": 0
    }  # fmt: skip
    assert await stats(client, other, "spring") == THEIR_SPRING


async def contact_id(client: Any, organization: Any) -> str:
    body = await graphql(client, organization, 'query { contact(email: "ann@example.com") { id } }')
    return str(body["data"]["contact"]["id"])


async def test_add_recipients_by_external_id(client, organization, database):
    _, other = await scenario(client, organization, database)
    for missing in ("secret", "nope"):
        input = {"campaignId": missing, "contacts": [{"email": "eve@example.com"}]}
        body = await graphql(client, organization, ADD, {"input": input})
        assert body["data"]["addRecipients"] == {"added": 0, "skipped": 0, "userErrors": NOT_FOUND}
    await assert_unchanged(client, organization, other)
    input = {"campaignId": "spring", "contacts": [{"email": "eve@example.com"}]}
    body = await graphql(client, organization, ADD, {"input": input})
    assert body["data"]["addRecipients"] == {"added": 1, "skipped": 0, "userErrors": []}
    assert await stats(client, organization, "spring") == {**OURS, "recipients": 3}
    assert await stats(client, other, "spring") == THEIR_SPRING


async def test_campaign_stats_subscription_by_external_id(app, client, organization, database):
    _, other = await scenario(client, organization, database)
    async with serving(app, database) as url:
        async with subscribed(url, organization.keys[Role.VIEWER], "spring") as socket:
            numbers = await next_stats(socket)
            assert {name: numbers[name] for name in OURS} == OURS
        for missing in ("secret", "nope"):
            async with subscribed(url, organization.keys[Role.VIEWER], missing) as socket:
                message = await receive(socket)
                errors = (
                    message["payload"]["errors"]
                    if message["type"] == "next"
                    else message["payload"]
                )
                assert errors[0]["message"] == (
                    f"no campaign with id {missing!r} in this organization"
                )
                assert errors[0]["extensions"] == {"code": "NOT_FOUND"}, json.dumps(message)
    await assert_unchanged(client, organization, other)


CAMPAIGN = "query($id: ID, $externalId: String) { campaign(id: $id, externalId: $externalId) { externalId } }"


async def test_campaign_takes_exactly_one_of_id_and_external_id(client, organization, database):
    spring, other = await scenario(client, organization, database)
    autumn = await make_campaign(client, organization, "autumn")
    bad = [
        ({}, "give exactly one of id and externalId"),
        ({"id": spring, "externalId": "autumn"}, "give exactly one of id and externalId"),
        ({"id": autumn, "externalId": "autumn"}, "give exactly one of id and externalId"),
        ({"id": "!!"}, "id is not a Campaign id: '!!'"),
    ]
    for arguments, message in bad:
        body = await graphql(client, organization, CAMPAIGN, arguments, expect_errors=True)
        [error] = body["errors"]
        assert error["message"] == message, arguments
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert body["data"] == {"campaign": None}
    for arguments, expected in (
        ({"id": spring}, {"externalId": "spring"}),
        ({"externalId": "autumn"}, {"externalId": "autumn"}),
        ({"externalId": "secret"}, None),
    ):
        body = await graphql(client, organization, CAMPAIGN, arguments)
        assert body["data"]["campaign"] == expected
    await assert_unchanged(client, organization, other)
