"""Factories for test data: organizations with keys, canonical events, GraphQL calls."""

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert

from app.auth import create_key
from app.database import Database
from app.enums import Role
from app.models import Organization as OrganizationModel

_numbers = itertools.count(1)
BASE_TIME = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass
class Organization:
    id: int
    name: str
    keys: dict[Role, str]

    def headers(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


async def make_organization(
    database: Database, name: str | None = None, timezone: str = "UTC"
) -> Organization:
    """An organization with one key of each role."""
    name = name or f"org-{next(_numbers)}"
    async with database.write() as connection:
        result = await connection.execute(
            insert(OrganizationModel)
            .values(name=name, timezone=timezone, created_at=datetime.now(UTC))
            .returning(OrganizationModel.id)
        )
        organization_id = int(result.scalar_one())
        keys = {}
        for role in Role:
            _, keys[role] = await create_key(connection, organization_id, role)
    return Organization(organization_id, name, keys)


def event(
    type: str,
    email: str,
    campaign: str = "spring",
    minutes: float = 0,
    **extra: Any,
) -> dict[str, Any]:
    """A canonical event `minutes` after BASE_TIME."""
    occurred = BASE_TIME + timedelta(minutes=minutes)
    return {
        "type": type,
        "occurredAt": occurred.isoformat().replace("+00:00", "Z"),
        "campaign": campaign,
        "contact": {"email": email},
        **extra,
    }


async def graphql(
    client: httpx.AsyncClient,
    organization: Organization,
    query: str,
    variables: dict[str, Any] | None = None,
    role: Role = Role.ADMIN,
    expect_errors: bool = False,
) -> dict[str, Any]:
    """POST a GraphQL operation; the whole JSON answer (asserting no errors unless expected)."""
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers=organization.headers(role),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    if not expect_errors:
        assert "errors" not in body, body
    return body


async def post_events(
    client: httpx.AsyncClient,
    organization: Organization,
    events: list[dict[str, Any]],
    role: Role = Role.INTEGRATION,
) -> httpx.Response:
    return await client.post("/events", json=events, headers=organization.headers(role))


UPSERT_CAMPAIGN = """
mutation($input: UpsertCampaignInput!) {
  upsertCampaign(input: $input) { campaign { id externalId name } userErrors { field message code } }
}
"""


async def make_campaign(
    client: httpx.AsyncClient,
    organization: Organization,
    external_id: str = "spring",
    **fields: Any,
) -> str:
    """Create a campaign through the API; its global id."""
    input = {"externalId": external_id, "name": fields.pop("name", external_id.title()), **fields}
    body = await graphql(client, organization, UPSERT_CAMPAIGN, {"input": input})
    payload = body["data"]["upsertCampaign"]
    assert payload["userErrors"] == [], payload
    return str(payload["campaign"]["id"])


ADD_RECIPIENTS = """
mutation($input: AddRecipientsInput!) {
  addRecipients(input: $input) { added skipped userErrors { field message code } }
}
"""


async def add_recipients(
    client: httpx.AsyncClient,
    organization: Organization,
    campaign_id: str,
    contacts: list[dict[str, Any]],
    variant_name: str | None = None,
) -> dict[str, Any]:
    """Add contacts (dicts of ContactInput fields) to a campaign, in a variant when named."""
    input: dict[str, Any] = {"campaignId": campaign_id, "contacts": contacts}
    if variant_name is not None:
        input["variantName"] = variant_name
    body = await graphql(client, organization, ADD_RECIPIENTS, {"input": input})
    payload = body["data"]["addRecipients"]
    assert payload["userErrors"] == [], payload
    return dict(payload)
