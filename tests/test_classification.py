"""Explainable classification: each open and click set aside says which rule did it, campaigns
count what each rule set aside, and the activity export carries the reason."""

import csv
import io
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.enums import ResponseType
from app.ingest.automation import (
    ClassificationReason,
    Observed,
    classify,
    event_reason,
    inferred_report,
)
from tests.factories import (
    BASE_TIME,
    Organization,
    event,
    graphql,
    make_campaign,
    make_organization,
    post_events,
)

T = ResponseType
R = ClassificationReason
IPHONE_MAIL = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
OUTLOOK = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36 Edg/119.0"
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
SAFE_LINKS = "Mozilla/5.0 (compatible; Microsoft Office Protection) SafeLinks/1.0"
A, B = "https://example.com/a", "https://example.com/b"


# --- The rules, one reason each ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "agent", "ip", "reported", "reason"),
    [
        # SendGrid's sg_machine_open, Mailgun's client-info.bot, the canonical fields
        (T.OPENED, IPHONE_MAIL, "203.0.113.7", True, R.REPORTED),
        (T.CLICKED, OUTLOOK, "203.0.113.7", True, R.REPORTED),
        # The sender's flag wins over the rules, both ways.
        (T.OPENED, "Mozilla/5.0", "17.58.1.1", True, R.REPORTED),
        (T.OPENED, "Mozilla/5.0", "17.58.1.1", False, None),
        # Apple Mail Privacy Protection: its bare agent, or Apple's network
        (T.OPENED, "Mozilla/5.0", "203.0.113.7", None, R.PRIVACY_PROXY),
        (T.OPENED, IPHONE_MAIL, "17.58.100.1", None, R.PRIVACY_PROXY),
        # Security gateways and link checkers
        (T.OPENED, "Mozilla/5.0 (compatible; Barracuda Sentinel)", None, None, R.SCANNER_AGENT),
        (T.CLICKED, "Mimecast URL Protect", "205.139.110.3", None, R.SCANNER_AGENT),
        (T.CLICKED, SAFE_LINKS, "40.94.1.1", None, R.SCANNER_AGENT),
        (T.CLICKED, "python-requests/2.31.0", None, None, R.SCANNER_AGENT),
        # A click from Apple's network is a person's: the proxy fetches images, not links.
        (T.CLICKED, IPHONE_MAIL, "17.58.100.1", None, None),
        # People, and Gmail's proxy fetching as a person opens
        (T.OPENED, IPHONE_MAIL, "203.0.113.7", None, None),
        (T.OPENED, GMAIL_PROXY, "66.249.84.1", None, None),
        (T.CLICKED, OUTLOOK, "203.0.113.7", None, None),
        # Other events are never set aside.
        (T.DELIVERED, "Mimecast URL Protect", None, True, None),
    ],
)
def test_each_rule_gives_its_reason(
    kind: ResponseType, agent: str, ip: str | None, reported: bool | None, reason: R | None
) -> None:
    assert event_reason(kind, agent, ip, reported) is reason


def test_the_first_matching_rule_wins_and_bursts_come_last() -> None:
    def at(seconds: float) -> Any:
        return BASE_TIME + timedelta(seconds=seconds)

    history = [
        Observed(1, T.DELIVERED, at(0)),
        Observed(2, T.CLICKED, at(2), link_id=1, user_agent=OUTLOOK),
        Observed(3, T.CLICKED, at(3), link_id=2, user_agent="Mimecast URL Protect"),
        Observed(4, T.CLICKED, at(4), link_id=1, user_agent=OUTLOOK, reported=True),
        Observed(5, T.CLICKED, at(5), link_id=2, user_agent=OUTLOOK, reported=False),
        Observed(6, T.CLICKED, at(60), link_id=1, user_agent=OUTLOOK),  # a minute later: a person
        Observed(7, T.OPENED, at(1), user_agent="Mimecast URL Protect", ip="17.1.1.1"),
    ]
    assert classify(history) == {
        2: R.CLICK_BURST,
        3: R.SCANNER_AGENT,  # inside the burst too, but its agent comes first
        4: R.REPORTED,
        5: R.CLICK_BURST,  # the sender's "not a bot" does not outweigh the burst
        7: R.PRIVACY_PROXY,  # Apple's network before the agent
    }


