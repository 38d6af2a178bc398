"""Campaign.timeline: events per local quarter hour, hour or day in any IANA time zone.

The stored buckets are 15 minutes of UTC. Every time zone in use today is offset from UTC by a
whole number of quarter hours, so each stored bucket lies inside exactly one local hour or day:
grouping them gives exact local counts, for half-hour and 45-minute offsets and for the 23- and
25-hour days of daylight-saving changes alike. A local bucket's start and end are the instants
its local period begins and ends, shown with the local offset.
"""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from graphql import GraphQLError

from app import instants
from app.enums import Granularity
from app.ids import parse_pk
from app.models import TIMELINE_COUNTERS
from resolvers import loaders
from resolvers.context import Info

MAX_BUCKETS = 5000
QUARTER_HOUR = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One local period of a timeline and its events (the TimelineBucket fields)."""

    start: datetime
    end: datetime
    sent: int
    delivered: int
    opens: int
    clicks: int
    bounced: int
    unsubscribed: int


def bad_input(message: str, argument: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "argument": argument})


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone called `name`; a clear error for anything else."""
    if name not in _zone_names():
        shown = name if len(name) <= 64 else name[:64] + "..."
        raise bad_input(
            f"unknown time zone {shown!r}: use an IANA name such as 'Europe/Berlin'", "timezone"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise bad_input(f"time zone {name!r} cannot be loaded", "timezone") from None


def local_start(moment: datetime, granularity: Granularity, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the local quarter hour, hour or day holding `moment` begins."""
    local = moment.astimezone(zone)
    if granularity is Granularity.QUARTER_HOUR:
        local = local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)
    elif granularity is Granularity.HOUR:
        # `fold` stays: the hour repeated when clocks go back is two hours, told apart by it.
        local = local.replace(minute=0, second=0, microsecond=0)
    else:
        local = local.replace(hour=0, minute=0, second=0, microsecond=0, fold=0)
    return local.astimezone(UTC)


def next_start(start: datetime, granularity: Granularity, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the local period after the one beginning at `start` begins."""
    if granularity is Granularity.DAY:
        following = start.astimezone(zone).date() + timedelta(days=1)
        return datetime.combine(following, time(0), tzinfo=zone).astimezone(UTC)
    length = QUARTER_HOUR if granularity is Granularity.QUARTER_HOUR else timedelta(hours=1)
    usual = start + length
    # Almost always the period has its usual length; otherwise walk the quarter hours.
    if (
        local_start(usual, granularity, zone) == usual
        and local_start(usual - QUARTER_HOUR, granularity, zone) == start
    ):
        return usual
    moment = start + QUARTER_HOUR
    while local_start(moment, granularity, zone) <= start:
        moment += QUARTER_HOUR
    return local_start(moment, granularity, zone)


def too_many_buckets() -> GraphQLError:
    return bad_input(
        f"a request may return at most {MAX_BUCKETS:,} timeline buckets; ask for a shorter "
        "range (from, to), a coarser granularity or fewer campaigns",
        "granularity",
    )


def boundaries(
    first: datetime,
    last: datetime,
    granularity: Granularity,
    zone: ZoneInfo,
    limit: int = MAX_BUCKETS,
) -> list[datetime]:
    """The UTC starts of the local periods from the one holding `first` to the one holding the
    instant just before `last`, followed by the end of the last one; more than `limit` periods
    is an error (found before building them all)."""
    starts = [local_start(first, granularity, zone)]
    while starts[-1] < last:
        if len(starts) > limit:
            raise too_many_buckets()
        starts.append(next_start(starts[-1], granularity, zone))
    return starts


class BucketBudget:
    """The buckets a request's timelines may still return: MAX_BUCKETS across all of them, so
    that a list of campaigns cannot multiply the limit."""

    def __init__(self, context: object = None) -> None:
        self.left = MAX_BUCKETS

    def spend(self, count: int) -> None:
        if count > self.left:
            raise too_many_buckets()
        self.left -= count


def group(
    rows: list[tuple[datetime, dict[str, int]]], edges: list[datetime], zone: ZoneInfo
) -> list[Bucket]:
    """Sum the stored 15-minute buckets into the local periods between consecutive edges."""
    sums = [dict.fromkeys(TIMELINE_COUNTERS, 0) for _ in edges[:-1]]
    for bucket_start, counters in rows:
        index = bisect_right(edges, bucket_start) - 1
        if 0 <= index < len(sums):
            for name, value in counters.items():
                sums[index][name] += value
    return [
        Bucket(start=start.astimezone(zone), end=end.astimezone(zone), **counters)
        for start, end, counters in zip(edges, edges[1:], sums, strict=False)
    ]


def _aware(value: datetime | None, argument: str) -> datetime | None:
    try:
        return instants.checked_or_none(value, argument)
    except instants.InstantError as exc:
        raise bad_input(str(exc), argument) from None


async def campaign_timeline(
    info: Info,
    campaign_pk: int,
    granularity: Granularity | None,
    timezone: str | None,
    start: datetime | None,
    end: datetime | None,
    variant_id: str | None,
) -> list[Bucket]:
    """The campaign's events per local period from `start` to `end` (end exclusive; by default
    its first to last event), with empty periods as zeros."""
    granularity = granularity or Granularity.HOUR
    start, end = _aware(start, "from"), _aware(end, "to")
    if start is not None and end is not None and end <= start:
        raise bad_input("to must be later than from", "to")
    variant_pk = None
    if variant_id is not None:
        variant_pk = parse_pk(variant_id, "Variant")
        if variant_pk is None:
            raise bad_input(f"variantId {variant_id!r} is not a variant id", "variantId")
    if timezone is None:
        timezone = info.context.principal.timezone
    zone = zone_named(timezone)
    budget = info.context.loader(BucketBudget)

    edges: list[datetime] | None = None
    lower = local_start(start, granularity, zone) if start else None
    upper = None
    if start is not None and end is not None:
        # A too long range is refused before anything is read.
        edges = boundaries(start, end, granularity, zone, budget.left)
        upper = edges[-1]
    elif end is not None:
        last_period = local_start(end - timedelta(microseconds=1), granularity, zone)
        upper = next_start(last_period, granularity, zone)
    rows: list[Any] = await info.context.loader(loaders.timeline_rows).load(
        (campaign_pk, variant_pk, lower, upper)
    )
    if edges is None:
        if not rows:
            return []
        first = start or rows[0][0]
        last = end or rows[-1][0] + QUARTER_HOUR
        if last <= first:
            return []
        edges = boundaries(first, last, granularity, zone, budget.left)
    budget.spend(len(edges) - 1)
    return group(rows, edges, zone)
