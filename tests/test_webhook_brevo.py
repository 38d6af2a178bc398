"""Brevo webhooks: transactional and marketing events shaped as Brevo documents them, with basic
auth or a token, shuffled and duplicated, in; statistics out."""

import random
from datetime import timedelta
from typing import Any

import pytest

from app.cli import main
from app.credentials import brevo_settings
from tests.factories import BASE_TIME, make_campaign
from tests.test_webhook_credentials import settings_of
from tests.webhook_helpers import (
    basic_auth,
    configure,
    post_webhook,
    recipients,
    refused_reasons,
    stats,
    stored,
    unmatched_kinds,
)

USERNAME, PASSWORD = "brevo", "correct horse battery staple"
TOKEN = "brevo-webhook-token-0123456789"
T0 = int(BASE_TIME.timestamp())
CUSTOM = '{"campaign": "spring", "variant": "A"}'  # X-Mailin-custom given when sending


def transactional(event: str, email: str, seconds: int, **fields: Any) -> dict[str, Any]:
    """A transactional event as Brevo's "Transactional webhooks" page shows it."""
    moment = BASE_TIME + timedelta(seconds=seconds)
    return {
        "event": event,
        "email": email,
        "id": 412345,  # the webhook's id, the same on every event
        "date": (moment + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),  # CET
        "ts": T0 + seconds,
        "message-id": f"<202611200900.{email[:3]}1234@smtp-relay.mailin.fr>",
        "ts_event": T0 + seconds,
        "subject": "Spring sale",
        "X-Mailin-custom": CUSTOM,
        "sending_ip": "185.41.28.109",
        "ts_epoch": (T0 + seconds) * 1000,
        "template_id": 22,
        "tags": ["spring"],
        **fields,
    }


def marketing(event: str, email: str, seconds: int, **fields: Any) -> dict[str, Any]:
    """A marketing (campaign) event as Brevo's "Marketing webhooks" page shows it."""
    moment = (BASE_TIME + timedelta(seconds=seconds)).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "id": 412346,
        "camp_id": 17,
        "email": email,
        "campaign name": "Spring sale",
        "date_sent": BASE_TIME.strftime("%Y-%m-%d %H:%M:%S"),
        "date_event": moment,
        "event": event,
        "tag": "campaign:spring",  # the campaign's tag names our campaign
        "ts_sent": T0,
        "ts_event": T0 + seconds,
        "ts": T0 + seconds,
        **fields,
    }


ANN_OPEN_WITHOUT_METADATA = {
    k: v
    for k, v in transactional("opened", "ann@example.com", 900).items()
    if k != "X-Mailin-custom"
}
EVENTS = [
    transactional("request", "ann@example.com", 0),
    transactional("delivered", "ann@example.com", 3),
    transactional("unique_opened", "ann@example.com", 600),
    ANN_OPEN_WITHOUT_METADATA,  # matched by its message-id
    transactional("click", "ann@example.com", 660, link="https://example.com/pricing"),
    transactional("request", "bob@example.com", 0),
    transactional("hard_bounce", "bob@example.com", 5,
                  reason=" RecipientError: 550 5.5.0 Requested action not taken: mailbox unavailable."),
    transactional("request", "cy@example.com", 0),
    transactional("soft_bounce", "cy@example.com", 60,
                  reason="undefined Unable to find MX of domain no-mx.example.com"),
    transactional("request", "dee@example.com", 0),
    transactional("deferred", "dee@example.com", 30, reason="421 4.7.0 Try again later"),
    transactional("request", "eve@example.com", 0),
    transactional("delivered", "eve@example.com", 2),
    transactional("spam", "eve@example.com", 900),
    transactional("request", "fay@example.com", 0),
    transactional("delivered", "fay@example.com", 4),
    transactional("unsubscribed", "fay@example.com", 1200),
    transactional("request", "gus@example.com", 0),
    transactional("blocked", "gus@example.com", 1, reason="blocked : due to blacklist user"),
    transactional("invalid_email", "hal@example.net", 1, reason="invalid email address"),
    transactional("request", "ivy@example.com", 0),
    transactional("delivered", "ivy@example.com", 2),
    transactional("unique_proxy_open", "ivy@example.com", 40),
    transactional("proxy_open", "ivy@example.com", 50),
    marketing("delivered", "jo@example.com", 3),
    marketing("opened", "jo@example.com", 700),
    marketing("click", "jo@example.com", 760, URL="https://example.com/spring"),
    transactional("error", "kim@example.com", 1),
    # A contact event of the marketing webhooks: no delivery's fate, kept unmatched.
    {"event": "list_addition", "email": "lea@example.com", "id": 412346,
     "key": "a1b2c3", "list_id": [3], "date": "2026-11-20 10:00:00", "ts": T0 + 5},
]  # fmt: skip

