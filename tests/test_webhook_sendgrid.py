"""SendGrid Event Webhook: signed batches shaped as SendGrid documents them, in, statistics out."""

import asyncio
import base64
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from app.ingest.providers.ingest import ingest_provider_events
from app.ingest.providers.sendgrid import SIGNATURE_HEADER, TIMESTAMP_HEADER, normalize
from app.models import UnmatchedEvent
from tests.factories import BASE_TIME, graphql, make_campaign
from tests.webhook_helpers import (
    ADD_RECIPIENTS,
    configure,
    recipients,
    stats,
    stored,
    unmatched_kinds,
)

PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())
# As SendGrid shows the verification key: base64 of the DER public key.
PUBLIC_KEY = base64.b64encode(
    PRIVATE_KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()
T0 = int(BASE_TIME.timestamp())


def sendgrid_event(
    event: str, email: str, seconds: int, number: int, **fields: Any
) -> dict[str, Any]:
    """An event with SendGrid's documented fields and our custom args as top-level keys."""
    return {
        "email": email,
        "timestamp": T0 + seconds,
        "smtp-id": f"<14c5d75ce93.dfd.64b469.{number}@ismtpd-555>",
        "event": event,
        "category": ["spring"],
        "sg_event_id": f"sg-event-{number}",
        "sg_message_id": f"14c5d75ce93.dfd.{email[:3]}.filter0001.16648.5515E0B88.0",
        "campaign": "spring",
        "variant": "A",
        **fields,
    }


BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36"
BATCH = [
    sendgrid_event("processed", "ann@example.com", 0, 1),
    sendgrid_event("delivered", "ann@example.com", 5, 2, response="250 OK"),
    sendgrid_event("open", "ann@example.com", 600, 3, sg_machine_open=False, useragent=BROWSER, ip="203.0.113.7"),
    sendgrid_event("click", "ann@example.com", 660, 4, useragent=BROWSER, ip="203.0.113.7",
                   url="https://example.com/pricing", url_offset={"index": 0, "type": "html"}),
    sendgrid_event("processed", "bob@example.com", 0, 5),
    sendgrid_event("bounce", "bob@example.com", 8, 6, type="bounce", status="5.1.1",
                   reason="550 5.1.1 The email account that you tried to reach does not exist",
                   bounce_classification="Invalid Address"),
    sendgrid_event("processed", "cy@example.com", 0, 7),
    sendgrid_event("deferred", "cy@example.com", 30, 8, response="400 try again later", attempt="1"),
    sendgrid_event("bounce", "cy@example.com", 900, 9, type="blocked", status="4.7.1",
                   reason="421 4.7.1 Temporarily rate limited", bounce_classification="Reputation"),
    sendgrid_event("dropped", "dee@example.com", 0, 10, reason="Unsubscribed Address", status="5.0.0"),
    sendgrid_event("processed", "eve@example.com", 0, 11),
    sendgrid_event("delivered", "eve@example.com", 4, 12, response="250 OK"),
    sendgrid_event("open", "eve@example.com", 20, 13, sg_machine_open=True, useragent="Mozilla/5.0", ip="17.58.100.1"),
    sendgrid_event("spamreport", "eve@example.com", 3600, 14),
    sendgrid_event("group_resubscribe", "fay@example.com", 100, 15, asm_group_id=10),
]  # fmt: skip


def signed(body: bytes, timestamp: str | None = None) -> dict[str, str]:
    """SendGrid's headers: the signature over timestamp + body, signed now unless told."""
    timestamp = timestamp or str(int(time.time()))
    signature = PRIVATE_KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        SIGNATURE_HEADER: base64.b64encode(signature).decode(),
        TIMESTAMP_HEADER: timestamp,
        "Content-Type": "application/json",
    }


async def post(client: Any, organization: Any, events: Any) -> Any:
    body = orjson.dumps(events)
    return await client.post(
        f"/webhooks/sendgrid/{organization.name}", content=body, headers=signed(body)
    )


@pytest.fixture
async def sendgrid(database: Any, organization: Any, client: Any) -> Any:
    await configure(database, organization, "sendgrid", {"public_key": PUBLIC_KEY})
    await make_campaign(client, organization, "spring")
    return organization


