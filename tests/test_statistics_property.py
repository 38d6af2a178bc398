"""Random event histories, sent in any order with duplicates, serve exactly the statistics that
docs/metrics.md defines, recomputed here in plain Python from the events alone."""

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.database import Database
from app.ids import parse_pk
from app.main import create_app
from app.reconcile import reconcile
from app.settings import Settings
from tests.factories import event, graphql, make_campaign, make_organization, post_events

TYPES = [
    "SENT", "NOT_SENT", "DELIVERED", "DEFERRED", "BOUNCED", "DROPPED", "OPENED", "CLICKED",
    "COMPLAINED", "UNSUBSCRIBED", "RESPONDED", "LEAD", "OPPORTUNITY", "PURCHASED",
]  # fmt: skip
DELIVERY_STAGE = ["SENT", "DEFERRED", "DROPPED", "DELIVERED", "BOUNCED"]  # ties: the last wins
HARD_CATEGORIES = {"DOMAIN_NOT_FOUND", "USER_NOT_FOUND", "INVALID_ADDRESS"}
CATEGORIES = sorted(HARD_CATEGORIES | {"MAILBOX_FULL", "SPAM_BLOCKED", "UNSPECIFIED"})
CONTACTS = ["ann@example.com", "bob@example.com", "cat@example.org", "dan@example.net"]
# Two campaigns: one with variants, links and a cost; one plain.
CAMPAIGNS = {
    "alpha": {
        "variants": ["A", "B"],
        "links": ["https://example.com/one", "https://example.com/two"],
        "cost_cents": 12_345,
    },
    "beta": {"variants": [], "links": ["https://example.com/three"], "cost_cents": None},
}
# A click on a url the campaign does not list yet creates that link.
UNLISTED_URL = "https://example.com/new"

STATS_FIELDS = """
  recipients sent notSent delivered deferred dropped bounced hardBounced softBounced
  opened opens clicked clicks complained unsubscribed machineOpens botClicks
  responded leads opportunities purchases revenue
  deliveryRate openRate confirmedOpenRate clickRate clickThroughRate clickToOpenRate
  bounceRate complaintRate unsubscribeRate conversionRate
  cost profit roi costPerLead costPerPurchase
"""
QUERY = f"""
fragment All on Stats {{ {STATS_FIELDS} }}
query($externalId: String!) {{
  campaign(externalId: $externalId) {{
    id
    stats {{ ...All }}
    human: stats(humanOnly: true) {{ ...All }}
    funnel {{ notReceived received opened clicked optedOut }}
    links {{ url clicks clicked }}
    variants {{
      name
      stats {{ ...All }}
      human: stats(humanOnly: true) {{ ...All }}
      links {{ url clicks clicked }}
    }}
  }}
}}
"""


# --- The events ------------------------------------------------------------------------------


@st.composite
def histories(draw: Any) -> list[dict[str, Any]]:
    """Unique events (each with its own id) for a few contacts of one or two campaigns."""
    campaigns = draw(st.sampled_from([["alpha"], ["alpha", "beta"]]))
    events: list[dict[str, Any]] = []
    for campaign in campaigns:
        options = CAMPAIGNS[campaign]
        for email in draw(st.lists(st.sampled_from(CONTACTS), min_size=1, max_size=4, unique=True)):
            variant = draw(st.sampled_from([None, *options["variants"]]))
            for _ in range(draw(st.integers(1, 7))):
                # Delivery-stage events are drawn more often: their ties decide delivery.
                kind = draw(st.one_of(st.sampled_from(DELIVERY_STAGE), st.sampled_from(TYPES)))
                extra: dict[str, Any] = {"id": f"e{len(events)}"}
                if variant and draw(st.booleans()):  # some events of a recipient omit it
                    extra["variant"] = variant
                if kind == "OPENED":
                    extra["machine"] = draw(st.booleans())
                if kind == "CLICKED":
                    extra["bot"] = draw(st.booleans())
                    url = draw(st.sampled_from([None, UNLISTED_URL, *options["links"]]))
                    if url:
                        extra["url"] = url
                if kind == "BOUNCED":
                    bounce = draw(
                        st.one_of(
                            st.none(),
                            st.fixed_dictionaries({"type": st.sampled_from(["HARD", "SOFT"])}),
                            st.fixed_dictionaries({"category": st.sampled_from(CATEGORIES)}),
                        )
                    )
                    if bounce is not None:
                        extra["bounce"] = bounce
                if kind in ("NOT_SENT", "DROPPED"):
                    extra["skipReason"] = draw(st.sampled_from(["UNSUBSCRIBED", "OTHER"]))
                if kind == "PURCHASED" and draw(st.booleans()):
                    cents = draw(st.integers(0, 99_999))
                    extra["amount"] = draw(st.sampled_from([f"{cents / 100:.2f}", str(cents)]))
                # Whole minutes in a short window: many events share an instant (tie-breaks).
                minutes: float = draw(st.integers(0, 3))
                if kind == "CLICKED":
                    # Half a minute away from any delivery: several links clicked within seconds
                    # of it would make a scanner's clicks (tested in tests/test_automation.py).
                    minutes += 0.5
                events.append(event(kind, email, campaign, minutes, **extra))
    return events