EXPECTED = {
    # ann delivered, opened twice (one open found by its message-id), clicked; bob hard bounce;
    # cy soft bounce; dee deferred; eve delivered and complained; fay delivered and
    # unsubscribed; gus blocked, hal invalid, kim Brevo's error: dropped; ivy delivered, two
    # opens loaded by a proxy (machine opens); jo (marketing) delivered, opened and clicked.
    # lea's list addition is no delivery: kept unmatched, lea is no recipient.
    "recipients": 11, "sent": 11, "notSent": 0, "delivered": 5, "deferred": 1, "dropped": 3,
    "bounced": 2, "hardBounced": 1, "softBounced": 1, "opened": 3, "opens": 5, "clicked": 2,
    "clicks": 2, "complained": 1, "unsubscribed": 1, "machineOpens": 2, "botClicks": 0,
}  # fmt: skip
# Without ivy's proxy opens: ann and jo opened, ann twice and jo once.
HUMAN = EXPECTED | {"opened": 2, "opens": 3}


def basic(username: str = USERNAME, password: str = PASSWORD) -> dict[str, str]:
    return basic_auth(username, password)


async def post(
    client: Any, organization: Any, body: Any, headers: dict[str, str] | None = None
) -> Any:
    return await post_webhook(
        client, "brevo", organization, body, basic() if headers is None else headers
    )


@pytest.fixture
async def brevo(database: Any, organization: Any, client: Any) -> Any:
    await configure(database, organization, "brevo", brevo_settings(USERNAME, PASSWORD))
    await make_campaign(client, organization, "spring")
    return organization


@pytest.mark.fresh_database
async def test_events_shuffled_and_duplicated_become_statistics(client, brevo, database) -> None:
    shuffled = EVENTS + random.Random(12).sample(EVENTS, 10)  # ten sent twice
    random.Random(7).shuffle(shuffled)
    # One event per POST, as Brevo posts by default, and the rest as one batched POST.
    for item in shuffled[:20]:
        response = await post(client, brevo, item)
        assert response.status_code == 200, response.text
    response = await post(client, brevo, shuffled[20:])
    assert response.status_code == 200, response.text
    assert await stats(client, brevo) == EXPECTED
    assert await stats(client, brevo, human_only=True) == HUMAN
    people = await recipients(client, brevo)
    # 5.5.0 names no category (RFC 3463 "other address status"): unspecified, but hard.
    assert people["bob@example.com"]["bounce"] == {"type": "HARD", "category": "UNSPECIFIED"}
    assert people["cy@example.com"]["bounce"] == {"type": "SOFT", "category": "UNSPECIFIED"}
    assert people["hal@example.net"]["skipReason"] == "INVALID_ADDRESS"
    assert people["ann@example.com"]["opens"] == 2
    assert people["jo@example.com"]["clicks"] == 1
    assert await unmatched_kinds(database) == [("brevo", "list_addition")]