EXPECTED = {
    # ann delivered, opened and clicked; bob hard bounce; cy deferred then blocked (soft);
    # dee dropped (unsubscribed address); eve delivered, Apple MPP open, spam report.
    "recipients": 5, "sent": 5, "notSent": 0, "delivered": 2, "deferred": 0, "dropped": 1,
    "bounced": 2, "hardBounced": 1, "softBounced": 1, "opened": 2, "opens": 2, "clicked": 1,
    "clicks": 1, "complained": 1, "unsubscribed": 0, "machineOpens": 1, "botClicks": 0,
}  # fmt: skip


@pytest.mark.fresh_database
async def test_a_signed_batch_becomes_statistics(client, sendgrid, database) -> None:
    response = await post(client, sendgrid, BATCH)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 14, "duplicates": 0, "unmatched": 1}
    assert await stats(client, sendgrid) == EXPECTED
    human = await stats(client, sendgrid, human_only=True)
    assert (human["opened"], human["opens"], human["clicked"]) == (1, 1, 1)

    people = await recipients(client, sendgrid)
    assert people["bob@example.com"]["bounce"] == {"type": "HARD", "category": "USER_NOT_FOUND"}
    assert people["cy@example.com"]["bounce"] == {"type": "SOFT", "category": "SPAM_BLOCKED"}
    assert people["dee@example.com"]["status"] == "DROPPED"
    assert people["dee@example.com"]["skipReason"] == "UNSUBSCRIBED"
    assert people["eve@example.com"]["status"] == "COMPLAINED"
    # group_resubscribe has no canonical type: kept with its raw payload, not dropped.
    assert await unmatched_kinds(database) == [("sendgrid", "group_resubscribe")]


async def test_replaying_the_batch_reordered_and_duplicated_changes_nothing(
    client, sendgrid, database
) -> None:
    assert (await post(client, sendgrid, BATCH)).status_code == 200
    before = await stored(database)
    replay = list(reversed(BATCH)) + BATCH[:5]
    response = await post(client, sendgrid, replay)
    assert response.json() == {"accepted": 0, "duplicates": len(replay), "unmatched": 0}
    assert await stats(client, sendgrid) == EXPECTED
    assert await stored(database) == before


async def test_any_order_gives_the_same_numbers(client, sendgrid) -> None:
    for start in range(0, len(BATCH), 4):  # the batch in reverse, in four deliveries
        chunk = list(reversed(BATCH))[start : start + 4]
        assert (await post(client, sendgrid, chunk)).status_code == 200
    assert await stats(client, sendgrid) == EXPECTED


@pytest.mark.parametrize("tamper", ["body", "signature", "timestamp", "missing", "other key"])
async def test_a_tampered_request_is_refused_and_stores_nothing(
    client, sendgrid, database, tamper
) -> None:
    body = orjson.dumps(BATCH)
    headers = signed(body)
    if tamper == "body":
        body = body.replace(b"ann@example.com", b"mallory@example.com")
    elif tamper == "signature":
        raw = bytearray(base64.b64decode(headers[SIGNATURE_HEADER]))
        raw[-1] ^= 1
        headers[SIGNATURE_HEADER] = base64.b64encode(bytes(raw)).decode()
    elif tamper == "timestamp":
        headers[TIMESTAMP_HEADER] = str(int(headers[TIMESTAMP_HEADER]) + 1)
    elif tamper == "missing":
        del headers[SIGNATURE_HEADER]
    else:
        other = ec.generate_private_key(ec.SECP256R1())
        headers[SIGNATURE_HEADER] = base64.b64encode(
            other.sign(headers[TIMESTAMP_HEADER].encode() + body, ec.ECDSA(hashes.SHA256()))
        ).decode()
    before = await stored(database)
    response = await client.post(
        f"/webhooks/sendgrid/{sendgrid.name}", content=body, headers=headers
    )
    assert response.status_code == 401, response.text
    assert await stored(database) == before


