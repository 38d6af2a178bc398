"""A request never holds a pooled connection while it waits for another.

With a pool of two connections and no overflow, a storm of writes at once must all succeed: if a
mutation kept the connection it read the campaign (or the key) on while waiting for its write
transaction's, two of them would each hold one and wait for the other's until the pool's timeout
("QueuePool limit of size 2 overflow 0 reached"). The pool's checkouts are also watched: no
request (asyncio task) takes a second connection while it holds one, on either database (SQLite's
writer keeps its own connection, outside that rule, so there a hold never deadlocks but still
keeps a connection from others).
"""

import asyncio
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import httpx
import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select

from app.credentials import postmark_settings
from app.database import Database
from app.enums import Role
from app.ids import parse_pk
from app.ingest.providers.tracking import OPEN, make_token
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
from tests.test_tracking import OUTLOOK
from tests.test_webhook_postmark import PASSWORD, USERNAME, delivery
from tests.test_webhook_postmark import post as post_postmark
from tests.webhook_helpers import configure

# Short enough that a starved request fails the test quickly, long enough for a queue of a
# dozen requests on a busy machine.
POOL_TIMEOUT = 8
PEOPLE = [f"p{n}@example.com" for n in range(6)]
TRACKING = "test-tracking-secret-0123456789abcdef"

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


# Which request is running: tasks a request starts (a dataloader's batch) inherit it.
REQUEST: ContextVar[object] = ContextVar("request", default=None)


async def own(request: Awaitable[Any]) -> Any:
    REQUEST.set(object())
    return await request


class HoldAndWait:
    """Every checkout of the pool, and every write transaction begun (SQLite's waits for the one
    writer), by a request that already holds a pooled connection."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.held: dict[Any, list[Any]] = defaultdict(list)
        self.found: list[str] = []
        pool = database.engine.sync_engine.pool
        sqlalchemy_event.listen(pool, "checkout", self.checkout)
        sqlalchemy_event.listen(pool, "checkin", self.checkin)
        write = database.write

        @asynccontextmanager
        async def watched_write() -> AsyncIterator[Any]:
            self.check("write")
            async with write() as connection:
                yield connection

        database.write = watched_write  # type: ignore[method-assign]

    def check(self, wanted: str) -> None:
        writer = self.kept_writer()
        if any(held is not writer for held in self.held[REQUEST.get()]):
            self.found.append(f"a request holds a connection and wants {wanted}")

    def kept_writer(self) -> Any:
        writer = self.database._writer  # SQLite's writer keeps its connection for good
        return None if writer is None else writer.sync_connection.connection._connection_record  # type: ignore[union-attr]

    def checkout(self, _dbapi: Any, record: Any, _proxy: Any) -> None:
        if record is not self.kept_writer():
            self.check("a connection")
        self.held[REQUEST.get()].append(record)

    def checkin(self, _dbapi: Any, record: Any) -> None:
        for held in self.held.values():
            if record in held:
                held.remove(record)
                return


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
    organization = await make_organization(tiny_pool)  # SQLite's writer takes its connection
    await configure(tiny_pool, organization, "postmark", postmark_settings(USERNAME, PASSWORD))
    app = create_app(Settings(database_url=database_url, tracking_secret=TRACKING), tiny_pool)
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

        tracked = parse_pk(recipient_of[PEOPLE[1]], "Recipient")
        assert tracked is not None
        pixel = make_token(TRACKING, OPEN, organization.id, tracked)
        watch = HoldAndWait(tiny_pool)

        def record(email: str, kind: str, minute: int) -> dict[str, Any]:
            return {"campaignId": "spring", "email": email, "type": kind, "occurredAt": at(minute)}

        calls: list[Awaitable[Any]] = [
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
            post_postmark(client, organization, [delivery("hooked@example.com", 30)]),
            client.get(f"/t/o/{pixel}.gif", headers={"User-Agent": OUTLOOK}),
        ]
        answers = await asyncio.gather(
            *(own(request) for request in calls)
        )  # 17 requests on 2 connections
    for answer in answers:
        if isinstance(answer, httpx.Response):
            assert answer.status_code == 200, answer.text
    assert watch.found == []

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
    assert recipients == 6 + 1 + 2 + 1  # p0..p5, new@, posted0 and posted1, hooked@
    # 4 clicks, p4's SENT and DELIVERED, 3 opens by hand and p1's pixel, 2 SENT posted, hooked@'s
    # delivery; p5's SENT deleted.
    assert kinds == {"CLICKED": 4, "SENT": 3, "DELIVERED": 2, "OPENED": 4}