async def test_replays_change_nothing(client, brevo, database) -> None:
    for item in EVENTS:
        assert (await post(client, brevo, item)).status_code == 200
    before = await stored(database)
    replay = list(reversed(EVENTS)) + EVENTS[:5]
    response = await post(client, brevo, replay)
    assert response.json() == {"accepted": 0, "duplicates": len(replay), "unmatched": 0}
    assert await stats(client, brevo) == EXPECTED
    assert await stored(database) == before


async def test_the_bearer_token_and_a_custom_header_work_instead_of_basic_auth(
    client, database, organization
) -> None:
    await make_campaign(client, organization, "spring")
    await configure(database, organization, "brevo", brevo_settings(token=TOKEN))
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert (await post(client, organization, EVENTS[0], bearer)).json()["accepted"] == 1
    before = await stored(database)
    for headers in ({"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": TOKEN}, basic(), {}):
        assert (await post(client, organization, EVENTS[1], headers)).status_code == 401
    assert await stored(database) == before
    await configure(
        database,
        organization,
        "brevo",
        brevo_settings(header_name="X-Brevo-Secret", header_secret=TOKEN),
    )
    assert (await post(client, organization, EVENTS[1], {"X-Brevo-Secret": TOKEN})).json()[
        "accepted"
    ] == 1
    assert (await post(client, organization, EVENTS[2], bearer)).status_code == 401


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
async def test_unauthenticated_requests_are_401_and_store_nothing(
    client, brevo, database, headers
) -> None:
    before = await stored(database)
    response = await post(client, brevo, EVENTS[:3], headers)
    assert response.status_code == 401, response.text
    assert await stored(database) == before


async def test_without_brevo_credentials_everything_is_401(client, organization, database) -> None:
    await make_campaign(client, organization, "spring")
    before = await stored(database)
    assert (await post(client, organization, EVENTS[0])).status_code == 401
    assert await stored(database) == before


async def test_a_body_that_is_not_brevo_s_is_400(client, brevo, database) -> None:
    before = await stored(database)
    response = await post(client, brevo, b"event=delivered")
    assert response.status_code == 400, response.text
    assert "not JSON" in response.json()["error"]
    assert await stored(database) == before


async def test_a_malformed_event_is_kept_and_its_batch_applied(client, brevo, database) -> None:
    no_time = {k: v for k, v in EVENTS[1].items() if k not in ("ts", "ts_event", "ts_epoch")}
    bad = [
        ({"email": "ann@example.com"}, "'event' is required"),
        (no_time, "ts_event, ts_epoch or ts is required"),
        ({**EVENTS[1], "ts_event": "yesterday"}, "Unix timestamp"),
    ]
    good = [EVENTS[0], EVENTS[1]]  # ann's send and delivery
    response = await post(client, brevo, [good[0], *(body for body, _ in bad), good[1]])
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 2, "duplicates": 0, "unmatched": 3}
    reasons = await refused_reasons(database, brevo.id)
    assert len(reasons) == 3
    for _, reason in bad:
        assert any(reason in kept for kept in reasons), (reason, reasons)
    numbers = await stats(client, brevo)
    assert (numbers["sent"], numbers["delivered"]) == (1, 1)


@pytest.mark.fresh_database
def test_providers_set_brevo_stores_only_hashes(database_url, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    main(["orgs", "create", "Acme"])
    main(["providers", "set", "--org", "Acme", "brevo", "--username", "brevo",
          "--password", PASSWORD])  # fmt: skip
    assert "/webhooks/brevo/Acme" in capsys.readouterr().out
    assert PASSWORD not in str(settings_of(database_url, "Acme", "brevo"))
    main(["providers", "set", "--org", "Acme", "brevo", "--token", TOKEN])
    settings = settings_of(database_url, "Acme", "brevo")
    assert TOKEN not in str(settings) and settings["header_name"] == "Authorization"
    capsys.readouterr()
    main(["providers", "list", "--org", "Acme"])
    listing = capsys.readouterr().out
    assert "brevo" in listing and "bearer token" in listing and TOKEN not in listing
    with pytest.raises(SystemExit):
        main(["providers", "set", "--org", "Acme", "brevo", "--token", "short"])
