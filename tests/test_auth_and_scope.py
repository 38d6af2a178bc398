"""Keys and roles, and every read and write scoped to the key's organization."""

from typing import Any

import pytest
from sqlalchemy import func, select

from app.auth import create_key, revoke_key
from app.enums import Role
from app.ids import global_id, parse_pk
from app.models import Campaign
from tests.factories import (
    UPSERT_CAMPAIGN,
    event,
    graphql,
    make_campaign,
    make_organization,
    post_events,
)

VIEWER_QUERY = {"query": "query { viewer { role organization { name } } }"}
CAMPAIGN = """
query($id: ID!) {
  campaign(id: $id) { id name }
  node(id: $id) { id }
}
"""
ADD_RECIPIENTS = """
mutation($input: AddRecipientsInput!) {
  addRecipients(input: $input) { added skipped userErrors { field message code } }
}
"""
LIST = "query { campaigns { totalCount edges { node { externalId } } } }"
LIST_STATS = "query { campaigns { edges { node { stats { recipients } } } } }"


async def campaign_count(database: Any) -> int:
    async with database.read() as connection:
        return int((await connection.execute(select(func.count()).select_from(Campaign))).scalar())


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer cg_not-a-key-of-anyone"},
        {"Authorization": "Bearer something-else"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
    ],
    ids=["none", "unknown", "no-prefix", "basic", "empty"],
)
async def test_no_valid_key_is_401_everywhere(client, organization, headers):
    response = await client.post("/graphql", json=VIEWER_QUERY, headers=headers)
    assert response.status_code == 401
    [error] = response.json()["errors"]  # GraphQL-shaped: clients show it as a GraphQL error
    assert "API key" in error["message"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    response = await client.post("/events", json=[], headers=headers)
    assert response.status_code == 401
    assert "API key" in response.json()["error"]


async def test_a_revoked_key_is_401(client, database, organization):
    async with database.write() as connection:
        key_id, key = await create_key(connection, organization.id, Role.ADMIN)
    headers = {"Authorization": f"Bearer {key}"}
    response = await client.post("/graphql", json=VIEWER_QUERY, headers=headers)
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["role"] == "ADMIN"

    async with database.write() as connection:
        assert await revoke_key(connection, key_id)
    response = await client.post("/graphql", json=VIEWER_QUERY, headers=headers)
    assert response.status_code == 401
    response = await client.post("/events", json=[], headers=headers)
    assert response.status_code == 401


async def test_each_key_sees_its_role_and_organization(client, organization):
    for role in Role:
        body = await graphql(client, organization, VIEWER_QUERY["query"], role=role)
        assert body["data"]["viewer"] == {
            "role": role.value,
            "organization": {"name": organization.name},
        }


async def test_a_viewer_may_not_post_events(client, organization):
    await make_campaign(client, organization, "spring")
    response = await post_events(
        client, organization, [event("SENT", "ann@example.com")], role=Role.VIEWER
    )
    assert response.status_code == 403
    assert "INTEGRATION" in response.json()["error"]
    assert "VIEWER" in response.json()["error"]
    body = await graphql(client, organization, LIST_STATS)
    assert body["data"]["campaigns"]["edges"][0]["node"]["stats"]["recipients"] == 0


async def test_a_viewer_may_not_upsert_a_campaign(client, database, organization):
    before = await campaign_count(database)
    body = await graphql(
        client,
        organization,
        UPSERT_CAMPAIGN,
        {"input": {"externalId": "spring", "name": "Spring"}},
        role=Role.VIEWER,
        expect_errors=True,
    )
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "INTEGRATION" in error["message"]
    assert body["data"] is None
    assert await campaign_count(database) == before


async def test_a_viewer_may_not_add_recipients(client, database, organization):
    campaign_id = await make_campaign(client, organization, "spring")
    body = await graphql(
        client,
        organization,
        ADD_RECIPIENTS,
        {"input": {"campaignId": campaign_id, "contacts": [{"email": "ann@example.com"}]}},
        role=Role.VIEWER,
        expect_errors=True,
    )
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    body = await graphql(client, organization, LIST_STATS)
    assert body["data"]["campaigns"]["edges"][0]["node"]["stats"]["recipients"] == 0


async def test_integration_and_admin_may_upsert(client, organization):
    for role in (Role.INTEGRATION, Role.ADMIN):
        body = await graphql(
            client,
            organization,
            UPSERT_CAMPAIGN,
            {"input": {"externalId": f"by-{role.value}", "name": role.value}},
            role=role,
        )
        assert body["data"]["upsertCampaign"]["userErrors"] == []


async def test_another_organizations_campaign_is_like_one_that_does_not_exist(
    client, database, organization
):
    other = await make_organization(database)
    theirs = await make_campaign(client, other, "secret", variants=[{"name": "A"}])
    mine = await make_campaign(client, organization, "spring")
    their_pk = parse_pk(theirs, "Campaign")
    assert their_pk is not None
    missing = global_id("Campaign", their_pk + 1000)

    for campaign_id in (theirs, missing):
        body = await graphql(client, organization, CAMPAIGN, {"id": campaign_id})
        assert body["data"] == {"campaign": None, "node": None}
    # The owner sees it.
    body = await graphql(client, other, CAMPAIGN, {"id": theirs})
    assert body["data"]["campaign"]["name"] == "Secret"

    # Their variant by global id, by external id, and in the list: nowhere.
    body = await graphql(
        client, other, "query { campaigns { edges { node { variants { id } } } } }"
    )
    their_variant = body["data"]["campaigns"]["edges"][0]["node"]["variants"][0]["id"]
    body = await graphql(
        client, organization, "query($id: ID!) { node(id: $id) { id } }", {"id": their_variant}
    )
    assert body["data"]["node"] is None
    body = await graphql(client, organization, 'query { campaign(externalId: "secret") { id } }')
    assert body["data"]["campaign"] is None
    body = await graphql(client, organization, LIST)
    assert body["data"]["campaigns"] == {
        "totalCount": 1,
        "edges": [{"node": {"externalId": "spring"}}],
    }
    assert mine != theirs

    # Writing to it: exactly the answer for a campaign that does not exist.
    answers = []
    for campaign_id in (theirs, missing):
        body = await graphql(
            client,
            organization,
            ADD_RECIPIENTS,
            {"input": {"campaignId": campaign_id, "contacts": [{"email": "ann@example.com"}]}},
        )
        answers.append(body["data"]["addRecipients"])
    assert answers[0] == answers[1]
    assert answers[0]["added"] == 0
    assert [(e["field"], e["code"]) for e in answers[0]["userErrors"]] == [
        (["input", "campaignId"], "NOT_FOUND")
    ]
    body = await graphql(client, other, LIST_STATS)
    assert body["data"]["campaigns"]["edges"][0]["node"]["stats"]["recipients"] == 0


async def test_the_same_external_id_in_two_organizations_is_two_campaigns(
    client, database, organization
):
    other = await make_organization(database)
    await make_campaign(client, organization, "spring", name="Mine")
    await make_campaign(client, other, "spring", name="Theirs")
    await post_events(client, other, [event("SENT", "ann@example.com", id="1")])
    body = await graphql(
        client, organization, 'query { campaign(externalId: "spring") { name stats { sent } } }'
    )
    assert body["data"]["campaign"] == {"name": "Mine", "stats": {"sent": 0}}
    body = await graphql(
        client, other, 'query { campaign(externalId: "spring") { name stats { sent } } }'
    )
    assert body["data"]["campaign"] == {"name": "Theirs", "stats": {"sent": 1}}
    # The same event id in another organization is not a duplicate.
    response = await post_events(client, organization, [event("SENT", "ann@example.com", id="1")])
    assert response.json() == {"accepted": 1, "duplicates": 0, "unmatched": 0}
