"""Postmark webhooks: one record per POST with basic auth or a secret header, as Postmark documents."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.credentials import postmark_settings
from app.models import UnmatchedEvent
from tests.factories import BASE_TIME, make_campaign
from tests.webhook_helpers import (
    basic_auth,
    configure,
    post_webhook,
    recipients,
    stats,
    stored,
    unmatched_kinds,
)

USERNAME, PASSWORD = "postmark", "correct horse battery staple"
HEADER, SECRET = "X-Webhook-Secret", "s3cr3t-header-value-0123456789"


def at(seconds: float) -> str:
    # Postmark writes seven fractional digits.
    moment = BASE_TIME + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}1Z"


def metadata() -> dict[str, str]:
    return {"campaign": "spring", "variant": "A"}


def record(record_type: str, email: str, **fields: Any) -> dict[str, Any]:
    return {
        "RecordType": record_type,
        "MessageID": f"883953f4-6105-42a2-a16a-{email[:3]}77a8eac79483",
        "ServerID": 23,
        "MessageStream": "outbound",
        "Tag": "spring",
        "Metadata": metadata(),
        **fields,
    }


def delivery(email: str, seconds: float) -> dict[str, Any]:
    return record("Delivery", email, Recipient=email, DeliveredAt=at(seconds),
                  Details="Test delivery webhook details")  # fmt: skip


def bounce(
    email: str, seconds: float, bounce_id: int, type: str, code: int, name: str, details: str
) -> dict[str, Any]:
    return record(
        "Bounce", email, ID=bounce_id, Type=type, TypeCode=code, Name=name, Email=email,
        From="news@example.org", BouncedAt=at(seconds), Details=details, Inactive=code == 1,
        CanActivate=True, DumpAvailable=False, Subject="Spring sale",
        Description="The server was unable to deliver your message (ex: unknown user, mailbox not found).",
    )  # fmt: skip


GEO = {"CountryISOCode": "RS", "Country": "Serbia", "RegionISOCode": "VO",
       "Region": "Autonomna Pokrajina Vojvodina", "City": "Novi Sad", "Zip": "21000",
       "Coords": "45.2517,19.8369", "IP": "188.2.95.4"}  # fmt: skip
CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/35.0.1916.153 Safari/537.36"
CLIENT = {"Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
          "OS": {"Name": "OS X 10.7 Lion", "Company": "Apple Computer, Inc.", "Family": "OS X 10"},
          "Platform": "WebMail", "UserAgent": CHROME, "Geo": GEO}  # fmt: skip
RECORDS = [
    delivery("ann@example.com", 3),
    record("Open", "ann@example.com", Recipient="ann@example.com", ReceivedAt=at(600), FirstOpen=True,
           ReadSeconds=5, **CLIENT),
    record("Click", "ann@example.com", Recipient="ann@example.com", ReceivedAt=at(660), ClickLocation="HTML",
           OriginalLink="https://example.com/pricing", **CLIENT),
    bounce("bob@example.com", 5, 4323372036854775807, "HardBounce", 1, "Hard bounce",
           "smtp;550 5.1.1 The email account that you tried to reach does not exist."),
    bounce("cy@example.com", 60, 4323372036854775808, "Transient", 2, "Message delayed / Undeliverable",
           "smtp;421 4.4.2 Connection timed out"),
    bounce("dee@example.com", 1, 4323372036854775809, "BadEmailAddress", 100000, "Invalid email address",
           "Invalid email address"),
    delivery("eve@example.com", 2),
    record("SpamComplaint", "eve@example.com", ID=4323372036854775810, Type="SpamComplaint", TypeCode=512,
           Name="Spam complaint", Email="eve@example.com", BouncedAt=at(900), Details="Test spam complaint details"),
    delivery("fay@example.com", 4),
    record("SubscriptionChange", "fay@example.com", Recipient="fay@example.com", ChangedAt=at(1200),
           Origin="Recipient", SuppressSending=True, SuppressionReason="ManualSuppression"),
    bounce("gus@example.com", 30, 4323372036854775811, "AutoResponder", 64, "Auto responder",
           "Out of office until Monday"),
]  # fmt: skip


def basic(username: str = USERNAME, password: str = PASSWORD) -> dict[str, str]:
    return basic_auth(username, password)


async def post(
    client: Any, organization: Any, body: Any, headers: dict[str, str] | None = None
) -> Any:
    return await post_webhook(
        client, "postmark", organization, body, basic() if headers is None else headers
    )


@pytest.fixture
async def postmark(database: Any, organization: Any, client: Any) -> Any:
    await configure(database, organization, "postmark", postmark_settings(USERNAME, PASSWORD))
    await make_campaign(client, organization, "spring")
    return organization


EXPECTED = {
    # ann delivered, opened, clicked; bob hard bounce; cy transient (soft); dee bad address
    # (hard); eve delivered and complained; fay delivered and unsubscribed; gus's auto reply
    # is no delivery fate: kept unmatched, gus is no recipient.
    "recipients": 6, "sent": 6, "notSent": 0, "delivered": 3, "deferred": 0, "dropped": 0,
    "bounced": 3, "hardBounced": 2, "softBounced": 1, "opened": 1, "opens": 1, "clicked": 1,
    "clicks": 1, "complained": 1, "unsubscribed": 1, "machineOpens": 0, "botClicks": 0,
}  # fmt: skip


@pytest.mark.fresh_database
async def test_records_become_statistics(client, postmark, database) -> None:
    totals = {"accepted": 0, "duplicates": 0, "unmatched": 0}
    for item in RECORDS:
        response = await post(client, postmark, item)
        assert response.status_code == 200, response.text
        totals = {k: totals[k] + v for k, v in response.json().items()}
    assert totals == {"accepted": 10, "duplicates": 0, "unmatched": 1}
    assert await stats(client, postmark) == EXPECTED
    people = await recipients(client, postmark)
    assert people["bob@example.com"]["bounce"] == {"type": "HARD", "category": "USER_NOT_FOUND"}
    # 4.4.2 is "bad connection" (RFC 3463): no answer.
    assert people["cy@example.com"]["bounce"] == {"type": "SOFT", "category": "NO_ANSWER"}
    assert people["dee@example.com"]["bounce"] == {"type": "HARD", "category": "INVALID_ADDRESS"}
    assert people["fay@example.com"]["status"] == "UNSUBSCRIBED"
    assert await unmatched_kinds(database) == [("postmark", "Bounce/AutoResponder")]


async def test_replays_reordered_and_duplicated_change_nothing(client, postmark, database) -> None:
    for item in RECORDS:
        await post(client, postmark, item)
    before = await stored(database)
    replay = list(reversed(RECORDS)) + RECORDS[:3]
    response = await post(client, postmark, replay)  # a JSON array of records is accepted too
    assert response.json() == {"accepted": 0, "duplicates": len(replay), "unmatched": 0}
    assert await stats(client, postmark) == EXPECTED
    assert await stored(database) == before


async def test_the_secret_header_works_instead_of_basic_auth(
    client, database, organization
) -> None:
    await configure(
        database,
        organization,
        "postmark",
        postmark_settings(header_name=HEADER, header_secret=SECRET),
    )
    await make_campaign(client, organization, "spring")
    response = await post(client, organization, RECORDS[0], {HEADER: SECRET})
    assert response.json()["accepted"] == 1
    before = await stored(database)
    assert (await post(client, organization, RECORDS[1], {HEADER: SECRET + "x"})).status_code == 401
    assert (await post(client, organization, RECORDS[1], {})).status_code == 401
    assert await stored(database) == before


@pytest.mark.parametrize(
    "headers",
    [
        basic(password="wrong password!"),
        basic(username="someone"),
        {},
        {"Authorization": "Basic %%%"},
        {"Authorization": "Bearer " + PASSWORD},
    ],
)
async def test_wrong_credentials_are_401_and_store_nothing(
    client, postmark, database, headers
) -> None:
    before = await stored(database)
    response = await post(client, postmark, RECORDS[0], headers)
    assert response.status_code == 401, response.text
    assert await stored(database) == before


async def test_a_malformed_record_is_400(client, postmark, database) -> None:
    before = await stored(database)
    response = await post(client, postmark, b"RecordType=Delivery")
    assert response.status_code == 400, response.text
    assert "not JSON" in response.json()["error"]
    assert await stored(database) == before


async def test_malformed_records_are_kept_with_their_reasons(client, postmark, database) -> None:
    no_time = {k: v for k, v in RECORDS[0].items() if k != "DeliveredAt"}
    for body, reason in (
        ({"MessageID": "x"}, "RecordType"),
        (no_time, "DeliveredAt is required"),
        ({**RECORDS[0], "DeliveredAt": "last tuesday"}, "ISO 8601"),
    ):
        response = await post(client, postmark, body)
        assert response.status_code == 200, response.text
        assert response.json() == {"accepted": 0, "duplicates": 0, "unmatched": 1}
        async with database.read() as connection:
            kept = (
                await connection.execute(
                    select(UnmatchedEvent.reason)
                    .where(UnmatchedEvent.organization_id == postmark.id)
                    .order_by(UnmatchedEvent.id.desc())
                )
            ).first()
        assert kept is not None and reason in kept.reason
    assert (await stats(client, postmark))["recipients"] == 0
