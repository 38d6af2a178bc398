"""The summary's timeline table: events per local hour of the campaign, from the stored buckets.

The stored buckets are 15 minutes of UTC (the same rows Campaign.timeline groups). Every time
zone in use is a whole number of quarter hours from UTC, so each stored bucket lies inside
exactly one local hour: summing them gives exact local counts, half-hour offsets and the
repeated or skipped hour of daylight-saving changes included. Pure functions.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

# One row per hour, at most this many (31 days); later events are summed into one row after them.
MAX_HOURS = 24 * 31
QUARTER_HOUR = timedelta(minutes=15)
COUNTERS = ("sent", "opens", "clicks")


@dataclass(frozen=True, slots=True)
class Hour:
    """One local hour (or, for `later`, everything from `start` on) and its events."""

    start: datetime  # the local start, with its offset
    sent: int
    opens: int
    clicks: int

    @property
    def label(self) -> str:
        # The offset tells apart the two hours of a night when clocks go back.
        return self.start.isoformat(sep=" ", timespec="minutes")


@dataclass(frozen=True, slots=True)
class HourlyTimeline:
    zone: str
    hours: list[Hour]  # every hour from the first event's to the last event's, zeros included
    later: Hour | None  # the events after the last row when the span is longer than the limit


def local_hour(moment: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the local hour holding `moment` begins."""
    # `fold` stays: the hour repeated when clocks go back is two hours, told apart by it.
    local = moment.astimezone(zone).replace(minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


def hourly(
    rows: list[tuple[datetime, dict[str, int]]],
    zone_name: str,
    limit: int = MAX_HOURS,
) -> HourlyTimeline:
    """`rows` (stored 15-minute UTC buckets and their counters) per local hour of `zone_name`,
    from the hour of the earliest bucket to the hour of the latest, at most `limit` hours."""
    zone = ZoneInfo(zone_name)
    if not rows:
        return HourlyTimeline(zone_name, [], None)
    ordered = sorted(rows, key=lambda row: row[0])
    first = local_hour(ordered[0][0], zone)
    last = local_hour(ordered[-1][0], zone)
    # Walk the quarter hours: a local hour is not always 60 minutes of UTC from the last one.
    starts: list[datetime] = []
    moment = first
    while moment <= last and len(starts) <= limit:
        start = local_hour(moment, zone)
        if not starts or start != starts[-1]:
            starts.append(start)
        moment += QUARTER_HOUR
    cutoff = starts[limit] if len(starts) > limit else None
    shown = starts[:limit]
    index = {start: position for position, start in enumerate(shown)}
    sums = [dict.fromkeys(COUNTERS, 0) for _ in shown]
    later = dict.fromkeys(COUNTERS, 0)
    for bucket_start, counters in ordered:
        hour = local_hour(bucket_start, zone)
        target = later if cutoff is not None and hour >= cutoff else sums[index[hour]]
        for name in COUNTERS:
            target[name] += counters.get(name, 0)
    hours = [
        Hour(start.astimezone(zone), **counts) for start, counts in zip(shown, sums, strict=True)
    ]
    rest = Hour(cutoff.astimezone(zone), **later) if cutoff is not None else None
    return HourlyTimeline(zone_name, hours, rest)
