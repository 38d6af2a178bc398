"""Client details from a user agent: email client, device class, browser and operating system.

Browser, OS and device come from `ua-parser`. Email clients are mostly not browsers, so a small
rule table recognises them first (image proxies, desktop and mobile mail apps); a click from
webmail opens in a browser, and then the browser is the client. Agents repeat a lot, so parsing
is cached.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from ua_parser import parse

OTHER = "Other"
DESKTOP, MOBILE, TABLET = "Desktop", "Mobile", "Tablet"

# (pattern, email client, hides the reader): first match wins. An image proxy fetches images on
# the reader's behalf, so its agent says nothing about the reader's device, browser or OS.
EMAIL_CLIENT_RULES: tuple[tuple[re.Pattern[str], str, bool], ...] = (
    (re.compile(r"GoogleImageProxy|ggpht\.com"), "Gmail", True),
    (re.compile(r"YahooMailProxy"), "Yahoo Mail", True),
    (re.compile(r"Microsoft Outlook|ms-office|MSOffice", re.IGNORECASE), "Outlook", False),
    (re.compile(r"Thunderbird"), "Thunderbird", False),
)
APPLE_DEVICE = re.compile(r"Macintosh|iPhone|iPad|iPod")
TABLET_HINTS = re.compile(r"iPad|Tablet|Kindle|Silk|PlayBook|Nexus (7|9|10)\b", re.IGNORECASE)
MOBILE_HINTS = re.compile(r"Mobi|iPhone|iPod|Android|Windows Phone|BlackBerry", re.IGNORECASE)
DESKTOP_OS = frozenset(
    {"Windows", "Mac OS X", "Linux", "Ubuntu", "Fedora", "Debian", "Chrome OS", "FreeBSD"}
)


@dataclass(frozen=True, slots=True)
class ClientDetails:
    email_client: str | None = None
    device: str | None = None
    browser: str | None = None
    os: str | None = None


UNKNOWN = ClientDetails()


def _is_apple_mail(user_agent: str) -> bool:
    """Apple Mail renders with WebKit on a Mac or iOS device but, unlike Safari, does not name
    itself: no "Safari/" and no "Version/" in its agent."""
    return (
        "AppleWebKit" in user_agent
        and bool(APPLE_DEVICE.search(user_agent))
        and "Safari" not in user_agent
        and "Version/" not in user_agent
    )


def device_class(user_agent: str, os_family: str | None, device_family: str | None) -> str:
    """Desktop, Mobile, Tablet, or Other (crawlers, scripts, anything unrecognised)."""
    if device_family == "Spider":
        return OTHER
    if TABLET_HINTS.search(user_agent) or (device_family or "").endswith("Tablet"):
        return TABLET
    # Android tablets leave "Mobile" out of their agent; Android phones put it in.
    if "Android" in user_agent and "Mobile" not in user_agent:
        return TABLET
    if MOBILE_HINTS.search(user_agent) or os_family in ("iOS", "Android"):
        return MOBILE
    if os_family in DESKTOP_OS:
        return DESKTOP
    return OTHER


@lru_cache(maxsize=4096)
def client_details(user_agent: str | None) -> ClientDetails:
    """What a user agent says about the reader's client; UNKNOWN for no agent."""
    if not user_agent or not user_agent.strip():
        return UNKNOWN
    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else None
    os_family = result.os.family if result.os else None
    device_family = result.device.family if result.device else None
    for pattern, client, hides_reader in EMAIL_CLIENT_RULES:
        if pattern.search(user_agent):
            if hides_reader:
                return ClientDetails(email_client=client)
            email_client = client
            break
    else:
        email_client = "Apple Mail" if _is_apple_mail(user_agent) else (browser or OTHER)
    return ClientDetails(
        email_client=email_client,
        device=device_class(user_agent, os_family, device_family),
        browser=browser or OTHER,
        os=os_family or OTHER,
    )
