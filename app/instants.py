"""The one rule for a valid instant, applied at every entry point that takes a date-time.

An instant names one moment: it has a UTC offset, and it lies from EARLIEST up to (not including)
LATEST. EARLIEST is the Unix epoch, 1970-01-01T00:00:00Z: no email event is older, every
provider's Unix timestamps start there, and a smaller one is a sender's bug (a zero or negative
timestamp, a default date) rather than a real moment. LATEST, 3000-01-01T00:00:00Z, is far beyond
any scheduled send and leaves room for the time-zone and bucket arithmetic done on instants (near
year 9999 that arithmetic overflows Python's datetime). Checking the range after converting to
UTC also catches the edges of the calendar, where the conversion itself overflows
(0001-01-01T00:00:00+14:00, 9999-12-31T23:59:59-14:00).
"""

import math
from datetime import UTC, datetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
RANGE_TEXT = "on or after 1970-01-01T00:00:00Z and before 3000-01-01T00:00:00Z"


class InstantError(ValueError):
    """Why a value is not a valid instant; the message names the field."""


def checked(moment: datetime, name: str) -> datetime:
    """`moment` in UTC, when it has an offset and lies in the accepted range."""
    if moment.utcoffset() is None:
        raise InstantError(f"{name} needs an offset (e.g. 'Z' or '+02:00')")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # the conversion leaves the calendar: far outside the range anyway
        raise InstantError(f"{name} must be {RANGE_TEXT}: {moment.isoformat()}") from None
    if not EARLIEST <= utc < LATEST:
        raise InstantError(f"{name} must be {RANGE_TEXT}: {moment.isoformat()}")
    return utc


def checked_or_none(moment: datetime | None, name: str) -> datetime | None:
    """An optional instant: None stays None."""
    return None if moment is None else checked(moment, name)


def from_unix(seconds: float, name: str) -> datetime:
    """A Unix timestamp in seconds, in UTC, when it is a finite number in the accepted range."""
    if not math.isfinite(seconds) or not (EARLIEST.timestamp() <= seconds < LATEST.timestamp()):
        raise InstantError(f"{name} must be a Unix timestamp {RANGE_TEXT}: {seconds!r}")
    return datetime.fromtimestamp(seconds, UTC)
