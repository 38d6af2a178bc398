"""SparkPost event webhooks: batches of events shaped as SparkPost documents them, with basic
auth or its webhook token, shuffled and duplicated, in; statistics out."""

import random
from typing import Any

import pytest

from app.cli import main
from app.credentials import sparkpost_settings
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

USERNAME, PASSWORD = "sparkpost", "correct horse battery staple"
TOKEN = "sparkpost-webhook-token-0123456789"
TOKEN_HEADER = "X-MessageSystems-Webhook-Token"
T0 = int(BASE_TIME.timestamp())
META = {"campaign": "spring", "variant": "A"}  # recipient metadata given when sending
CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_3) AppleWebKit/537.36"
GEO = {"country": "US", "region": "MD", "city": "Columbia", "latitude": 39.1749,
       "longitude": -76.8375, "zip": 21046, "postal_code": "21046"}  # fmt: skip
PERSON = {"agent_family": "Chrome", "device_brand": "Apple", "device_family": "Mac",
          "os_family": "Mac OS X", "os_version": "10.10.3", "is_mobile": False,
          "is_proxy": False, "is_prefetched": False}  # fmt: skip
PREFETCH = PERSON | {"is_prefetched": True}  # Apple Mail Privacy Protection fetched it
NUMBERS = iter(range(1000, 2000))


def event(
    category: str, type: str, email: str, seconds: int, meta: bool = True, **fields: Any
) -> dict[str, Any]:
    """One batch item, with the fields of SparkPost's sample events."""
    data: dict[str, Any] = {
        "type": type,
        "customer_id": "1",
        "event_id": f"92356927693{next(NUMBERS)}",
        "friendly_from": "news@example.org",
        "ip_pool": "example-ip-pool",
        "message_id": f"000443ee14578172{email[:3]}",
        "msg_from": "news@example.org",
        "raw_rcpt_to": email,
        "rcpt_to": email,
        "rcpt_tags": ["spring"],
        "rcpt_type": "to",
        "routing_domain": "example.com",
        "sending_ip": "18.236.253.72",
        "subject": "Spring sale",
        "template_id": "templ-1234",
        "template_version": "1",
        "timestamp": str(T0 + seconds),
        "transmission_id": "65832150921904138",  # one transmission to every recipient
        **fields,
    }
    if meta:
        data.update(rcpt_meta=META, campaign_id="Spring sale (SparkPost)")
    return {"msys": {category: data}}


def message(type: str, email: str, seconds: int, **fields: Any) -> dict[str, Any]:
    return event("message_event", type, email, seconds, **fields)


def track(type: str, email: str, seconds: int, agent: dict[str, Any], **fields: Any) -> Any:
    return event("track_event", type, email, seconds, user_agent=CHROME, user_agent_parsed=agent,
                 ip_address="68.72.196.153", geo_ip=GEO, **fields)  # fmt: skip


def bounce(email: str, seconds: int, bounce_class: str, reason: str, kind: str = "bounce") -> Any:
    return message(kind, email, seconds, bounce_class=bounce_class, error_code=reason[:3],
                   raw_reason=reason, reason=reason)  # fmt: skip