@st.composite
def deliveries(draw: Any) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """The unique events, and the same events with resent duplicates, shuffled, in batches."""
    unique = draw(histories())
    resent = draw(st.lists(st.sampled_from(unique), max_size=6))
    sent = draw(st.permutations(unique + resent))
    cuts = sorted(draw(st.lists(st.integers(0, len(sent)), max_size=3)))
    bounds = [0, *cuts, len(sent)]
    batches = [sent[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    return unique, batches


# --- The independent recomputation (docs/metrics.md) ------------------------------------


@dataclass
class Recipient:
    events: list[dict[str, Any]]
    variant: str | None


def amount_cents(e: dict[str, Any]) -> int:
    return round(Decimal(e["amount"]) * 100) if "amount" in e else 0


def is_hard(e: dict[str, Any]) -> bool:
    bounce = e.get("bounce") or {}
    if "type" in bounce:
        return bounce["type"] == "HARD"
    return bounce.get("category") in HARD_CATEGORIES


def counters(recipients: list[Recipient]) -> dict[str, int]:
    """Every counter of the Stats type, and the funnel, summed over recipients."""
    total: dict[str, int] = defaultdict(int)
    for recipient in recipients:
        events = recipient.events
        types = [e["type"] for e in events]
        has = set(types).__contains__
        if has("OPENED") or has("CLICKED") or has("COMPLAINED") or has("UNSUBSCRIBED"):
            delivery = "DELIVERED"
        else:
            stage = [e for e in events if e["type"] in DELIVERY_STAGE]
            latest = max(
                stage,
                key=lambda e: (e["occurredAt"], DELIVERY_STAGE.index(e["type"])),
                default=None,
            )
            delivery = latest["type"] if latest else None
        hard = delivery == "BOUNCED" and any(is_hard(e) for e in events if e["type"] == "BOUNCED")
        opens = [e for e in events if e["type"] == "OPENED"]
        clicks = [e for e in events if e["type"] == "CLICKED"]
        human_opens = [e for e in opens if not e["machine"]]
        human_clicks = [e for e in clicks if not e["bot"]]
        opted_out = has("UNSUBSCRIBED") or has("COMPLAINED")
        opened = bool(opens or clicks)
        row = {
            "recipients": 1,
            "sent": delivery is not None,
            "notSent": delivery is None and has("NOT_SENT"),
            "delivered": delivery == "DELIVERED",
            "deferred": delivery == "DEFERRED",
            "dropped": delivery == "DROPPED",
            "bounced": delivery == "BOUNCED",
            "hardBounced": hard,
            "softBounced": delivery == "BOUNCED" and not hard,
            "opened": opened,
            "opens": len(opens),
            "clicked": bool(clicks),
            "clicks": len(clicks),
            "humanOpened": bool(human_opens or human_clicks),
            "humanOpens": len(human_opens),
            "humanClicked": bool(human_clicks),
            "humanClicks": len(human_clicks),
            "complained": has("COMPLAINED"),
            "unsubscribed": has("UNSUBSCRIBED"),
            "machineOpens": len(opens) - len(human_opens),
            "botClicks": len(clicks) - len(human_clicks),
            "responded": has("RESPONDED"),
            "leads": has("LEAD"),
            "opportunities": has("OPPORTUNITY"),
            "purchases": has("PURCHASED"),
            "revenueCents": sum(amount_cents(e) for e in events if e["type"] == "PURCHASED"),
            "optedOut": opted_out,
            "funnelClicked": not opted_out and bool(clicks),
            "funnelOpened": not opted_out and not clicks and opened,
            "received": not opted_out and not opened and delivery == "DELIVERED",
            "notReceived": not opted_out and not opened and delivery != "DELIVERED",
        }
        for name, value in row.items():
            total[name] += int(value)
    return total


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def expected_stats(c: dict[str, int], cost_cents: int | None, human_only: bool) -> dict[str, Any]:
    """The Stats fields (money as Decimal) of summed counters."""
    opened, opens, clicked, clicks = c["opened"], c["opens"], c["clicked"], c["clicks"]
    if human_only:
        opened, opens = c["humanOpened"], c["humanOpens"]
        clicked, clicks = c["humanClicked"], c["humanClicks"]
    sent, delivered = c["sent"], c["delivered"]
    revenue = Decimal(c["revenueCents"]) / 100
    cost = None if cost_cents is None else Decimal(cost_cents) / 100
    plain = [
        "recipients", "notSent", "deferred", "dropped", "bounced", "hardBounced", "softBounced",
        "complained", "unsubscribed", "machineOpens", "botClicks", "responded", "leads",
        "opportunities", "purchases",
    ]  # fmt: skip
    return {
        **{name: c[name] for name in plain},
        "sent": sent,
        "delivered": delivered,
        "opened": opened,
        "opens": opens,
        "clicked": clicked,
        "clicks": clicks,
        "revenue": revenue,
        "deliveryRate": ratio(delivered, sent),
        "openRate": ratio(opened, sent),
        "confirmedOpenRate": ratio(opened, delivered),
        "clickRate": ratio(clicked, sent),
        "clickThroughRate": ratio(clicked, delivered),
        "clickToOpenRate": ratio(clicked, opened),
        "bounceRate": ratio(c["bounced"], sent),
        "complaintRate": ratio(c["complained"], sent),
        "unsubscribeRate": ratio(c["unsubscribed"], sent),
        "conversionRate": ratio(c["purchases"], delivered),
        "cost": cost,
        "profit": None if cost is None else revenue - cost,
        "roi": None if not cost else float((revenue - cost) / cost),
        "costPerLead": cost / c["leads"] if cost is not None and c["leads"] else None,
        "costPerPurchase": (cost / c["purchases"] if cost is not None and c["purchases"] else None),
    }


def assert_stats(served: dict[str, Any], expected: dict[str, Any]) -> None:
    for name, value in expected.items():
        got = served[name]
        if value is None or got is None:
            assert got == value, (name, got, value)
        elif isinstance(value, Decimal):
            # Money is served in cents; a division may round to the nearest cent.
            assert abs(Decimal(got) - value) <= Decimal("0.005"), (name, got, value)
        elif isinstance(value, float):
            assert got == pytest.approx(value), (name, got, value)
        else:
            assert got == value, (name, got, value)


def link_counts(recipients: list[Recipient]) -> dict[str, tuple[int, int]]:
    """(clicks, unique clickers) by url."""
    clicks: dict[str, int] = defaultdict(int)
    clickers: dict[str, int] = defaultdict(int)
    for recipient in recipients:
        urls = [e["url"] for e in recipient.events if e["type"] == "CLICKED" and "url" in e]
        for url in urls:
            clicks[url] += 1
        for url in set(urls):
            clickers[url] += 1
    return {url: (clicks[url], clickers[url]) for url in clicks}


def served_links(links: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    return {link["url"]: (link["clicks"], link["clicked"]) for link in links if link["clicks"]}


def recipients_of(unique: list[dict[str, Any]], campaign: str) -> list[Recipient]:
    """The campaign's recipients; a recipient belongs to the variant any of its events names."""
    by_contact: dict[str, Recipient] = {}
    for e in unique:
        if e["campaign"] == campaign:
            recipient = by_contact.setdefault(e["contact"]["email"], Recipient([], None))
            recipient.events.append(e)
            recipient.variant = recipient.variant or e.get("variant")
    return list(by_contact.values())


# --- The test --------------------------------------------------------------------------------


async def check(database_url: str, unique: list[dict[str, Any]], batches: list[list[Any]]) -> None:
    database = Database.from_url(database_url)
    try:
        app = create_app(Settings(database_url=database_url), database)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            organization = await make_organization(database)
            for external_id, options in CAMPAIGNS.items():
                cost = options["cost_cents"]
                await make_campaign(
                    client,
                    organization,
                    external_id,
                    variants=[{"name": name} for name in options["variants"]],
                    links=[{"url": url} for url in options["links"]],
                    **({"cost": f"{cost / 100:.2f}"} if cost is not None else {}),
                )
            posted = 0
            for batch in batches:
                response = await post_events(client, organization, batch)
                assert response.status_code == 200, response.text
                result = response.json()
                assert result["unmatched"] == 0
                posted += result["accepted"]
            assert posted == len(unique)

            for external_id, options in CAMPAIGNS.items():
                body = await graphql(client, organization, QUERY, {"externalId": external_id})
                campaign = body["data"]["campaign"]
                # Every aggregate row also equals the app's own recomputation from the history.
                async with database.read() as connection:
                    assert await reconcile(connection, parse_pk(campaign["id"], "Campaign")) == []
                recipients = recipients_of(unique, external_id)
                summed = counters(recipients)
                cost = options["cost_cents"]
                assert_stats(campaign["stats"], expected_stats(summed, cost, False))
                assert_stats(campaign["human"], expected_stats(summed, cost, True))
                assert campaign["funnel"] == {
                    "notReceived": summed["notReceived"],
                    "received": summed["received"],
                    "opened": summed["funnelOpened"],
                    "clicked": summed["funnelClicked"],
                    "optedOut": summed["optedOut"],
                }
                assert served_links(campaign["links"]) == link_counts(recipients)
                assert sorted(v["name"] for v in campaign["variants"]) == options["variants"]
                for variant in campaign["variants"]:
                    mine = [r for r in recipients if r.variant == variant["name"]]
                    summed = counters(mine)
                    assert_stats(variant["stats"], expected_stats(summed, None, False))
                    assert_stats(variant["human"], expected_stats(summed, None, True))
                    assert served_links(variant["links"]) == link_counts(mine)
    finally:
        await database.dispose()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(delivery=deliveries())
def test_served_statistics_equal_a_recomputation_from_the_events(
    database_url: str, delivery: tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]
) -> None:
    unique, batches = delivery
    asyncio.run(check(database_url, unique, batches))


def test_the_recomputation_follows_the_metric_definitions() -> None:
    """The test's own recomputation, on a history worked out by hand."""
    a = event("SENT", "a@example.com", minutes=0)
    soft = event("BOUNCED", "a@example.com", minutes=1, bounce={"type": "SOFT"})
    b_sent = event("SENT", "b@example.com", minutes=0)
    b_hard = event("BOUNCED", "b@example.com", minutes=1, bounce={"category": "USER_NOT_FOUND"})
    c_open = event("OPENED", "c@example.com", minutes=2, machine=True)
    c_buy = event("PURCHASED", "c@example.com", minutes=3, amount="12.50")
    summed = counters(
        [
            Recipient([a, soft], None),
            Recipient([b_sent, b_hard], None),
            Recipient([c_open, c_buy], None),
        ]
    )
    # a soft-bounced, b hard-bounced; c's open proves delivery, made by a machine.
    assert (summed["sent"], summed["bounced"], summed["hardBounced"], summed["softBounced"]) == (
        3,
        2,
        1,
        1,
    )
    assert (summed["delivered"], summed["opened"], summed["humanOpened"]) == (1, 1, 0)
    assert summed["revenueCents"] == 1250