async def test_a_malformed_body_is_400_with_the_reason(client, sendgrid, database) -> None:
    before = await stored(database)
    for body, reason in (
        (orjson.dumps({"event": "open"}), "JSON array"),
        (b"[{not json", "not JSON"),
    ):
        response = await client.post(
            f"/webhooks/sendgrid/{sendgrid.name}", content=body, headers=signed(body)
        )
        assert response.status_code == 400, response.text
        assert reason in response.json()["error"]
    assert await stored(database) == before


async def test_malformed_events_are_kept_and_their_batch_applied(
    client, sendgrid, database
) -> None:
    bad = [
        ({"email": "x@example.com", "timestamp": T0}, "'event' is required"),
        ({**BATCH[1], "timestamp": "yesterday"}, "timestamp"),
        ({**BATCH[1], "sg_event_id": "sg-event-77", "email": "not an address"}, "not an email"),
    ]
    response = await post(client, sendgrid, [BATCH[0], *(event for event, _ in bad)])
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "duplicates": 0, "unmatched": 3}
    assert (await stats(client, sendgrid))["sent"] == 1
    async with database.read() as connection:
        reasons = (
            (
                await connection.execute(
                    select(UnmatchedEvent.reason)
                    .where(UnmatchedEvent.organization_id == sendgrid.id)
                    .order_by(UnmatchedEvent.id)
                )
            )
            .scalars()
            .all()
        )
    assert len(reasons) == 3
    for reason, (_, expected) in zip(reasons, bad, strict=True):
        assert expected in reason


async def test_unknown_organization_provider_or_missing_credentials(client, organization) -> None:
    body = orjson.dumps(BATCH)
    response = await client.post(
        "/webhooks/sendgrid/no-such-org", content=body, headers=signed(body)
    )
    assert response.status_code == 401
    # The organization exists but has no SendGrid key: the same answer.
    response = await client.post(
        f"/webhooks/sendgrid/{organization.name}", content=body, headers=signed(body)
    )
    assert response.status_code == 401
    response = await client.post(f"/webhooks/no-such-esp/{organization.name}", content=body)
    assert response.status_code == 404


async def test_events_without_custom_args_match_by_message_id(client, sendgrid) -> None:
    # processed carries the custom args and records the message id on the recipient...
    assert (await post(client, sendgrid, [BATCH[0]])).status_code == 200
    # ...so a later open without them (another filter suffix, same X-Message-Id) still counts.
    bare = {k: v for k, v in BATCH[2].items() if k not in ("campaign", "variant")}
    bare["sg_message_id"] = "14c5d75ce93.dfd.ann.filter0099.16648.5515E0B88.0"
    response = await post(client, sendgrid, [bare])
    assert response.json() == {"accepted": 1, "duplicates": 0, "unmatched": 0}
    assert (await stats(client, sendgrid))["opened"] == 1
    # An unknown message id and no custom args: kept as unmatched, not dropped.
    stranger = {**bare, "sg_event_id": "sg-event-99", "sg_message_id": "unknown.filter1"}
    assert (await post(client, sendgrid, [stranger])).json()["unmatched"] == 1


async def test_a_hard_bounce_and_a_complaint_suppress_the_contacts(client, sendgrid) -> None:
    assert (await post(client, sendgrid, BATCH)).status_code == 200
    summer = await make_campaign(client, sendgrid, "summer")
    contacts = [
        {"email": e}
        for e in ("ann@example.com", "bob@example.com", "eve@example.com", "dee@example.com")
    ]
    body = await graphql(
        client, sendgrid, ADD_RECIPIENTS, {"input": {"campaignId": summer, "contacts": contacts}}
    )
    assert body["data"]["addRecipients"]["userErrors"] == []
    people = await recipients(client, sendgrid, "summer")
    assert people["bob@example.com"]["status"] == "NOT_SENT"
    assert people["bob@example.com"]["skipReason"] == "PREVIOUSLY_BOUNCED"
    assert people["eve@example.com"]["skipReason"] == "COMPLAINED"
    # A dropped event is SendGrid's own suppression; ann engaged: both may be sent.
    assert people["ann@example.com"]["status"] == "QUEUED"
    assert people["dee@example.com"]["status"] == "QUEUED"
    summer_stats = await stats(client, sendgrid, "summer")
    assert (summer_stats["recipients"], summer_stats["notSent"]) == (4, 2)


