"""Statistics value types: plain attributes, filled from pre-aggregated counters."""

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from resolvers.timeline import Bucket
from schema.organization import User


@strawberry.type(
    description="Counters are exact and pre-aggregated; `opened` and `clicked` count unique recipients."
)
class Stats:
    recipients: int
    sent: int
    not_sent: int
    delivered: int
    deferred: int
    dropped: int
    bounced: int
    hard_bounced: int
    soft_bounced: int
    opened: int
    opens: int
    clicked: int
    clicks: int
    complained: int
    unsubscribed: int
    machine_opens: int
    bot_clicks: int
    responded: int
    leads: int
    opportunities: int
    purchases: int
    revenue: Decimal
    delivery_rate: float | None
    open_rate: float | None
    confirmed_open_rate: float | None
    click_rate: float | None
    click_through_rate: float | None
    click_to_open_rate: float | None
    bounce_rate: float | None
    complaint_rate: float | None
    unsubscribe_rate: float | None
    conversion_rate: float | None
    cost: Decimal | None
    profit: Decimal | None
    roi: float | None
    cost_per_lead: Decimal | None
    cost_per_purchase: Decimal | None
    updated_at: datetime | None


@strawberry.type(
    description="Recipients by the furthest point reached; the parts sum to all recipients."
)
class Funnel:
    not_received: int
    received: int
    opened: int
    clicked: int
    opted_out: int


@strawberry.type
class OwnerStats:
    owner: User | None
    stats: Stats

    @classmethod
    def from_section(cls, section: tuple[Any, dict[str, Any]]) -> "OwnerStats":
        """An owner's section: (its user row or None, its Stats fields)."""
        owner, stats = section
        return cls(owner=None if owner is None else User.from_row(owner), stats=Stats(**stats))


@strawberry.type
class TimelineBucket:
    start: datetime
    end: datetime
    sent: int
    delivered: int
    opens: int
    clicks: int
    bounced: int
    unsubscribed: int

    @classmethod
    def from_bucket(cls, bucket: Bucket) -> "TimelineBucket":
        return cls(
            start=bucket.start,
            end=bucket.end,
            sent=bucket.sent,
            delivered=bucket.delivered,
            opens=bucket.opens,
            clicks=bucket.clicks,
            bounced=bucket.bounced,
            unsubscribed=bucket.unsubscribed,
        )


@strawberry.type
class EngagementRow:
    value: str
    opens: int
    opened: int
    clicks: int
    clicked: int
    share: float | None = strawberry.field(description="share of all unique openers in this row")
