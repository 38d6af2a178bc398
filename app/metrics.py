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


class Metrics:
    """The Stats fields of `counters` (sums of campaign_stats rows) and the campaign's cost, each
    computed when read: a query asks for a few of the 38 (a list of 100 campaigns with their
    variants reads 300 of these)."""

    __slots__ = ("_counters", "_cost_cents", "_human_only")

    def __init__(self, counters: dict[str, Any], cost_cents: int | None, human_only: bool) -> None:
        self._counters = counters
        self._cost_cents = cost_cents
        self._human_only = human_only

    def _count(self, name: str) -> int:
        return int(self._counters[name] or 0)

    # Counters read as stored.
    recipients = property(lambda self: self._count("recipients"))
    sent = property(lambda self: self._count("sent"))
    not_sent = property(lambda self: self._count("not_sent"))
    delivered = property(lambda self: self._count("delivered"))
    deferred = property(lambda self: self._count("deferred"))
    dropped = property(lambda self: self._count("dropped"))
    bounced = property(lambda self: self._count("bounced"))
    hard_bounced = property(lambda self: self._count("hard_bounced"))
    soft_bounced = property(lambda self: self._count("soft_bounced"))
    complained = property(lambda self: self._count("complained"))
    unsubscribed = property(lambda self: self._count("unsubscribed"))
    machine_opens = property(lambda self: self._count("machine_opens"))
    bot_clicks = property(lambda self: self._count("bot_clicks"))
    responded = property(lambda self: self._count("responded"))
    leads = property(lambda self: self._count("leads"))
    opportunities = property(lambda self: self._count("opportunities"))
    purchases = property(lambda self: self._count("purchases"))

    # Opens and clicks: people's only when asked for human-only statistics.
    @property
    def opened(self) -> int:
        return self._count("human_opened" if self._human_only else "opened")

    @property
    def clicked(self) -> int:
        return self._count("human_clicked" if self._human_only else "clicked")

    @property
    def opens(self) -> int:
        if self._human_only:
            return self._count("opens") - self._count("machine_opens")
        return self._count("opens")

    @property
    def clicks(self) -> int:
        if self._human_only:
            return self._count("clicks") - self._count("bot_clicks")
        return self._count("clicks")

    @property
    def revenue(self) -> Decimal | None:
        return cents_to_decimal(self._count("revenue_cents"))

    @property
    def delivery_rate(self) -> float | None:
        return rate(self.delivered, self.sent)

    @property
    def open_rate(self) -> float | None:
        return rate(self.opened, self.sent)

    @property
    def confirmed_open_rate(self) -> float | None:
        return rate(self.opened, self.delivered)

    @property
    def click_rate(self) -> float | None:
        return rate(self.clicked, self.sent)

    @property
    def click_through_rate(self) -> float | None:
        return rate(self.clicked, self.delivered)

    @property
    def click_to_open_rate(self) -> float | None:
        return rate(self.clicked, self.opened)

    @property
    def bounce_rate(self) -> float | None:
        return rate(self.bounced, self.sent)

    @property
    def complaint_rate(self) -> float | None:
        return rate(self.complained, self.sent)

    @property
    def unsubscribe_rate(self) -> float | None:
        return rate(self.unsubscribed, self.sent)

    @property
    def conversion_rate(self) -> float | None:
        return rate(self.purchases, self.delivered)

    @property
    def cost(self) -> Decimal | None:
        return cents_to_decimal(self._cost_cents)

    @property
    def profit(self) -> Decimal | None:
        cost_cents = self._cost_cents
        if cost_cents is None:
            return None
        return cents_to_decimal(self._count("revenue_cents") - cost_cents)

    @property
    def roi(self) -> float | None:
        cost_cents = self._cost_cents
        if not cost_cents:
            return None
        return (self._count("revenue_cents") - cost_cents) / cost_cents

    @property
    def cost_per_lead(self) -> Decimal | None:
        return _divide_money(self._cost_cents, self.leads)

    @property
    def cost_per_purchase(self) -> Decimal | None:
        return _divide_money(self._cost_cents, self.purchases)

    @property
    def updated_at(self) -> Any:
        return self._counters.get("updated_at")


STATS_FIELDS = (
    "recipients", "sent", "not_sent", "delivered", "deferred", "dropped", "bounced",
    "hard_bounced", "soft_bounced", "opened", "opens", "clicked", "clicks", "complained",
    "unsubscribed", "machine_opens", "bot_clicks", "responded", "leads", "opportunities",
    "purchases", "revenue", "delivery_rate", "open_rate", "confirmed_open_rate", "click_rate",
    "click_through_rate", "click_to_open_rate", "bounce_rate", "complaint_rate",
    "unsubscribe_rate", "conversion_rate", "cost", "profit", "roi", "cost_per_lead",
    "cost_per_purchase", "updated_at",
)  # fmt: skip


def metrics(counters: dict[str, Any], cost_cents: int | None, human_only: bool) -> dict[str, Any]:
    """The Stats fields of `counters` (sums of campaign_stats rows) and the campaign's cost."""
    view = Metrics(counters, cost_cents, human_only)
    return {name: getattr(view, name) for name in STATS_FIELDS}


def funnel(counters: dict[str, Any]) -> dict[str, int]:
    return {
        "not_received": int(counters["funnel_not_received"]),
        "received": int(counters["funnel_received"]),
        "opened": int(counters["funnel_opened"]),
        "clicked": int(counters["funnel_clicked"]),
        "opted_out": int(counters["funnel_opted_out"]),
    }