EVENTS = [
    message("injection", "ann@example.com", 0),
    message("delivery", "ann@example.com", 3),
    track("initial_open", "ann@example.com", 600, PERSON),  # the top pixel of the same open
    track("open", "ann@example.com", 600, PERSON),
    # A click without metadata: found by its message id.
    event("track_event", "click", "ann@example.com", 660, meta=False, user_agent=CHROME,
          user_agent_parsed=PERSON, target_link_url="https://example.com/pricing"),
    message("injection", "bob@example.com", 0),
    bounce("bob@example.com", 5, "10",
           "550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown"),
    message("injection", "cy@example.com", 0),
    message("delay", "cy@example.com", 60, bounce_class="21", num_retries="1",
            raw_reason="454 4.4.4 [internal] no MX or A for domain"),
    message("injection", "dee@example.com", 0),
    bounce("dee@example.com", 6, "51", "554 5.7.1 Service unavailable; Client host blocked"),
    message("injection", "eve@example.com", 0),
    message("delivery", "eve@example.com", 2),
    message("spam_complaint", "eve@example.com", 900, fbtype="abuse",
            report_by="server.email.com", report_to="abuse.example.com"),
    message("injection", "fay@example.com", 0),
    message("delivery", "fay@example.com", 4),
    event("unsubscribe_event", "list_unsubscribe", "fay@example.com", 1200, mailfrom="x@y.com"),
    event("gen_event", "generation_rejection", "gus@example.com", 1, error_code="554",
          raw_reason="554 5.7.1 recipient address suppressed due to customer policy"),
    message("injection", "hal@example.com", 0),
    message("policy_rejection", "hal@example.com", 1, error_code="554",
            raw_reason="550 5.7.1 [internal] Forbidden sending domain"),
    message("injection", "ivy@example.com", 0),
    message("delivery", "ivy@example.com", 2),
    track("open", "ivy@example.com", 40, PREFETCH),
    track("click", "ivy@example.com", 45, PREFETCH, target_link_url="https://example.com/spring"),
    message("injection", "jo@example.com", 0),
    message("delivery", "jo@example.com", 3),
    bounce("jo@example.com", 3600, "10", "550 5.1.1 mailbox unavailable", "out_of_band"),
    message("injection", "kim@example.com", 0),
    message("delivery", "kim@example.com", 3),
    bounce("kim@example.com", 120, "60", "Out of office until Monday"),  # an auto-reply
    message("injection", "lea@example.com", 0),
    message("delivery", "lea@example.com", 3),
    message("spam_complaint", "lea@example.com", 950, fbtype="not-spam"),
]  # fmt: skip

EXPECTED = {
    # ann delivered, opened (initial_open is the same open), clicked; bob invalid recipient
    # (hard); cy delayed; dee spam block (soft); eve delivered and complained; fay delivered and
    # unsubscribed; gus and hal never sent (dropped); ivy delivered, a prefetched open and
    # click (machine open, bot click); jo delivered, then an out-of-band hard bounce; kim
    # delivered (the auto-reply is no fate); lea delivered (a not-spam report is no complaint).
    "recipients": 12, "sent": 12, "notSent": 0, "delivered": 6, "deferred": 1, "dropped": 2,
    "bounced": 3, "hardBounced": 2, "softBounced": 1, "opened": 2, "opens": 2, "clicked": 2,
    "clicks": 2, "complained": 1, "unsubscribed": 1, "machineOpens": 1, "botClicks": 1,
}  # fmt: skip
HUMAN = EXPECTED | {"opened": 1, "opens": 1, "clicked": 1, "clicks": 1}
KEPT = [("sparkpost", "bounce/60"), ("sparkpost", "initial_open"),
        ("sparkpost", "spam_complaint/not-spam")]  # fmt: skip


def basic(username: str = USERNAME, password: str = PASSWORD) -> dict[str, str]:
    return basic_auth(username, password)


async def post(
    client: Any, organization: Any, body: Any, headers: dict[str, str] | None = None
) -> Any:
    return await post_webhook(
        client, "sparkpost", organization, body, basic() if headers is None else headers
    )


@pytest.fixture
async def sparkpost(database: Any, organization: Any, client: Any) -> Any:
    await configure(database, organization, "sparkpost", sparkpost_settings(USERNAME, PASSWORD))
    await make_campaign(client, organization, "spring")
    return organization


@pytest.mark.fresh_database
async def test_batches_shuffled_and_duplicated_become_statistics(
    client, sparkpost, database
) -> None:
    shuffled = EVENTS + random.Random(5).sample(EVENTS, 12)  # twelve sent twice
    random.Random(3).shuffle(shuffled)
    for start in range(0, len(shuffled), 7):  # SparkPost batches events
        response = await post(client, sparkpost, shuffled[start : start + 7])
        assert response.status_code == 200, response.text
    assert await stats(client, sparkpost) == EXPECTED
    assert await stats(client, sparkpost, human_only=True) == HUMAN
    people = await recipients(client, sparkpost)
    assert people["bob@example.com"]["bounce"] == {"type": "HARD", "category": "USER_NOT_FOUND"}
    assert people["dee@example.com"]["bounce"] == {"type": "SOFT", "category": "SPAM_BLOCKED"}
    assert people["jo@example.com"]["status"] == "BOUNCED"
    assert people["ann@example.com"]["clicks"] == 1
    assert await unmatched_kinds(database) == KEPT


