"""Statistics value types: plain attributes, filled from pre-aggregated counters."""

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

if TYPE_CHECKING:
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
    owner: Annotated["User", strawberry.lazy("schema.organization")] | None
    stats: Stats


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


@strawberry.type
class EngagementRow:
    value: str
    opens: int
    opened: int
    clicks: int
    clicked: int
    share: float | None = strawberry.field(description="share of all unique openers in this row")
