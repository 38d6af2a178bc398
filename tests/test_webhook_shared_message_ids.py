"""One send to several recipients: SendGrid and Mailgun give all of them one message id, so an
event without metadata finds its recipient by (message id, its own address)."""

from typing import Any

import pytest

from tests import test_webhook_mailgun as mg
from tests import test_webhook_sendgrid as sg
from tests.factories import make_campaign
from tests.webhook_helpers import configure, recipients, stats

PEOPLE = ("ann@example.com", "ben@example.com", "cy@example.com")
# SendGrid's documented sg_message_id: the X-Message-Id of the send, then ".filter…" per
# recipient. One API call to three recipients: one X-Message-Id for all three.
X_MESSAGE_ID = "14c5d75ce93.dfd.64b469"


def sendgrid_event(kind: str, email: str, seconds: int, number: int, **fields: Any) -> dict:
    event = sg.sendgrid_event(kind, email, seconds, number, **fields)
    event["sg_message_id"] = f"{X_MESSAGE_ID}.filter0{number:03d}.16648.5515E0B88.0"
    return event


def bare(event: dict[str, Any], *names: str) -> dict[str, Any]:
    """The event without our metadata: only the message id can say which campaign it is of."""
    return {k: v for k, v in event.items() if k not in names}


def sendgrid_send() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """processed (with custom args) for the three; then, without custom args: ann opens twice,
    ben clicks once, cy nothing."""
    processed = [sendgrid_event("processed", email, 0, n) for n, email in enumerate(PEOPLE, 1)]
    later = [
        sendgrid_event("open", "ann@example.com", 600, 11, useragent=sg.BROWSER),
        sendgrid_event("open", "ann@example.com", 700, 12, useragent=sg.BROWSER),
        sendgrid_event("click", "ben@example.com", 800, 13, useragent=sg.BROWSER,
                       url="https://example.com/pricing"),
    ]  # fmt: skip
    return processed, [bare(e, "campaign", "variant") for e in later]


EXPECTED_PEOPLE = {
    "ann@example.com": (2, 0),
    "ben@example.com": (0, 1),
    "cy@example.com": (0, 0),
}


async def opens_and_clicks(client: Any, organization: Any) -> dict[str, tuple[int, int]]:
    people = await recipients(client, organization)
    return {email: (p["opens"], p["clicks"]) for email, p in people.items()}


@pytest.mark.parametrize("order", ["sends first", "engagement first", "one batch"])
async def test_sendgrid_one_send_to_three(client, database, organization, order) -> None:
    await configure(database, organization, "sendgrid", {"public_key": sg.PUBLIC_KEY})
    await make_campaign(client, organization, "spring")
    processed, later = sendgrid_send()
    if order == "one batch":
        batches = [later + processed]
    elif order == "sends first":
        batches = [processed, later]
    else:  # kept until the processed events record the message id for each address
        batches = [later, processed]
    for batch in batches:
        response = await sg.post(client, organization, batch)
        assert response.status_code == 200, response.text
    assert await opens_and_clicks(client, organization) == EXPECTED_PEOPLE
    numbers = await stats(client, organization)
    assert (numbers["sent"], numbers["opens"], numbers["clicked"], numbers["clicks"]) == (
        3,
        2,
        1,
        1,
    )
    # Replayed, the whole send is duplicates.
    response = await sg.post(client, organization, processed + later)
    assert response.json() == {"accepted": 0, "duplicates": 6, "unmatched": 0}


def mailgun_event(kind: str, email: str, seconds: int, event_id: str, **fields: Any) -> dict:
    data = mg.event_data(kind, email, seconds, event_id, **fields)
    # Mailgun's message-id is the Message-Id header of the one message sent to all three.
    data["message"]["headers"]["message-id"] = "20261120090000.1.ABCDEF@mg.example.org"
    data["message"]["headers"]["to"] = ", ".join(PEOPLE)
    return data


@pytest.mark.parametrize("order", ["sends first", "engagement first"])
async def test_mailgun_one_send_to_three(client, database, organization, order) -> None:
    await configure(database, organization, "mailgun", {"signing_key": mg.SIGNING_KEY})
    await make_campaign(client, organization, "spring")
    accepted = [mailgun_event("accepted", e, 0, f"mg-a{n}") for n, e in enumerate(PEOPLE)]
    info = {"client-info": mg.client_info(mg.CHROME)}
    later = [
        bare(mailgun_event("opened", "ann@example.com", 600, "mg-o1", **info), "user-variables"),
        bare(mailgun_event("opened", "ann@example.com", 700, "mg-o2", **info), "user-variables"),
        bare(
            mailgun_event("clicked", "ben@example.com", 800, "mg-c1",
                          url="https://example.com/pricing", **info),
            "user-variables",
        ),
    ]  # fmt: skip
    events = accepted + later if order == "sends first" else later + accepted
    await mg.post_all(client, organization, events)
    assert await opens_and_clicks(client, organization) == EXPECTED_PEOPLE
    numbers = await stats(client, organization)
    assert (numbers["sent"], numbers["opens"], numbers["clicked"], numbers["clicks"]) == (
        3,
        2,
        1,
        1,
    )
    totals = await mg.post_all(client, organization, events)
    assert totals == {"accepted": 0, "duplicates": 6, "unmatched": 0}