async def test_replays_change_nothing(client, sparkpost, database) -> None:
    assert (await post(client, sparkpost, EVENTS)).status_code == 200
    before = await stored(database)
    replay = list(reversed(EVENTS)) + EVENTS[:4]
    response = await post(client, sparkpost, replay)
    assert response.json() == {"accepted": 0, "duplicates": len(replay), "unmatched": 0}
    assert await stats(client, sparkpost) == EXPECTED
    assert await stored(database) == before


async def test_the_test_ping_is_answered_and_stores_nothing(client, sparkpost, database) -> None:
    before = await stored(database)
    response = await post(client, sparkpost, [{"msys": {}}])
    assert response.status_code == 200, response.text
    assert await stored(database) == before


async def test_the_webhook_token_works_instead_of_basic_auth(
    client, database, organization
) -> None:
    await make_campaign(client, organization, "spring")
    await configure(database, organization, "sparkpost", sparkpost_settings(token=TOKEN))
    response = await post(client, organization, EVENTS[:2], {TOKEN_HEADER: TOKEN})
    assert response.json()["accepted"] == 2
    before = await stored(database)
    for headers in ({TOKEN_HEADER: TOKEN + "x"}, {"Authorization": f"Bearer {TOKEN}"}, basic()):
        assert (await post(client, organization, EVENTS[2:4], headers)).status_code == 401
    assert await stored(database) == before


@pytest.mark.parametrize(
    "headers",
    [
        basic(password="wrong password!"),
        basic(username="someone"),
        {},
        {"Authorization": "Basic %%%"},
        {TOKEN_HEADER: PASSWORD},
    ],
)
async def test_unauthenticated_requests_are_401_and_store_nothing(
    client, sparkpost, database, headers
) -> None:
    before = await stored(database)
    response = await post(client, sparkpost, EVENTS, headers)
    assert response.status_code == 401, response.text
    assert await stored(database) == before


async def test_a_body_that_is_not_sparkpost_s_is_400(client, sparkpost, database) -> None:
    before = await stored(database)
    for body, reason in ((b"[{msys", "not JSON"), (EVENTS[0], "JSON array")):
        response = await post(client, sparkpost, body)
        assert response.status_code == 400, response.text
        assert reason in response.json()["error"]
    assert await stored(database) == before


async def test_a_malformed_event_is_kept_and_its_batch_applied(client, sparkpost, database) -> None:
    no_time = message("delivery", "ann@example.com", 3)
    del no_time["msys"]["message_event"]["timestamp"]
    bad = [
        ({"message_event": {}}, "msys"),
        (no_time, "timestamp is required"),
        (bounce("bob@example.com", 5, "ten", "550"), "bounce_class must be a number"),
    ]
    good = [message("injection", "ann@example.com", 0), message("injection", "bob@example.com", 0)]
    response = await post(client, sparkpost, [good[0], *(body for body, _ in bad), good[1]])
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 2, "duplicates": 0, "unmatched": 3}
    reasons = await refused_reasons(database, sparkpost.id)
    assert len(reasons) == 3
    for _, reason in bad:
        assert any(reason in kept for kept in reasons), (reason, reasons)
    numbers = await stats(client, sparkpost)
    assert (numbers["sent"], numbers["delivered"]) == (2, 0)


@pytest.mark.fresh_database
def test_providers_set_sparkpost_stores_only_hashes(database_url, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    main(["orgs", "create", "Acme"])
    main(["providers", "set", "--org", "Acme", "sparkpost", "--token", TOKEN])
    assert "/webhooks/sparkpost/Acme" in capsys.readouterr().out
    settings = settings_of(database_url, "Acme", "sparkpost")
    assert TOKEN not in str(settings) and settings["header_name"] == TOKEN_HEADER
    main(["providers", "list", "--org", "Acme"])
    listing = capsys.readouterr().out
    assert TOKEN_HEADER in listing and TOKEN not in listing
    main(["providers", "set", "--org", "Acme", "sparkpost", "--username", "sp",
          "--password", PASSWORD])  # fmt: skip
    assert PASSWORD not in str(settings_of(database_url, "Acme", "sparkpost"))
    with pytest.raises(SystemExit):
        main(["providers", "set", "--org", "Acme", "sparkpost", "--username", "sp"])
