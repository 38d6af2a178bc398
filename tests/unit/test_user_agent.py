"""Client details from user agents: email client rules, device class, browser and OS."""

from datetime import UTC, datetime

import pytest

from app.enums import ResponseType
from app.ingest import user_agent
from app.ingest.enrich import enrich
from app.ingest.events import CanonicalEvent
from app.ingest.user_agent import ClientDetails, client_details

CASES = [
    # (user agent, email client, device, browser, os)
    (
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
        "Gmail",
        None,  # the proxy fetches images for the reader: it says nothing about the reader
        None,
        None,
    ),
    (
        "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
        "Yahoo Mail",
        None,
        None,
        None,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
        "Apple Mail",
        "Desktop",
        "Apple Mail",
        "Mac OS X",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148",
        "Apple Mail",
        "Mobile",
        "Mobile Safari UI/WKWebView",
        "iOS",
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148",
        "Apple Mail",
        "Tablet",
        "Mobile Safari UI/WKWebView",
        "iOS",
    ),
    (
        # Safari names itself (Version/, Safari/): a webmail click, not Apple Mail.
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.0 Safari/605.1.15",
        "Safari",
        "Desktop",
        "Safari",
        "Mac OS X",
    ),
    (
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.12026; Pro)",
        "Outlook",
        "Desktop",
        "Outlook",
        "Windows",
    ),
    (
        "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0; Trident/7.0; ms-office; MSOffice 16)",
        "Outlook",
        "Desktop",
        "Outlook",  # ua-parser knows Outlook's embedded Internet Explorer
        "Windows",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.3.1",
        "Thunderbird",
        "Desktop",
        "Thunderbird",
        "Windows",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        "Chrome",
        "Desktop",
        "Chrome",
        "Windows",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36",
        "Chrome Mobile",
        "Mobile",
        "Chrome Mobile",
        "Android",
    ),
    (
        # Android tablets leave "Mobile" out.
        "Mozilla/5.0 (Linux; Android 12; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36",
        "Chrome",
        "Tablet",
        "Chrome",
        "Android",
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Firefox",
        "Desktop",
        "Firefox",
        "Linux",
    ),
    ("Googlebot/2.1 (+http://www.google.com/bot.html)", "Googlebot", "Other", "Googlebot", "Other"),
    ("something unheard of", "Other", "Other", "Other", "Other"),
]


@pytest.mark.parametrize(("agent", "email_client", "device", "browser", "os"), CASES)
def test_client_details(agent, email_client, device, browser, os):
    assert client_details(agent) == ClientDetails(email_client, device, browser, os)


def test_no_agent_no_details():
    assert client_details(None) == user_agent.UNKNOWN
    assert client_details("  ") == user_agent.UNKNOWN


def test_repeated_agents_are_parsed_once():
    client_details.cache_clear()
    agent = CASES[9][0]
    for _ in range(5):
        client_details(agent)
    info = client_details.cache_info()
    assert (info.misses, info.hits) == (1, 4)


def make_event(**fields):
    return CanonicalEvent(
        key="k",
        provider="canonical",
        type=ResponseType.OPENED,
        occurred_at=datetime(2026, 11, 20, tzinfo=UTC),
        campaign="spring",
        contact_email="ann@example.com",
        contact_external_id=None,
        contact_name=None,
        **fields,
    )


def test_enrich_fills_client_details_from_the_agent():
    enrichment = enrich(make_event(user_agent=CASES[3][0]))
    assert (enrichment.email_client, enrichment.device, enrichment.browser, enrichment.os) == (
        "Apple Mail",
        "Mobile",
        "Mobile Safari UI/WKWebView",
        "iOS",
    )
    bare = enrich(make_event())
    assert (bare.email_client, bare.device, bare.browser, bare.os) == (None, None, None, None)
