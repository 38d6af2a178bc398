"""Machine opens and bot clicks: each documented rule, alone and through ingest."""

import itertools
from datetime import timedelta

import pytest

from app.enums import ResponseType
from app.ingest.automation import (
    SCANNER_WINDOW,
    is_apple_privacy_proxy,
    is_bot_click,
    is_machine_open,
    scanner_click_ids,
)
from app.ingest.history import HistoryEntry
from tests.factories import BASE_TIME, event, make_campaign, post_events
from tests.webhook_helpers import stats

T = ResponseType
IPHONE_MAIL = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
OUTLOOK = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36 Edg/119.0"
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)


def test_apple_mail_privacy_protection_is_a_machine_open() -> None:
    assert is_apple_privacy_proxy("Mozilla/5.0", "203.0.113.7")  # the proxy's bare agent
    assert is_apple_privacy_proxy(IPHONE_MAIL, "17.58.100.1")  # Apple's network 17.0.0.0/8
    assert not is_apple_privacy_proxy(IPHONE_MAIL, "203.0.113.7")  # a person reading in Apple Mail
    assert not is_apple_privacy_proxy(None, "not an ip")


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Barracuda Sentinel)",
        "Mimecast URL Protect",
        "Proofpoint URL Defense",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/119.0",
        "python-requests/2.31.0",
        "curl/8.4.0",
        "Go-http-client/1.1",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) BingPreview/1.0b",
        "Mozilla/5.0 (compatible; SomeSecurity scanner)",
    ],
)
def test_scanner_agents_make_machine_opens_and_bot_clicks(agent: str) -> None:
    assert is_bot_click(agent)
    assert is_machine_open(agent, None)


@pytest.mark.parametrize("agent", [IPHONE_MAIL, OUTLOOK, GMAIL_PROXY, None, ""])
def test_people_and_open_time_image_proxies_are_human(agent: str | None) -> None:
    # Gmail's image proxy fetches when a person opens the message: a human open.
    assert not is_bot_click(agent)
    assert not is_machine_open(agent, "203.0.113.7")


_ids = itertools.count(1)


def entry(type: ResponseType, seconds: float, link: int | None = None) -> HistoryEntry:
    return HistoryEntry(
        id=next(_ids), type=type, occurred_at=BASE_TIME + timedelta(seconds=seconds), link_id=link
    )


def test_several_links_within_seconds_of_delivery_are_a_scanner() -> None:
    delivered = entry(T.DELIVERED, 0)
    first, second = entry(T.CLICKED, 2, link=1), entry(T.CLICKED, 4, link=2)
    assert scanner_click_ids([delivered, first, second]) == {first.id, second.id}
    # Order of the history does not matter.
    assert scanner_click_ids([second, first, delivered]) == {first.id, second.id}


def test_one_link_soon_or_several_links_later_are_human() -> None:
    delivered = entry(T.DELIVERED, 0)
    assert (
        scanner_click_ids([delivered, entry(T.CLICKED, 2, link=1), entry(T.CLICKED, 3, link=1)])
        == set()
    )
    late = SCANNER_WINDOW.total_seconds() + 1
    assert (
        scanner_click_ids([delivered, entry(T.CLICKED, late, 1), entry(T.CLICKED, late + 1, 2)])
        == set()
    )
    # Clicks without any send or delivery to measure from are not judged by timing.
    assert scanner_click_ids([entry(T.CLICKED, 1, 1), entry(T.CLICKED, 2, 2)]) == set()


def scanner_batch(email: str) -> list[dict]:
    """Delivered, then two links clicked 2 and 5 seconds later by a plain browser agent."""
    return [
        event("SENT", email, id=f"{email}-sent"),
        event("DELIVERED", email, minutes=1 / 60, id=f"{email}-delivered"),
        event(
            "CLICKED",
            email,
            minutes=3 / 60,
            url="https://example.com/a",
            userAgent=OUTLOOK,
            id=f"{email}-c1",
        ),
        event(
            "CLICKED",
            email,
            minutes=6 / 60,
            url="https://example.com/b",
            userAgent=OUTLOOK,
            id=f"{email}-c2",
        ),
    ]


async def test_timing_rule_through_ingest_in_any_order(client, organization) -> None:
    await make_campaign(client, organization, "spring")
    # ann's events arrive delivery first; bob's clicks arrive before his delivery, one by one.
    assert (
        await post_events(client, organization, scanner_batch("ann@example.com"))
    ).status_code == 200
    for item in reversed(scanner_batch("bob@example.com")):
        assert (await post_events(client, organization, [item])).status_code == 200
    # cy clicks two links a minute after delivery: a person.
    human = [
        event("DELIVERED", "cy@example.com"),
        event(
            "CLICKED", "cy@example.com", minutes=1, url="https://example.com/a", userAgent=OUTLOOK
        ),
        event(
            "CLICKED", "cy@example.com", minutes=2, url="https://example.com/b", userAgent=OUTLOOK
        ),
    ]
    assert (await post_events(client, organization, human)).status_code == 200
    everything = await stats(client, organization)
    assert (everything["clicks"], everything["clicked"], everything["botClicks"]) == (6, 3, 4)
    people = await stats(client, organization, human_only=True)
    assert (people["clicks"], people["clicked"]) == (2, 1)
    # A replay changes nothing.
    await post_events(client, organization, scanner_batch("bob@example.com"))
    assert await stats(client, organization) == everything


async def test_flags_through_ingest_and_the_sender_flag_wins(client, organization) -> None:
    await make_campaign(client, organization, "spring")
    events = [
        event("OPENED", "ann@example.com", userAgent="Mozilla/5.0", ip="17.58.1.1"),  # MPP: machine
        event("OPENED", "bob@example.com", userAgent=IPHONE_MAIL, ip="198.51.100.4"),  # a person
        # The sender says it is a person's open: its flag wins over the rules.
        event("OPENED", "cy@example.com", userAgent="Mozilla/5.0", machine=False),
        event(
            "CLICKED",
            "dee@example.com",
            url="https://example.com/a",
            userAgent="Mimecast URL Protect",
        ),
        event(
            "CLICKED", "eve@example.com", url="https://example.com/a", userAgent=OUTLOOK, bot=True
        ),
    ]
    assert (await post_events(client, organization, events)).status_code == 200
    numbers = await stats(client, organization)
    assert (numbers["opens"], numbers["machineOpens"], numbers["clicks"], numbers["botClicks"]) == (
        3,
        1,
        2,
        2,
    )
