"""Mailgun webhooks: one signed {signature, event-data} per POST, as Mailgun documents them."""

import asyncio
import hashlib
import hmac
import itertools
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import select, text

from app.database import Database
from app.ingest.providers.adapter import SignatureError
from app.models import SeenToken, UnmatchedEvent
from app.routes.webhooks import check_replay
from tests.factories import BASE_TIME, graphql, make_campaign, make_organization
from tests.webhook_helpers import configure, recipients, stats, stored, unmatched_kinds

SIGNING_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
T0 = BASE_TIME.timestamp()
_tokens = itertools.count(1)
CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36"
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)


def event_data(
    event: str, recipient: str, seconds: float, event_id: str, **fields: Any
) -> dict[str, Any]:
    """event-data with Mailgun's documented fields; our metadata in user-variables."""
    return {
        "event": event,
        "id": event_id,
        "timestamp": T0 + seconds,
        "log-level": "info",
        "recipient": recipient,
        "recipient-domain": recipient.split("@")[1],
        "tags": ["spring"],
        "envelope": {"sender": "news@mg.example.org", "transport": "smtp", "targets": recipient},
        "message": {
            "headers": {
                "to": recipient,
                "message-id": f"20261120090000.{recipient[:3]}@mg.example.org",
                "from": "News <news@mg.example.org>",
                "subject": "Spring sale",
            },
            "size": 4211,
        },
        "flags": {"is-authenticated": True, "is-test-mode": False},
        "user-variables": {"campaign": "spring", "contact": f"c-{recipient[:3]}"},
        **fields,
    }


def client_info(user_agent: str, bot: str = "") -> dict[str, Any]:
    return {
        "client-name": "Chrome" if not bot else "unknown",
        "client-type": "browser" if not bot else "unknown",
        "user-agent": user_agent,
        "device-type": "desktop" if not bot else "unknown",
        "client-os": "OS X" if not bot else "unknown",
        "bot": bot,
    }


EVENTS = [
    event_data("accepted", "ann@example.com", 0, "mg-1", method="HTTP"),
    event_data("delivered", "ann@example.com", 3, "mg-2",
               **{"delivery-status": {"code": 250, "message": "OK", "description": "", "attempt-no": 1}}),
    event_data("opened", "ann@example.com", 600, "mg-3", ip="50.56.129.169",
               geolocation={"country": "US", "region": "CA", "city": "San Francisco"},
               **{"client-info": client_info(CHROME)}),
    event_data("clicked", "ann@example.com", 640, "mg-4", ip="50.56.129.169", url="https://example.com/pricing",
               geolocation={"country": "US", "region": "CA", "city": "San Francisco"},
               **{"client-info": client_info(CHROME)}),
    event_data("accepted", "bob@example.com", 0, "mg-5"),
    event_data("failed", "bob@example.com", 5, "mg-6", severity="permanent", reason="bounce",
               **{"delivery-status": {"code": 550, "attempt-no": 1, "description": "",
                                      "message": "5.1.1 The email account that you tried to reach does not exist."}}),
    event_data("accepted", "cy@example.com", 0, "mg-7"),
    event_data("failed", "cy@example.com", 60, "mg-8", severity="temporary", reason="generic",
               **{"delivery-status": {"code": 452, "attempt-no": 1, "description": "",
                                      "message": "4.2.2 The email account that you tried to reach is over quota."}}),
    event_data("failed", "dee@example.com", 0, "mg-9", severity="permanent", reason="suppress-bounce",
               **{"delivery-status": {"code": 605, "message": "", "description": "Not delivering to previously bounced address"}}),
    event_data("accepted", "eve@example.com", 0, "mg-10"),
    event_data("delivered", "eve@example.com", 2, "mg-11"),
    event_data("opened", "eve@example.com", 5, "mg-12", ip="17.58.100.1",
               geolocation={"country": "US", "region": "Unknown", "city": "Unknown"},
               **{"client-info": client_info("Mozilla/5.0", bot="apple")}),
    event_data("complained", "eve@example.com", 900, "mg-13"),
    event_data("unsubscribed", "ann@example.com", 1200, "mg-14", ip="50.56.129.169"),
    event_data("stored", "ann@example.com", 1, "mg-15"),
]  # fmt: skip


