"""Helpers shared by the provider webhook tests: credentials, statistics, stored row counts."""

import base64
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select

from app.credentials import set_credentials
from app.database import Database
from app.models import Contact, Recipient, Response, SeenToken, UnmatchedEvent
from tests.factories import Organization, graphql

STATS = (
    "recipients sent notSent delivered deferred dropped bounced hardBounced softBounced "
    "opened opens clicked clicks complained unsubscribed machineOpens botClicks"
)


async def configure(
    database: Database, organization: Organization, provider: str, settings: dict[str, Any]
) -> None:
    async with database.write() as connection:
        await set_credentials(connection, organization.id, provider, settings)


async def stats(
    client: httpx.AsyncClient,
    organization: Organization,
    campaign: str = "spring",
    human_only: bool = False,
) -> dict[str, int]:
    body = await graphql(
        client,
        organization,
        f"query($e: String, $h: Boolean) {{ campaign(externalId: $e) {{ stats(humanOnly: $h) {{ {STATS} }} }} }}",
        {"e": campaign, "h": human_only},
    )
    return body["data"]["campaign"]["stats"]


async def recipients(
    client: httpx.AsyncClient, organization: Organization, campaign: str = "spring"
) -> dict[str, dict[str, Any]]:
    """Each recipient by email: status, skip reason, bounce, opens, clicks."""
    body = await graphql(
        client,
        organization,
        """query($e: String) { campaign(externalId: $e) { recipients(first: 100) { edges { node {
             status skipReason opens clicks bounce { type category } contact { email } } } } } }""",
        {"e": campaign},
    )
    edges = body["data"]["campaign"]["recipients"]["edges"]
    return {edge["node"]["contact"]["email"]: edge["node"] for edge in edges}


async def stored(database: Database) -> dict[str, int]:
    """Row counts of everything a webhook may store: a refused request changes none of them."""
    counts = {}
    async with database.read() as connection:
        for name, model in (
            ("responses", Response),
            ("unmatched", UnmatchedEvent),
            ("recipients", Recipient),
            ("contacts", Contact),
            ("tokens", SeenToken),
        ):
            counts[name] = (
                await connection.execute(select(func.count()).select_from(model))
            ).scalar_one()
    return counts


async def unmatched_kinds(database: Database) -> list[tuple[str, str]]:
    """(provider, kind) of events kept with their raw payload."""
    async with database.read() as connection:
        rows = (
            await connection.execute(select(UnmatchedEvent.provider, UnmatchedEvent.payload))
        ).all()
    return sorted(
        (row.provider, row.payload.get("kind", "")) for row in rows if "raw" in row.payload
    )


def basic_auth(username: str, password: str) -> dict[str, str]:
    """Headers of a JSON webhook posted with basic auth (user:password@ in the webhook URL)."""
    pair = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}", "Content-Type": "application/json"}


async def post_webhook(
    client: Any, provider: str, organization: Any, body: Any, headers: dict[str, str]
) -> Any:
    """POST `body` (JSON, or bytes as they are) to the organization's webhook of `provider`."""
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return await client.post(
        f"/webhooks/{provider}/{organization.name}", content=content, headers=headers
    )


async def refused_reasons(database: Database, organization_id: int) -> list[str]:
    """The reasons of an organization's malformed webhook events kept aside (`refused:...`)."""
    async with database.read() as connection:
        rows = (
            await connection.execute(
                select(UnmatchedEvent.reason).where(
                    UnmatchedEvent.organization_id == organization_id,
                    UnmatchedEvent.event_key.like("refused:%"),
                )
            )
        ).all()
    return [row.reason for row in rows]


ADD_RECIPIENTS = """
mutation($input: AddRecipientsInput!) {
  addRecipients(input: $input) { added skipped userErrors { field message code } }
}
"""
