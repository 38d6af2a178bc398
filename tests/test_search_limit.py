"""Every free-text search has one limit (app.search.MAX_SEARCH_LENGTH = 200 characters): a
longer one is refused with a clear input error, never an internal one (SQLite refuses a LIKE
pattern of 100,000 characters). A search's % and _ are characters, not wildcards.

Campaigns "Spring sale" (spring) and "50% off" (fifty); spring's recipients ann and bob.
"""

from typing import Any

from app.enums import Role
from app.search import MAX_SEARCH_LENGTH
from tests.factories import add_recipients, graphql, make_campaign

LONG = "a" * 100_000
REFUSED = "filter.search is 100000 characters long; at most 200 are allowed"

CAMPAIGNS = """query($search: String) {
  campaigns(filter: {search: $search}) { edges { node { externalId } } }
}"""
CONTACTS = """query($search: String) {
  contacts(filter: {search: $search}) { edges { node { email } } }
}"""
RECIPIENTS = """query($id: ID!, $search: String) {
  campaign(id: $id) { recipients(filter: {search: $search}) { edges { node { id } } } }
}"""
STATS = """query {
  campaigns { edges { node { externalId stats { recipients sent } } } }
  contacts { totalCount }
}"""


async def scenario(client: Any, organization: Any) -> str:
    spring = await make_campaign(client, organization, "spring", name="Spring sale")
    await make_campaign(client, organization, "fifty", name="50% off")
    await add_recipients(
        client,
        organization,
        spring,
        [{"email": "ann@example.com", "name": "Ann"}, {"email": "bob@example.com", "name": "Bob"}],
    )
    return spring


async def numbers(client: Any, organization: Any) -> dict[str, Any]:
    return (await graphql(client, organization, STATS))["data"]


async def test_a_long_search_is_a_clear_input_error(client, organization):
    spring = await scenario(client, organization)
    before = await numbers(client, organization)
    assert before["contacts"] == {"totalCount": 2}
    for query, variables in (
        (CAMPAIGNS, {"search": LONG}),
        (CONTACTS, {"search": LONG}),
        (RECIPIENTS, {"id": spring, "search": LONG}),
    ):
        body = await graphql(client, organization, query, variables, expect_errors=True)
        [error] = body["errors"]
        assert error["message"] == REFUSED
        assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    # Downloads: 400 with the reason, for the global id and the external id alike (60,000
    # characters: httpx refuses longer URLs; SQLite's LIKE refuses patterns over 50,000 bytes).
    for campaign in (spring, "spring"):
        response = await client.get(
            f"/exports/campaigns/{campaign}/recipients.csv",
            params={"search": "a" * 60_000},
            headers=organization.headers(Role.VIEWER),
        )
        assert response.status_code == 400
        assert response.json() == {
            "error": "search is 60000 characters long; at most 200 are allowed"
        }
    assert await numbers(client, organization) == before


async def test_the_limit_is_200_characters(client, organization):
    spring = await scenario(client, organization)
    assert MAX_SEARCH_LENGTH == 200
    # 200 characters: searched (nothing matches); 201: refused. Spaces around do not count.
    at_limit = " " + "b" * 200 + " "
    body = await graphql(client, organization, CONTACTS, {"search": at_limit})
    assert body["data"]["contacts"]["edges"] == []
    body = await graphql(client, organization, RECIPIENTS, {"id": spring, "search": at_limit})
    assert body["data"]["campaign"]["recipients"]["edges"] == []
    body = await graphql(client, organization, CONTACTS, {"search": "b" * 201}, expect_errors=True)
    assert body["errors"][0]["message"] == (
        "filter.search is 201 characters long; at most 200 are allowed"
    )
    response = await client.get(
        f"/exports/campaigns/{spring}/recipients.csv",
        params={"search": "b" * 200},
        headers=organization.headers(Role.VIEWER),
    )
    assert response.status_code == 200
    assert response.text.count("\n") == 1  # the header only


async def test_campaign_search_takes_percent_and_underscore_literally(client, organization):
    await scenario(client, organization)

    async def found(search: str) -> list[str]:
        body = await graphql(client, organization, CAMPAIGNS, {"search": search})
        return sorted(edge["node"]["externalId"] for edge in body["data"]["campaigns"]["edges"])

    assert await found("%") == ["fifty"]
    assert await found("_") == []
    assert await found("SALE") == ["spring"]
    assert await found("  50% ") == ["fifty"]
