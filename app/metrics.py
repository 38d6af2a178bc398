"""Rates and money from summed counters (docs/metrics.md). Pure functions."""

from decimal import Decimal
from typing import Any


def rate(numerator: int, denominator: int) -> float | None:
    """A fraction in [0, 1]; None when the denominator is 0."""
    return numerator / denominator if denominator else None


def cents_to_decimal(cents: int | None) -> Decimal | None:
    return None if cents is None else (Decimal(cents) / 100).quantize(Decimal("0.01"))


def _divide_money(cents: int | None, count: int) -> Decimal | None:
    if cents is None or not count:
        return None
    return (Decimal(cents) / 100 / count).quantize(Decimal("0.01"))


def metrics(counters: dict[str, Any], cost_cents: int | None, human_only: bool) -> dict[str, Any]:
    """The Stats fields of `counters` (sums of campaign_stats rows) and the campaign's cost."""
    c = {name: int(value or 0) for name, value in counters.items() if name != "updated_at"}
    opened, clicked = c["opened"], c["clicked"]
    opens, clicks = c["opens"], c["clicks"]
    if human_only:
        opened, clicked = c["human_opened"], c["human_clicked"]
        opens, clicks = opens - c["machine_opens"], clicks - c["bot_clicks"]
    sent, delivered = c["sent"], c["delivered"]
    revenue = c["revenue_cents"]
    return {
        "recipients": c["recipients"],
        "sent": sent,
        "not_sent": c["not_sent"],
        "delivered": delivered,
        "deferred": c["deferred"],
        "dropped": c["dropped"],
        "bounced": c["bounced"],
        "hard_bounced": c["hard_bounced"],
        "soft_bounced": c["soft_bounced"],
        "opened": opened,
        "opens": opens,
        "clicked": clicked,
        "clicks": clicks,
        "complained": c["complained"],
        "unsubscribed": c["unsubscribed"],
        "machine_opens": c["machine_opens"],
        "bot_clicks": c["bot_clicks"],
        "responded": c["responded"],
        "leads": c["leads"],
        "opportunities": c["opportunities"],
        "purchases": c["purchases"],
        "revenue": cents_to_decimal(revenue),
        "delivery_rate": rate(delivered, sent),
        "open_rate": rate(opened, sent),
        "confirmed_open_rate": rate(opened, delivered),
        "click_rate": rate(clicked, sent),
        "click_through_rate": rate(clicked, delivered),
        "click_to_open_rate": rate(clicked, opened),
        "bounce_rate": rate(c["bounced"], sent),
        "complaint_rate": rate(c["complained"], sent),
        "unsubscribe_rate": rate(c["unsubscribed"], sent),
        "conversion_rate": rate(c["purchases"], delivered),
        "cost": cents_to_decimal(cost_cents),
        "profit": None if cost_cents is None else cents_to_decimal(revenue - cost_cents),
        "roi": None if not cost_cents else (revenue - cost_cents) / cost_cents,
        "cost_per_lead": _divide_money(cost_cents, c["leads"]),
        "cost_per_purchase": _divide_money(cost_cents, c["purchases"]),
        "updated_at": counters.get("updated_at"),
    }


def funnel(counters: dict[str, Any]) -> dict[str, int]:
    return {
        "not_received": int(counters["funnel_not_received"]),
        "received": int(counters["funnel_received"]),
        "opened": int(counters["funnel_opened"]),
        "clicked": int(counters["funnel_clicked"]),
        "opted_out": int(counters["funnel_opted_out"]),
    }