def test_the_sender_flag_of_rows_from_before_rule_versions_is_inferred() -> None:
    # Set aside with no rule to explain it: the sender said so.
    assert inferred_report(T.OPENED, True, IPHONE_MAIL, "203.0.113.7", False) is True
    # Set aside and a rule explains it (or the burst): nothing said.
    assert inferred_report(T.OPENED, True, "Mozilla/5.0", None, False) is None
    assert inferred_report(T.CLICKED, True, OUTLOOK, None, True) is None
    # A person's although a rule matches: the sender said so.
    assert inferred_report(T.CLICKED, False, "Mimecast URL Protect", None, False) is False
    assert inferred_report(T.CLICKED, False, OUTLOOK, None, False) is None


# --- What a campaign set aside -------------------------------------------------------------

ACTIVITY = """query($e: String) { campaign(externalId: $e) {
  automatedActivity { reason opens clicks recipients }
  stats { opens clicks machineOpens botClicks }
  activity(first: 100) { edges { node { type classifiedBy machine bot contact { email } } } }
} }"""


def scenario() -> list[dict[str, Any]]:
    seconds = 1 / 60
    return [
        # ann: Apple's proxy opens twice; two links clicked 2 and 5 seconds after delivery.
        event("DELIVERED", "ann@example.com"),
        event("OPENED", "ann@example.com", minutes=1, userAgent="Mozilla/5.0", ip="17.58.1.1"),
        event("OPENED", "ann@example.com", minutes=2, userAgent=IPHONE_MAIL, ip="17.2.3.4"),
        event("CLICKED", "ann@example.com", minutes=2 * seconds, url=A, userAgent=OUTLOOK),
        event("CLICKED", "ann@example.com", minutes=5 * seconds, url=B, userAgent=OUTLOOK),
        # bob: a person's open, an open the provider flagged, Mimecast's click, a flagged click.
        event("OPENED", "bob@example.com", minutes=3, userAgent=IPHONE_MAIL, ip="203.0.113.7"),
        event("OPENED", "bob@example.com", minutes=4, userAgent=IPHONE_MAIL, machine=True),
        event("CLICKED", "bob@example.com", minutes=5, url=A, userAgent="Mimecast URL Protect"),
        event("CLICKED", "bob@example.com", minutes=6, url=B, userAgent=OUTLOOK, bot=True),
        # cy: the sender says a person opened (despite the proxy's agent); a script clicks;
        # Barracuda opens.
        event("OPENED", "cy@example.com", minutes=3, userAgent="Mozilla/5.0", machine=False),
        event("CLICKED", "cy@example.com", minutes=4, url=A, userAgent="python-requests/2.31"),
        event("OPENED", "cy@example.com", minutes=5, userAgent="Barracuda Sentinel (EE)"),
        # dee: Apple's proxy opens, then dee's responses are deleted.
        event("OPENED", "dee@example.com", minutes=1, userAgent="Mozilla/5.0", ip="17.9.9.9"),
    ]


async def delete_dee(client: httpx.AsyncClient, organization: Organization, campaign: str) -> None:
    body = await graphql(
        client,
        organization,
        """query { contacts(first: 10) { edges { node { id email } } } }""",
    )
    dee = next(
        e["node"]["id"]
        for e in body["data"]["contacts"]["edges"]
        if e["node"]["email"] == "dee@example.com"
    )
    deleted = await graphql(
        client,
        organization,
        """mutation($c: ID!, $p: ID!) { deleteResponses(input: {campaignId: $c, contactId: $p}) {
             deletedCount userErrors { message } } }""",
        {"c": campaign, "p": dee},
    )
    assert deleted["data"]["deleteResponses"] == {"deletedCount": 1, "userErrors": []}