def without_custom_args(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only processed events (and dee's dropped, which has none) keep the custom args: the rest
    must be matched by message id."""
    bare = []
    for event in events:
        if event["event"] == "processed" or event["email"] == "dee@example.com":
            bare.append(event)
        else:
            bare.append({k: v for k, v in event.items() if k not in ("campaign", "variant")})
    return bare


@pytest.mark.fresh_database
@pytest.mark.parametrize("order", ["right", "reversed"])
async def test_bare_events_give_the_same_numbers_in_any_order(
    client, sendgrid, database, order
) -> None:
    events = without_custom_args(BATCH)
    if order == "reversed":
        events.reverse()  # every open, click and bounce arrives before its processed event
    for event in events:  # one delivery each: matching must work across requests
        assert (await post(client, sendgrid, [event])).status_code == 200
    assert await stats(client, sendgrid) == EXPECTED
    # Each of the 14 canonical events stored once; group_resubscribe is the only kept event.
    counts = await stored(database)
    assert counts["responses"] == 14
    async with database.read() as connection:
        waiting = (
            await connection.execute(
                select(func.count())
                .select_from(UnmatchedEvent)
                .where(UnmatchedEvent.applied_at.is_(None))
            )
        ).scalar_one()
    assert waiting == 1

    # Replays, bare or not, in any order, are duplicates and change nothing.
    replay = list(reversed(events)) + events + BATCH
    response = await post(client, sendgrid, replay)
    assert response.json() == {"accepted": 0, "duplicates": len(replay), "unmatched": 0}
    assert await stats(client, sendgrid) == EXPECTED
    assert await stored(database) == counts


async def test_a_bare_open_before_its_processed_in_one_batch_or_two(client, sendgrid) -> None:
    processed, open_ = (
        BATCH[0],
        {k: v for k, v in BATCH[2].items() if k not in ("campaign", "variant")},
    )
    # Before: kept, as nothing knows its message id yet.
    assert (await post(client, sendgrid, [open_])).json() == {
        "accepted": 0,
        "duplicates": 0,
        "unmatched": 1,
    }
    assert (await stats(client, sendgrid))["opened"] == 0
    # The processed event records the message id and the kept open is applied with it.
    assert (await post(client, sendgrid, [processed])).json()["accepted"] == 1
    numbers = await stats(client, sendgrid)
    assert (numbers["sent"], numbers["opened"], numbers["opens"]) == (1, 1, 1)
    # Sent again, the open is a duplicate: still one open.
    assert (await post(client, sendgrid, [open_])).json()["duplicates"] == 1
    assert (await stats(client, sendgrid))["opens"] == 1


@pytest.mark.parametrize("minutes", [-16, 16])
async def test_a_signed_timestamp_more_than_15_minutes_off_is_refused(
    client, sendgrid, database, minutes
) -> None:
    body = orjson.dumps(BATCH)
    before = await stored(database)
    stale = signed(body, str(int(time.time()) + minutes * 60))  # a valid signature, but old
    response = await client.post(f"/webhooks/sendgrid/{sendgrid.name}", content=body, headers=stale)
    assert response.status_code == 401, response.text
    assert "15 minutes" in response.json()["error"]
    assert await stored(database) == before
    # Within the window it is accepted.
    recent = signed(body, str(int(time.time()) - 14 * 60))
    response = await client.post(
        f"/webhooks/sendgrid/{sendgrid.name}", content=body, headers=recent
    )
    assert response.status_code == 200, response.text


async def test_an_unknown_bounce_type_counts_soft_and_does_not_suppress(client, sendgrid) -> None:
    # "bounce" and "blocked" are the documented types; a new one must not suppress for good.
    events = [
        sendgrid_event("processed", "bob@example.com", 0, 1),
        sendgrid_event("bounce", "bob@example.com", 8, 2, type="expired", status="4.4.7",
                       reason="Message expired after 72 hours", bounce_classification="Technical"),
    ]  # fmt: skip
    assert (await post(client, sendgrid, events)).json()["accepted"] == 2
    numbers = await stats(client, sendgrid)
    assert (numbers["bounced"], numbers["hardBounced"], numbers["softBounced"]) == (1, 0, 1)
    assert (await recipients(client, sendgrid))["bob@example.com"]["bounce"]["type"] == "SOFT"
    summer = await make_campaign(client, sendgrid, "summer")
    body = await graphql(
        client,
        sendgrid,
        ADD_RECIPIENTS,
        {"input": {"campaignId": summer, "contacts": [{"email": "bob@example.com"}]}},
    )
    assert body["data"]["addRecipients"]["userErrors"] == []
    assert (await recipients(client, sendgrid, "summer"))["bob@example.com"]["status"] == "QUEUED"


@pytest.mark.parametrize("first_kind", ["processed", "bare open"])
async def test_a_bare_open_racing_its_processed_event_counts(
    client, sendgrid, database, first_kind
) -> None:
    # Two transactions at once, the first holding its writes uncommitted while the second runs:
    # on PostgreSQL the message-id lock orders them, so neither misses the other's rows.
    processed = normalize(BATCH[0], 0)
    bare_open = normalize(
        {k: v for k, v in BATCH[2].items() if k not in ("campaign", "variant")}, 0
    )
    first_events, second_events = (
        ([processed], [bare_open]) if first_kind == "processed" else ([bare_open], [processed])
    )
    written = asyncio.Event()
    now = datetime.now(UTC)

    async def first() -> None:
        async with database.write() as connection:
            await ingest_provider_events(connection, sendgrid.id, first_events, now)
            written.set()
            await asyncio.sleep(0.3)

    async def second() -> None:
        await written.wait()
        async with database.write() as connection:
            await ingest_provider_events(connection, sendgrid.id, second_events, now)

    await asyncio.gather(first(), second())
    numbers = await stats(client, sendgrid)
    assert (numbers["sent"], numbers["opened"], numbers["opens"]) == (1, 1, 1)


async def test_a_bare_open_waits_for_a_campaign_created_later(client, sendgrid) -> None:
    # processed names a campaign that does not exist yet, and the open has no custom args:
    # both are kept; creating the campaign applies processed, whose message id the open needs.
    processed = {**BATCH[0], "campaign": "autumn"}
    bare_open = {k: v for k, v in BATCH[2].items() if k not in ("campaign", "variant")}
    for event in (bare_open, processed):  # two deliveries: the open cannot match in its batch
        response = await post(client, sendgrid, [event])
        assert response.json() == {"accepted": 0, "duplicates": 0, "unmatched": 1}
    await make_campaign(client, sendgrid, "autumn")
    numbers = await stats(client, sendgrid, "autumn")
    assert (numbers["sent"], numbers["opened"], numbers["opens"]) == (1, 1, 1)
    # Both are stored now: replays are duplicates.
    response = await post(client, sendgrid, [bare_open, processed])
    assert response.json() == {"accepted": 0, "duplicates": 2, "unmatched": 0}
    assert (await stats(client, sendgrid, "autumn"))["opens"] == 1


async def test_timestamps_in_milliseconds_are_accepted(client, sendgrid) -> None:
    # SendGrid's Single Send events carry milliseconds: (T0 + 5) * 1000 is T0 + 5 seconds.
    processed = sendgrid_event("processed", "ann@example.com", 0, 101)
    delivered = sendgrid_event("delivered", "ann@example.com", 0, 102)
    delivered["timestamp"] = (T0 + 5) * 1000
    response = await post(client, sendgrid, [processed, delivered])
    assert response.json() == {"accepted": 2, "duplicates": 0, "unmatched": 0}
    body = await graphql(
        client,
        sendgrid,
        """query { campaign(externalId: "spring") { recipients(first: 5) { edges { node {
             sentAt deliveredAt } } } } }""",
    )
    [edge] = body["data"]["campaign"]["recipients"]["edges"]
    assert datetime.fromisoformat(edge["node"]["sentAt"]) == datetime.fromtimestamp(T0, UTC)
    assert datetime.fromisoformat(edge["node"]["deliveredAt"]) == datetime.fromtimestamp(
        T0 + 5, UTC
    )
