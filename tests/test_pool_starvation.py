"""A request never holds a pooled connection while it waits for another.

With a pool of two connections and no overflow, a dozen writes at once must all succeed: if a
mutation kept the connection it read the campaign (or the key) on while waiting for its write
transaction's, two of them would each hold one and wait for the other's until the pool's timeout
("QueuePool limit of size 2 overflow 0 reached").
"""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.database import Database
from app.enums import Role
from app.main import create_app
from app.models import Campaign, Recipient, Response
from app.settings import Settings
from tests.factories import (
    Organization,
    add_recipients,
    event,
    make_campaign,
    make_organization,
    post_events,
)

# Short enough that a starved request fails the test quickly, long enough for a queue of a
# dozen requests on a busy machine.
POOL_TIMEOUT = 8
PEOPLE = [f"p{n}@example.com" for n in range(6)]

RECORD = """mutation($input: RecordResponseInput!) {
  recordResponse(input: $input) { response { type } recipient { status } userErrors { code } } }"""
# Two mutations in one document: the second reads its campaign after the first's payload read.
RECORD_TWICE = """mutation($a: RecordResponseInput!, $b: RecordResponseInput!) {
  a: recordResponse(input: $a) { response { type } userErrors { code } }
  b: recordResponse(input: $b) { response { type } userErrors { code } } }"""
UPDATE = """mutation($input: UpdateResponseStatusInput!) {
  updateResponseStatus(input: $input) { response { type } userErrors { code } } }"""
DELETE = """mutation($input: DeleteResponsesInput!) {
  deleteResponses(input: $input) { deletedCount userErrors { code } } }"""
UPSERT = """mutation($input: UpsertCampaignInput!) {
  upsertCampaign(input: $input) { campaign { name } userErrors { code } } }"""
ADD = """mutation($input: AddRecipientsInput!) {
  addRecipients(input: $input) { added userErrors { code } } }"""
IDS = """query($id: ID!) { node(id: $id) { ... on Campaign {
  recipients(first: 10) { edges { node { id contact { id email } } } } } } }"""


@pytest.fixture
async def tiny_pool(database_url: str) -> AsyncIterator[Database]:
    database = Database.from_url(
        database_url, pool_size=2, max_overflow=0, pool_timeout=POOL_TIMEOUT
    )
    try:
        yield database
    finally:
        await database.dispose()


async def call(
    client: httpx.AsyncClient, organization: Organization, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers=organization.headers(Role.ADMIN),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    for payload in body["data"].values():
        assert payload.get("userErrors", []) == [], payload
    return dict(body["data"])


def at(minutes: int) -> str:
    return event("OPENED", "", minutes=minutes)["occurredAt"]


async def test_more_concurrent_writes_than_pooled_connections_all_succeed(
    tiny_pool: Database, database_url: str
) -> None:
    organization = await make_organization(tiny_pool)
    app = create_app(Settings(database_url=database_url), tiny_pool)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=60
    ) as client:
        campaign = await make_campaign(client, organization, "spring")
        await add_recipients(client, organization, campaign, [{"email": e} for e in PEOPLE])
        answer = await call(client, organization, IDS, {"id": campaign})
        nodes = [edge["node"] for edge in answer["node"]["recipients"]["edges"]]
        recipient_of = {node["contact"]["email"]: node["id"] for node in nodes}
        contact_of = {node["contact"]["email"]: node["contact"]["id"] for node in nodes}
        # p5 has a history of its own, deleted during the storm.
        await call(
            client,
            organization,
            RECORD,
            {
                "input": {
                    "campaignId": campaign,
                    "email": PEOPLE[5],
                    "type": "SENT",
                    "occurredAt": at(0),
                }
            },
        )

        def record(email: str, kind: str, minute: int) -> dict[str, Any]:
            return {"campaignId": "spring", "email": email, "type": kind, "occurredAt": at(minute)}

        calls = [
            # recordResponse by external id: the campaign is looked up before the write.
            *(
                call(client, organization, RECORD, {"input": record(e, "CLICKED", 5)})
                for e in PEOPLE[:4]
            ),
            call(
                client,
                organization,
                RECORD_TWICE,
                {"a": record(PEOPLE[4], "SENT", 1), "b": record(PEOPLE[4], "DELIVERED", 2)},
            ),
            *(
                call(
                    client,
                    organization,
                    UPDATE,
                    {
                        "input": {
                            "recipientId": recipient_of[e],
                            "type": "OPENED",
                            "occurredAt": at(4),
                        }
                    },
                )
                for e in PEOPLE[:3]
            ),
            call(
                client,
                organization,
                DELETE,
                {"input": {"campaignId": campaign, "contactId": contact_of[PEOPLE[5]]}},
            ),
            *(
                call(
                    client,
                    organization,
                    UPSERT,
                    {"input": {"externalId": f"c{n}", "name": f"C{n}"}},
                )
                for n in range(3)
            ),
            call(
                client,
                organization,
                ADD,
                {"input": {"campaignId": campaign, "contacts": [{"email": "new@example.com"}]}},
            ),
            *(
                post_events(client, organization, [event("SENT", f"posted{n}@example.com")])
                for n in range(2)
            ),
        ]
        answers = await asyncio.gather(*calls)  # 15 requests on 2 connections
    for answer in answers:
        if isinstance(answer, httpx.Response):
            assert answer.status_code == 200, answer.text

    async with tiny_pool.read() as connection:
        campaigns = (
            await connection.execute(
                select(func.count()).where(Campaign.organization_id == organization.id)
            )
        ).scalar_one()
        recipients = (
            await connection.execute(
                select(func.count())
                .select_from(Recipient)
                .join(Campaign, Campaign.id == Recipient.campaign_id)
                .where(
                    Campaign.organization_id == organization.id, Campaign.external_id == "spring"
                )
            )
        ).scalar_one()
        kinds = Counter(
            (
                await connection.execute(
                    select(Response.type).where(
                        Response.organization_id == organization.id, Response.deleted_at.is_(None)
                    )
                )
            ).scalars()
        )
    assert campaigns == 1 + 3  # spring, c0, c1, c2
    assert recipients == 6 + 1 + 2  # p0..p5, new@, posted0 and posted1
    # 4 clicks, p4's SENT and DELIVERED, 3 opens by hand, 2 SENT posted; p5's SENT deleted.
    assert kinds == {"CLICKED": 4, "SENT": 3, "DELIVERED": 1, "OPENED": 3}