def signature(timestamp: str | None = None, token: str | None = None) -> dict[str, str]:
    timestamp = timestamp or str(int(time.time()))
    token = token or hashlib.sha256(f"token-{next(_tokens)}".encode()).hexdigest()[:50]
    digest = hmac.new(SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return {"timestamp": timestamp, "token": token, "signature": digest.hexdigest()}


async def post(client: Any, organization: Any, payload: Any) -> Any:
    return await client.post(
        f"/webhooks/mailgun/{organization.name}",
        content=orjson.dumps(payload),
        headers={"Content-Type": "application/json"},
    )


async def post_all(client: Any, organization: Any, events: list[dict[str, Any]]) -> dict[str, int]:
    totals = {"accepted": 0, "duplicates": 0, "unmatched": 0}
    for data in events:
        response = await post(client, organization, {"signature": signature(), "event-data": data})
        assert response.status_code == 200, response.text
        for name, value in response.json().items():
            totals[name] += value
    return totals


@pytest.fixture
async def mailgun(database: Any, organization: Any, client: Any) -> Any:
    await configure(database, organization, "mailgun", {"signing_key": SIGNING_KEY})
    await make_campaign(client, organization, "spring")
    return organization


EXPECTED = {
    # ann: delivered, opened, clicked, unsubscribed; bob: permanent failure (hard);
    # cy: temporary failure (deferred: Mailgun retries); dee: suppressed by Mailgun (dropped);
    # eve: delivered, Apple MPP open flagged by Mailgun, complained.
    "recipients": 5, "sent": 5, "notSent": 0, "delivered": 2, "deferred": 1, "dropped": 1,
    "bounced": 1, "hardBounced": 1, "softBounced": 0, "opened": 2, "opens": 2, "clicked": 1,
    "clicks": 1, "complained": 1, "unsubscribed": 1, "machineOpens": 1, "botClicks": 0,
}  # fmt: skip


@pytest.mark.fresh_database
async def test_signed_events_become_statistics(client, mailgun, database) -> None:
    totals = await post_all(client, mailgun, EVENTS)
    assert totals == {"accepted": 14, "duplicates": 0, "unmatched": 1}
    assert await stats(client, mailgun) == EXPECTED
    people = await recipients(client, mailgun)
    assert people["bob@example.com"]["bounce"] == {"type": "HARD", "category": "USER_NOT_FOUND"}
    assert people["cy@example.com"]["status"] == "DEFERRED"
    assert people["cy@example.com"]["bounce"] is None
    assert people["dee@example.com"]["skipReason"] == "PREVIOUSLY_BOUNCED"
    assert await unmatched_kinds(database) == [("mailgun", "stored")]
    # Geolocation from Mailgun; "Unknown" is no place.
    body = await graphql(
        client, mailgun,
        'query { campaign(externalId: "spring") { engagement(dimension: COUNTRY) { value opens opened } } }',
    )  # fmt: skip
    assert body["data"]["campaign"]["engagement"] == [{"value": "US", "opens": 2, "opened": 2}]


async def test_replays_reordered_and_duplicated_change_nothing(client, mailgun, database) -> None:
    await post_all(client, mailgun, EVENTS)
    before = await stored(database)
    # Mailgun retries with new signatures: every event again, reversed, some twice.
    totals = await post_all(client, mailgun, list(reversed(EVENTS)) + EVENTS[:3])
    assert totals == {"accepted": 0, "duplicates": len(EVENTS) + 3, "unmatched": 0}
    assert await stats(client, mailgun) == EXPECTED
    assert {k: v for k, v in (await stored(database)).items() if k != "tokens"} == {
        k: v for k, v in before.items() if k != "tokens"
    }


async def test_the_same_request_again_is_a_duplicate_but_its_token_with_another_body_is_refused(
    client, mailgun, database
) -> None:
    payload = {"signature": signature(), "event-data": EVENTS[0]}
    assert (await post(client, mailgun, payload)).json()["accepted"] == 1
    again = await post(client, mailgun, payload)
    assert again.status_code == 200
    assert again.json() == {"accepted": 0, "duplicates": 1, "unmatched": 0}
    before = await stored(database)
    replayed = {"signature": payload["signature"], "event-data": EVENTS[1]}
    response = await post(client, mailgun, replayed)
    assert response.status_code == 401
    assert "replay" in response.json()["error"]
    assert await stored(database) == before


@pytest.mark.parametrize(
    "tamper", ["signature", "timestamp", "token", "stale", "future", "missing", "key"]
)
async def test_a_bad_signature_is_401_and_stores_nothing(client, mailgun, database, tamper) -> None:
    block = signature()
    if tamper == "signature":
        block["signature"] = block["signature"][:-1] + (
            "0" if block["signature"][-1] != "0" else "1"
        )
    elif tamper == "timestamp":
        block["timestamp"] = str(int(block["timestamp"]) - 1)
    elif tamper == "token":
        block["token"] = block["token"][::-1]
    elif tamper == "stale":
        block = signature(timestamp=str(int(time.time()) - 16 * 60))
    elif tamper == "future":
        block = signature(timestamp=str(int(time.time()) + 16 * 60))
    elif tamper == "key":
        digest = hmac.new(
            b"another-signing-key", f"{block['timestamp']}{block['token']}".encode(), hashlib.sha256
        )
        block["signature"] = digest.hexdigest()
    payload: dict[str, Any] = {"signature": block, "event-data": EVENTS[1]}
    if tamper == "missing":
        del payload["signature"]
    before = await stored(database)
    response = await post(client, mailgun, payload)
    assert response.status_code == 401, response.text
    assert await stored(database) == before


async def test_a_malformed_body_is_400(client, mailgun, database) -> None:
    before = await stored(database)
    cases = [
        (b"signature=abc", "not JSON"),
        (orjson.dumps({"signature": signature()}), "'event-data' is required"),
    ]
    for body, reason in cases:
        response = await client.post(f"/webhooks/mailgun/{mailgun.name}", content=body)
        assert response.status_code == 400, response.text
        assert reason in response.json()["error"]
    assert await stored(database) == before


async def test_a_malformed_signed_event_is_kept_with_its_reason(client, mailgun, database) -> None:
    # Signed by Mailgun, so Mailgun's: answered 200 (Mailgun would retry, then drop it) and kept.
    for data, reason in (
        ({"id": "x", "timestamp": T0}, "event-data.event"),
        ({**EVENTS[5], "severity": "mild"}, "severity"),
    ):
        response = await post(client, mailgun, {"signature": signature(), "event-data": data})
        assert response.status_code == 200, response.text
        assert response.json() == {"accepted": 0, "duplicates": 0, "unmatched": 1}
        async with database.read() as connection:
            kept = (
                await connection.execute(
                    select(UnmatchedEvent.reason, UnmatchedEvent.payload)
                    .where(UnmatchedEvent.organization_id == mailgun.id)
                    .order_by(UnmatchedEvent.id.desc())
                )
            ).first()
        assert kept is not None and reason in kept.reason
        assert kept.payload["raw"] == data
    assert (await stats(client, mailgun))["recipients"] == 0


@pytest.mark.fresh_database
async def test_one_token_with_two_bodies_at_once_lets_one_through(
    client, mailgun, database
) -> None:
    block = signature()
    first, second = (
        post(client, mailgun, {"signature": block, "event-data": data})
        for data in (EVENTS[0], EVENTS[4])
    )
    responses = await asyncio.gather(first, second)
    assert sorted(response.status_code for response in responses) == [200, 401]
    counts = await stored(database)
    assert (counts["responses"], counts["tokens"]) == (1, 1)


@pytest.mark.fresh_database
async def test_the_token_is_the_key_even_across_concurrent_transactions(mailgun, database) -> None:
    now = datetime.now(UTC)
    seen = asyncio.Event()

    async def first() -> None:
        async with database.write() as connection:
            await check_replay(connection, "mailgun", mailgun.id, "tok-1", "digest-a", now)
            seen.set()
            await asyncio.sleep(0.3)  # the second request runs meanwhile

    async def second() -> None:
        await seen.wait()
        # Waits for the first transaction (PostgreSQL: on the key; SQLite: the write lock),
        # then finds the token taken with another body.
        async with database.write() as connection:
            await check_replay(connection, "mailgun", mailgun.id, "tok-1", "digest-b", now)

    results = await asyncio.gather(first(), second(), return_exceptions=True)
    assert results[0] is None
    assert isinstance(results[1], SignatureError)
    # The same body again is a retry; another organization's token space is its own.
    other = await make_organization(database)
    async with database.write() as connection:
        await check_replay(connection, "mailgun", mailgun.id, "tok-1", "digest-a", now)
        await check_replay(connection, "mailgun", other.id, "tok-1", "digest-b", now)
    async with database.read() as connection:
        rows = (
            await connection.execute(
                select(SeenToken.organization_id, SeenToken.token, SeenToken.digest).order_by(
                    SeenToken.organization_id
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        (mailgun.id, "tok-1", "digest-a"),
        (other.id, "tok-1", "digest-b"),
    ]


@pytest.mark.fresh_database
def test_the_migration_carries_old_replay_tokens_over(database_url: str) -> None:
    from alembic import command

    from app.migrate import alembic_config, upgrade

    config = alembic_config(database_url)
    command.downgrade(config, "0001")
    seen_at = datetime.now(UTC).replace(microsecond=0)

    async def old_rows() -> None:
        database = Database.from_url(database_url)
        try:
            async with database.write() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO seen_tokens (provider, token, seen_at) "
                        "VALUES ('mailgun', '7:abc:d1', :at), ('mailgun', 'garbage', :at)"
                    ),
                    {"at": seen_at if not database.sqlite else seen_at.replace(tzinfo=None)},
                )
        finally:
            await database.dispose()

    async def new_rows() -> list[tuple[Any, ...]]:
        database = Database.from_url(database_url)
        try:
            async with database.read() as connection:
                result = await connection.execute(
                    select(
                        SeenToken.provider,
                        SeenToken.organization_id,
                        SeenToken.token,
                        SeenToken.digest,
                        SeenToken.seen_at,
                    )
                )
                return [tuple(row) for row in result]
        finally:
            await database.dispose()

    asyncio.run(old_rows())
    upgrade(database_url)
    assert asyncio.run(new_rows()) == [("mailgun", 7, "abc", "d1", seen_at)]


@pytest.mark.parametrize(
    ("bot", "machine"), [("", False), ("gmail", False), ("apple", True), ("generic", True)]
)
async def test_client_info_bot_values(client, mailgun, bot, machine) -> None:
    # Mailgun documents client-info.bot as "apple" (Apple MPP), "gmail" (Gmail's image proxy,
    # which fetches as the person opens), "generic" (a scanner or firewall) or empty.
    agent = GMAIL_PROXY if bot == "gmail" else CHROME if not bot else "Mozilla/5.0"
    events = [
        EVENTS[0],
        event_data("opened", "ann@example.com", 600, "mg-open", ip="66.249.93.84",
                   **{"client-info": client_info(agent, bot=bot)}),
        event_data("clicked", "ann@example.com", 700, "mg-click", ip="66.249.93.84",
                   url="https://example.com/pricing", **{"client-info": client_info(agent, bot=bot)}),
    ]  # fmt: skip
    await post_all(client, mailgun, events)
    numbers = await stats(client, mailgun)
    assert (numbers["opened"], numbers["clicked"]) == (1, 1)
    assert (numbers["machineOpens"], numbers["botClicks"]) == ((1, 1) if machine else (0, 0))
    human = await stats(client, mailgun, human_only=True)
    assert (human["opened"], human["clicked"]) == ((0, 0) if machine else (1, 1))


TEMPORARY = {"code": 452, "attempt-no": 1, "description": "",
             "message": "4.2.2 The email account that you tried to reach is over quota."}  # fmt: skip
TOO_OLD = {"code": 0, "attempt-no": 9, "message": "", "description": "Too old"}


@pytest.mark.parametrize(
    ("then", "status", "numbers"),
    [
        # Mailgun retried and delivered: delivered, never bounced.
        (("delivered", {"delivery-status": {"code": 250, "message": "OK"}}), "DELIVERED",
         {"delivered": 1, "deferred": 0, "bounced": 0, "hardBounced": 0, "softBounced": 0}),
        # Mailgun gave up with a permanent failure: a hard bounce.
        (("failed", {"severity": "permanent", "reason": "bounce", "delivery-status": {
            "code": 550, "message": "5.1.1 The email account that you tried to reach does not exist."}}),
         "BOUNCED", {"delivered": 0, "deferred": 0, "bounced": 1, "hardBounced": 1, "softBounced": 0}),
        # "Too old": retries ran out; the address may work, so a soft bounce.
        (("failed", {"severity": "permanent", "reason": "old", "delivery-status": TOO_OLD}),
         "BOUNCED", {"delivered": 0, "deferred": 0, "bounced": 1, "hardBounced": 0, "softBounced": 1}),
    ],
)  # fmt: skip
async def test_a_temporary_failure_is_deferred_until_mailgun_decides(
    client, mailgun, then, status, numbers
) -> None:
    events = [
        event_data("accepted", "max@example.com", 0, "mg-t1"),
        event_data("failed", "max@example.com", 60, "mg-t2", severity="temporary",
                   reason="generic", **{"delivery-status": TEMPORARY}),
    ]  # fmt: skip
    await post_all(client, mailgun, events)
    people = await recipients(client, mailgun)
    assert (people["max@example.com"]["status"], people["max@example.com"]["bounce"]) == (
        "DEFERRED",
        None,
    )
    kind, fields = then
    await post_all(client, mailgun, [event_data(kind, "max@example.com", 7200, "mg-t3", **fields)])
    counted = await stats(client, mailgun)
    assert {name: counted[name] for name in numbers} == numbers
    assert (await recipients(client, mailgun))["max@example.com"]["status"] == status