async def test_automated_activity_counts_what_each_rule_set_aside(client, organization) -> None:
    campaign = await make_campaign(client, organization, "spring", links=[{"url": A}, {"url": B}])
    assert (await post_events(client, organization, scenario())).status_code == 200
    await delete_dee(client, organization, campaign)
    body = await graphql(client, organization, ACTIVITY, {"e": "spring"})
    found = body["data"]["campaign"]
    # By hand: REPORTED bob's flagged open and click; PRIVACY_PROXY ann's two opens (dee's is
    # deleted); SCANNER_AGENT cy's Barracuda open, bob's Mimecast click and cy's script click;
    # CLICK_BURST ann's two clicks.
    assert found["automatedActivity"] == [
        {"reason": "REPORTED", "opens": 1, "clicks": 1, "recipients": 1},
        {"reason": "PRIVACY_PROXY", "opens": 2, "clicks": 0, "recipients": 1},
        {"reason": "SCANNER_AGENT", "opens": 1, "clicks": 2, "recipients": 2},
        {"reason": "CLICK_BURST", "opens": 0, "clicks": 2, "recipients": 1},
    ]
    # The same opens and clicks the statistics count as automated: 6 opens, 4 of them set
    # aside; 5 clicks, all set aside.
    assert found["stats"] == {"opens": 6, "clicks": 5, "machineOpens": 4, "botClicks": 5}
    reasons = sorted(
        (e["node"]["contact"]["email"], e["node"]["type"], e["node"]["classifiedBy"] or "")
        for e in found["activity"]["edges"]
        if e["node"]["type"] in ("OPENED", "CLICKED")
    )
    assert reasons == [
        ("ann@example.com", "CLICKED", "CLICK_BURST"),
        ("ann@example.com", "CLICKED", "CLICK_BURST"),
        ("ann@example.com", "OPENED", "PRIVACY_PROXY"),
        ("ann@example.com", "OPENED", "PRIVACY_PROXY"),
        ("bob@example.com", "CLICKED", "REPORTED"),
        ("bob@example.com", "CLICKED", "SCANNER_AGENT"),
        ("bob@example.com", "OPENED", ""),
        ("bob@example.com", "OPENED", "REPORTED"),
        ("cy@example.com", "CLICKED", "SCANNER_AGENT"),
        ("cy@example.com", "OPENED", ""),
        ("cy@example.com", "OPENED", "SCANNER_AGENT"),
    ]

    # The activity export carries the reason next to the flags.
    export = await client.get(
        f"/exports/campaigns/{campaign}/activity.csv?types=OPENED,CLICKED",
        headers=organization.headers(),
    )
    assert export.status_code == 200, export.text
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    header = list(rows[0])
    assert header[header.index("bot") + 1] == "classified_by"
    assert sorted((r["email"], r["type"], r["classified_by"]) for r in rows) == reasons


async def test_a_list_of_campaigns_reads_automated_activity_in_one_statement(
    client, database, count_statements
) -> None:
    async def organization_with(count: int) -> Organization:
        organization = await make_organization(database)
        events = []
        for number in range(count):
            await make_campaign(client, organization, f"c{number}")
            events.append(
                event("OPENED", f"p{number}@example.com", campaign=f"c{number}", machine=True)
            )
        assert (await post_events(client, organization, events)).status_code == 200
        return organization

    query = "{ campaigns(first: 50) { edges { node { automatedActivity { reason opens } } } } }"
    counts = []
    for organization in (await organization_with(2), await organization_with(12)):
        with count_statements() as counter:
            body = await graphql(client, organization, query)
        counts.append(counter.count)
        for edge in body["data"]["campaigns"]["edges"]:
            assert edge["node"]["automatedActivity"][0] == {"reason": "REPORTED", "opens": 1}
    assert counts[0] == counts[1]
