"""Concurrency: manual mutations racing with event posts for the same recipients lose nothing.

The real app is served by uvicorn on 127.0.0.1 (real HTTP), and 200 requests are fired at it at
once: canonical event batches, Postmark webhook posts, recordResponse, updateResponseStatus and
deleteResponses. Every one must be reflected exactly once in the history and in the statistics.
Deletions go to recipients no other request touches (each with a history of its own from before
the storm), so the end state stays computable: they count as recipients and nothing else, and
their rows are kept with the audit fields.
"""

import asyncio
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, insert, select, update

from app.credentials import postmark_settings
from app.database import Database
from app.enums import Role
from app.ids import global_id
from app.main import create_app
from app.models import Contact, Recipient, Response
from app.reconcile import reconcile
from app.settings import Settings
from tests.factories import Organization, event, make_organization
from tests.webhook_helpers import configure

EMAILS = [f"person{n}@example.com" for n in range(5)]
REQUESTS = 100  # 20 of each kind, all at once: enough to interleave every pair of writers
KINDS = ("event", "record", "update", "webhook", "delete")
# One recipient per deletion, touched by nothing else in the storm.
GONE = [f"gone{n}@example.com" for n in range(REQUESTS // len(KINDS))]
GONE_HISTORY = 5  # responses of each before the storm: SENT DELIVERED OPENED CLICKED PURCHASED
PRICING = "https://example.com/pricing"
DELETION_NOTE = "asked to be forgotten"
POSTMARK_USER, POSTMARK_PASSWORD = "postmark", "correct horse battery staple"


@pytest.fixture
def served_url(database_url: str) -> Iterator[str]:
    """The app served by uvicorn in a background thread, on a free port of 127.0.0.1."""
    app = create_app(Settings(database_url=database_url, log_level="WARNING"))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", loop="asyncio", backlog=1024)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


@pytest.fixture
async def served(served_url: str) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    async with httpx.AsyncClient(base_url=served_url, timeout=120, limits=limits) as client:
        yield client


async def graphql(
    client: httpx.AsyncClient, organization: Organization, query: str, input: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": {"input": input}},
        headers=organization.headers(Role.ADMIN),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    payload = next(iter(body["data"].values()))
    assert payload["userErrors"] == [], payload
    return payload


UPSERT = "mutation($input: UpsertCampaignInput!) { upsertCampaign(input: $input) { campaign { id } userErrors { code } } }"
RECORD = "mutation($input: RecordResponseInput!) { recordResponse(input: $input) { response { id } userErrors { code } } }"
UPDATE = "mutation($input: UpdateResponseStatusInput!) { updateResponseStatus(input: $input) { response { id } userErrors { code } } }"
DELETE = "mutation($input: DeleteResponsesInput!) { deleteResponses(input: $input) { deletedCount recipient { status opens clicks } userErrors { code } } }"
STATS = """query($id: ID!) { node(id: $id) { ... on Campaign {
  stats { recipients sent notSent delivered opened opens clicked clicks purchases revenue responded }
  funnel { notReceived received opened clicked optedOut }
  links { url clicks clicked }
} } }"""


def postmark_record(type: str, email: str, number: int, minute: int) -> dict[str, Any]:
    """A Postmark Open or Click record; the number makes each one a different event."""
    record: dict[str, Any] = {
        "RecordType": "Open" if type == "OPENED" else "Click",
        "MessageID": f"00000000-0000-4000-8000-{number:012d}",
        "Recipient": email,
        "ReceivedAt": event(type, email, minutes=minute)["occurredAt"],
        "MessageStream": "outbound",
        "Metadata": {"campaign": "spring"},
        "UserAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    }
    if type == "CLICKED":
        record["OriginalLink"] = PRICING
    return record


@pytest.mark.fresh_database
async def test_concurrent_mutations_and_events_are_each_reflected_once(
    served: httpx.AsyncClient, database_url: str
) -> None:
    database = Database.from_url(database_url)
    try:
        organization = await make_organization(database)
        campaign = (await graphql(served, organization, UPSERT, {"externalId": "spring", "name": "Spring"}))[
            "campaign"
        ]["id"]  # fmt: skip
        await configure(
            database,
            organization,
            "postmark",
            postmark_settings(POSTMARK_USER, POSTMARK_PASSWORD),
        )
        postmark_auth = (POSTMARK_USER, POSTMARK_PASSWORD)
        # Every contact is a recipient before the storm, so that updates have someone to update;
        # those to be deleted have a whole history (a link click and a purchase among it).
        setup = [event("SENT", email, id=f"sent-{email}") for email in EMAILS]
        for email in GONE:
            setup += [
                event("SENT", email, minutes=0, id=f"gone-sent-{email}"),
                event("DELIVERED", email, minutes=1, id=f"gone-delivered-{email}"),
                event("OPENED", email, minutes=2, id=f"gone-opened-{email}"),
                event("CLICKED", email, minutes=3, url=PRICING, id=f"gone-clicked-{email}"),
                event("PURCHASED", email, minutes=4, amount="5.00", id=f"gone-bought-{email}"),
            ]
        answer = await served.post(
            "/events", json=setup, headers=organization.headers(Role.INTEGRATION)
        )
        assert answer.json() == {"accepted": len(setup), "duplicates": 0, "unmatched": 0}
        assert len(setup) == len(EMAILS) + len(GONE) * GONE_HISTORY
        async with database.read() as connection:
            rows = await connection.execute(
                select(Recipient.id, Contact.id.label("contact_id"), Contact.email).join(
                    Contact, Contact.id == Recipient.contact_id
                )
            )
            recipients, contacts = {}, {}
            for row in rows:
                recipients[row.email] = str(global_id("Recipient", row.id))
                contacts[row.email] = str(global_id("Contact", row.contact_id))

        generator = random.Random(2026)
        sent: list[tuple[str, str, str, int]] = []  # (kind, email, type, amount cents)
        calls = []
        gone = iter(GONE)
        for number in range(REQUESTS):
            email = generator.choice(EMAILS)
            kind = KINDS[number % len(KINDS)]
            type = generator.choice(["OPENED", "CLICKED", "PURCHASED", "RESPONDED"])
            if kind == "webhook":
                type = generator.choice(["OPENED", "CLICKED"])
            if kind == "delete":
                email, type = next(gone), "DELETE"
            cents = generator.randint(1, 10_000) if type == "PURCHASED" else 0
            amount = {"amount": str(Decimal(cents) / 100)} if cents else {}
            minute = generator.randint(1, 60)
            if kind == "event":
                # Each batch also brings a new contact: new and existing recipients in one batch.
                batch = [
                    event(type, email, minutes=minute, id=f"storm-{number}", **amount),
                    event("SENT", f"new{number}@example.com", id=f"new-{number}"),
                ]
                calls.append(
                    served.post(
                        "/events", json=batch, headers=organization.headers(Role.INTEGRATION)
                    )
                )
            elif kind == "record":
                input = {"campaignId": campaign, "email": email, "type": type,
                         "occurredAt": event(type, email, minutes=minute)["occurredAt"], **amount}  # fmt: skip
                calls.append(graphql(served, organization, RECORD, input))
            elif kind == "update":
                input = {"recipientId": recipients[email], "type": type,
                         "occurredAt": event(type, email, minutes=minute)["occurredAt"], **amount}  # fmt: skip
                calls.append(graphql(served, organization, UPDATE, input))
            elif kind == "webhook":
                calls.append(
                    served.post(
                        f"/webhooks/postmark/{organization.name}",
                        json=postmark_record(type, email, number, minute),
                        auth=postmark_auth,
                    )
                )
            else:
                input = {"campaignId": campaign, "contactId": contacts[email],
                         "note": DELETION_NOTE}  # fmt: skip
                calls.append(graphql(served, organization, DELETE, input))
            sent.append((kind, email, type, cents))
        assert len(calls) == REQUESTS and next(gone, None) is None
        storm_started = datetime.now(UTC)

        results = await asyncio.gather(*calls)

        response_ids = []
        for (kind, _, _, _), result in zip(sent, results, strict=True):
            if kind == "event":
                assert result.status_code == 200, result.text
                assert result.json() == {"accepted": 2, "duplicates": 0, "unmatched": 0}
            elif kind == "webhook":
                assert result.status_code == 200, result.text
                assert result.json() == {"accepted": 1, "duplicates": 0, "unmatched": 0}
            elif kind == "delete":
                assert result["deletedCount"] == GONE_HISTORY
                assert result["recipient"] == {"status": "QUEUED", "opens": 0, "clicks": 0}
            else:
                response_ids.append(result["response"]["id"])
        assert len(set(response_ids)) == len(response_ids)
        engaged = [entry for entry in sent if entry[0] != "delete"]

        # Exactly once in the history: every event key and every manual response, no more.
        async with database.read() as connection:
            stored = (
                await connection.execute(
                    select(
                        Response.id, Response.event_key, Response.source, Response.provider
                    ).where(
                        Response.organization_id == organization.id,
                        Response.deleted_at.is_(None),
                    )
                )
            ).all()
            deleted = (
                await connection.execute(
                    select(
                        Contact.email,
                        Response.event_key,
                        Response.deleted_at,
                        Response.deleted_by,
                        Response.deletion_note,
                    )
                    .join(Contact, Contact.id == Response.contact_id)
                    .where(
                        Response.organization_id == organization.id,
                        Response.deleted_at.is_not(None),
                    )
                )
            ).all()
            gone_recipients = (
                await connection.execute(
                    select(Recipient.status, Recipient.opens, Recipient.clicks)
                    .join(Contact, Contact.id == Recipient.contact_id)
                    .where(Contact.email.in_(GONE))
                )
            ).all()
            opens_by_recipient = dict(
                (
                    await connection.execute(
                        select(Contact.email, Recipient.opens)
                        .join(Contact, Contact.id == Recipient.contact_id)
                        .where(Contact.email.in_(EMAILS))
                    )
                ).all()
            )
            assert await reconcile(connection) == []
            total = (
                await connection.execute(select(func.count()).select_from(Response))
            ).scalar_one()
        keys = Counter(row.event_key for row in stored)
        assert max(keys.values()) == 1
        for number, (kind, _, _, _) in enumerate(sent):
            if kind == "event":
                assert keys[f"canonical:storm-{number}"] == 1
                assert keys[f"canonical:new-{number}"] == 1
        assert {str(global_id("Response", row.id)) for row in stored if row.source == "MANUAL"} == set(
            response_ids
        )  # fmt: skip
        webhooks = sum(1 for kind, _, _, _ in sent if kind == "webhook")
        assert sum(1 for row in stored if row.provider == "postmark") == webhooks
        new_contacts = sum(1 for kind, _, _, _ in sent if kind == "event")
        assert len(stored) == len(EMAILS) + len(engaged) + new_contacts
        assert total == len(stored) + len(GONE) * GONE_HISTORY

        # The deleted histories are kept, each row with when, by whom and why.
        assert Counter(row.email for row in deleted) == dict.fromkeys(GONE, GONE_HISTORY)
        assert {row.event_key for row in deleted} == {
            f"canonical:{e['id']}" for e in setup if e["contact"]["email"] in GONE
        }
        for row in deleted:
            deleted_at = (
                row.deleted_at if row.deleted_at.tzinfo else row.deleted_at.replace(tzinfo=UTC)
            )
            assert storm_started - timedelta(seconds=1) <= deleted_at <= datetime.now(UTC)
            assert row.deleted_by and row.deletion_note == DELETION_NOTE
        assert sorted(gone_recipients) == [("QUEUED", 0, 0)] * len(GONE)

        # ... and exactly once in the statistics, recomputed here from what was sent.
        by_type = Counter(type for _, _, type, _ in engaged)
        opened = {email for _, email, type, _ in engaged if type in ("OPENED", "CLICKED")}
        clicked = {email for _, email, type, _ in engaged if type == "CLICKED"}
        purchased = {email for _, email, type, _ in engaged if type == "PURCHASED"}
        responded = {email for _, email, type, _ in engaged if type == "RESPONDED"}
        revenue = sum(cents for _, _, _, cents in engaged)
        # Only the webhook clicks name a link (the deleted clicks on it count no more).
        link_clickers = Counter(
            email for kind, email, type, _ in engaged if kind == "webhook" and type == "CLICKED"
        )
        response = await served.post(
            "/graphql",
            json={"query": STATS, "variables": {"id": campaign}},
            headers=organization.headers(Role.VIEWER),
        )
        node = response.json()["data"]["node"]
        assert node["stats"] == {
            "recipients": len(EMAILS) + new_contacts + len(GONE),
            "sent": len(EMAILS) + new_contacts,
            "notSent": 0,
            "delivered": len(opened),
            "opened": len(opened),
            "opens": by_type["OPENED"],
            "clicked": len(clicked),
            "clicks": by_type["CLICKED"],
            "purchases": len(purchased),
            "revenue": str((Decimal(revenue) / 100).quantize(Decimal("0.01"))),
            "responded": len(responded),
        }
        assert node["funnel"] == {
            "notReceived": len(EMAILS) + new_contacts + len(GONE) - len(opened),
            "received": 0,
            "opened": len(opened - clicked),
            "clicked": len(clicked),
            "optedOut": 0,
        }
        assert node["links"] == [
            {
                "url": PRICING,
                "clicks": sum(link_clickers.values()),
                "clicked": len(link_clickers),
            }
        ]
        for email in EMAILS:
            expected = sum(1 for _, e, type, _ in engaged if e == email and type == "OPENED")
            assert opens_by_recipient[email] == expected
    finally:
        await database.dispose()


async def test_a_write_aborted_by_a_deadlock_is_retried_whole(database, organization) -> None:
    """Two writers lock two rows in opposite orders: PostgreSQL aborts one, which runs again."""
    if database.sqlite:
        pytest.skip("SQLite has one writer at a time: writers never deadlock")
    async with database.write() as connection:
        ids = [
            (
                await connection.execute(
                    insert(Contact)
                    .values(organization_id=organization.id, email=email, name="")
                    .returning(Contact.id)
                )
            ).scalar_one()
            for email in ("a@example.com", "b@example.com")
        ]
    holding = {"1": asyncio.Event(), "2": asyncio.Event()}
    attempts = Counter()

    def writer(mark: str, order: list[int], other: str) -> Any:
        async def work(connection: Any) -> None:
            attempts[mark] += 1
            for position, contact_id in enumerate(order):
                await connection.execute(
                    update(Contact).where(Contact.id == contact_id).values(name=Contact.name + mark)
                )
                if position == 0:
                    holding[mark].set()
                    await holding[other].wait()

        return work

    await asyncio.gather(
        database.retrying_write(writer("1", ids, "2")),
        database.retrying_write(writer("2", ids[::-1], "1")),
    )
    assert sorted(attempts.values()) == [1, 2]
    async with database.read() as connection:
        names = (
            await connection.execute(select(Contact.name).where(Contact.id.in_(ids)))
        ).scalars()
        # Each writer's change is in each row exactly once: the aborted attempt left nothing.
        assert sorted("".join(sorted(name)) for name in names) == ["12", "12"]
