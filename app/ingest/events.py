"""The canonical event format (DESIGN.md, "Interfaces"): parsing and validation, no I/O.

Every problem with an event is reported with the event's index, so that a refused batch tells the
sender everything it has to fix at once.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from app.enums import HARD_BOUNCE_CATEGORIES, BounceCategory, BounceType, ResponseType, SkipReason

T = ResponseType

# Events from the future beyond this are refused: clocks disagree a little, not more.
MAX_CLOCK_SKEW = timedelta(minutes=5)
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
FIELDS = {
    "id", "type", "occurredAt", "campaign", "contact", "variant", "url", "bounce",
    "skipReason", "userAgent", "ip", "country", "city", "machine", "bot", "amount", "note",
}  # fmt: skip
CONTACT_FIELDS = {"email", "externalId", "name"}
BOUNCE_FIELDS = {"type", "category", "diagnostic"}
MAX_TEXT = 2000


class EventError(ValueError):
    """One reason an event is refused."""


@dataclass(frozen=True, slots=True)
class CanonicalEvent:
    key: str  # dedupe key: the sender's id, or a hash of the event
    provider: str
    type: ResponseType
    occurred_at: datetime
    campaign: str
    contact_email: str | None
    contact_external_id: str | None
    contact_name: str | None
    variant: str | None = None
    url: str | None = None
    bounce_type: str | None = None
    bounce_category: str | None = None
    bounce_diagnostic: str | None = None
    skip_reason: str | None = None
    user_agent: str | None = None
    ip: str | None = None
    country: str | None = None
    city: str | None = None
    machine: bool | None = None
    bot: bool | None = None
    amount_cents: int | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class EventProblem:
    index: int
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "reason": self.reason}


def parse_datetime(value: Any, name: str = "occurredAt") -> datetime:
    """An ISO 8601 timestamp with an offset, as an aware UTC datetime."""
    if not isinstance(value, str):
        raise EventError(f"{name} must be an ISO 8601 string with an offset")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise EventError(f"{name} is not ISO 8601: {value!r}") from exc
    if moment.tzinfo is None:
        raise EventError(f"{name} needs an offset (e.g. 'Z' or '+02:00'): {value!r}")
    return moment.astimezone(UTC)


def check_not_future(moment: datetime, now: datetime, name: str = "occurredAt") -> None:
    if moment > now + MAX_CLOCK_SKEW:
        raise EventError(f"{name} is in the future: {moment.isoformat()}")


def parse_email(value: Any, name: str = "contact.email") -> str:
    if not isinstance(value, str) or not EMAIL_PATTERN.match(value.strip()) or len(value) > 320:
        raise EventError(f"{name} is not an email address: {value!r}")
    return value.strip().lower()


def parse_cents(value: Any, name: str = "amount") -> int:
    """A non-negative amount with at most two decimals, in cents."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise EventError(f'{name} must be a decimal string such as "12.50"')
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise EventError(f"{name} is not a number: {value!r}") from exc
    if not amount.is_finite() or amount < 0:
        raise EventError(f"{name} must be zero or more: {value!r}")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise EventError(f"{name} has more than two decimals: {value!r}")
    if cents > 10**15:
        raise EventError(f"{name} is too large: {value!r}")
    return int(cents)


def _text(raw: dict[str, Any], field: str, limit: int = MAX_TEXT) -> str | None:
    value = raw.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventError(f"{field} must be a string")
    if len(value) > limit:
        raise EventError(f"{field} is longer than {limit} characters")
    return value


def _flag(raw: dict[str, Any], field: str) -> bool | None:
    value = raw.get(field)
    if value is not None and not isinstance(value, bool):
        raise EventError(f"{field} must be true or false")
    return value


def event_key(provider: str, raw: dict[str, Any], given_id: str | None) -> str:
    """The dedupe key: the sender's id, or a hash of the whole event when it has none."""
    if given_id is not None:
        return f"{provider}:{given_id}"
    digest = hashlib.sha256(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{provider}#{digest[:40]}"


def parse_event(raw: Any, now: datetime, provider: str = "canonical") -> CanonicalEvent:
    """Validate one canonical event; raise EventError naming the first problem."""
    if not isinstance(raw, dict):
        raise EventError("an event must be a JSON object")
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise EventError(f"unknown field(s): {', '.join(unknown)}")

    given_id = raw.get("id")
    if given_id is not None:
        if isinstance(given_id, bool) or not isinstance(given_id, (str, int)):
            raise EventError("id must be a string")
        given_id = str(given_id)
        if not given_id or len(given_id) > 150:
            raise EventError("id must be 1 to 150 characters")

    try:
        kind = ResponseType(raw.get("type"))
    except ValueError:
        raise EventError(
            f"type must be one of {', '.join(t.value for t in ResponseType)}: {raw.get('type')!r}"
        ) from None

    if "occurredAt" not in raw:
        raise EventError("occurredAt is required")
    occurred_at = parse_datetime(raw["occurredAt"])
    check_not_future(occurred_at, now)

    campaign = raw.get("campaign")
    if not isinstance(campaign, str) or not campaign.strip() or len(campaign) > 200:
        raise EventError("campaign (the campaign's externalId) is required")

    contact = raw.get("contact")
    if not isinstance(contact, dict):
        raise EventError("contact must be an object with email or externalId")
    unknown = sorted(set(contact) - CONTACT_FIELDS)
    if unknown:
        raise EventError(f"unknown contact field(s): {', '.join(unknown)}")
    email = parse_email(contact["email"]) if contact.get("email") is not None else None
    external_id = _text(contact, "externalId", 200)
    if email is None and not external_id:
        raise EventError("contact needs an email or an externalId")
    name = _text(contact, "name", 300)

    bounce_type = bounce_category = bounce_diagnostic = None
    bounce = raw.get("bounce")
    if bounce is not None:
        if kind is not T.BOUNCED:
            raise EventError("bounce is only for BOUNCED events")
        if not isinstance(bounce, dict):
            raise EventError("bounce must be an object")
        unknown = sorted(set(bounce) - BOUNCE_FIELDS)
        if unknown:
            raise EventError(f"unknown bounce field(s): {', '.join(unknown)}")
        if bounce.get("category") is not None:
            try:
                bounce_category = BounceCategory(bounce["category"]).value
            except ValueError:
                raise EventError(
                    f"bounce.category is not a BounceCategory: {bounce['category']!r}"
                ) from None
        if bounce.get("type") is not None:
            try:
                bounce_type = BounceType(bounce["type"]).value
            except ValueError:
                raise EventError("bounce.type must be HARD or SOFT") from None
        bounce_diagnostic = _text(bounce, "diagnostic", 1000)
    if kind is T.BOUNCED:
        bounce_category = bounce_category or BounceCategory.UNSPECIFIED.value
        if bounce_type is None:
            hard = BounceCategory(bounce_category) in HARD_BOUNCE_CATEGORIES
            bounce_type = (BounceType.HARD if hard else BounceType.SOFT).value

    skip_reason = None
    if raw.get("skipReason") is not None:
        if kind not in (T.NOT_SENT, T.DROPPED):
            raise EventError("skipReason is only for NOT_SENT and DROPPED events")
        try:
            skip_reason = SkipReason(raw["skipReason"]).value
        except ValueError:
            raise EventError(f"skipReason is not a SkipReason: {raw['skipReason']!r}") from None
    elif kind in (T.NOT_SENT, T.DROPPED):
        skip_reason = SkipReason.OTHER.value

    amount_cents = None
    if raw.get("amount") is not None:
        if kind is not T.PURCHASED:
            raise EventError("amount is only for PURCHASED events")
        amount_cents = parse_cents(raw["amount"])

    url = _text(raw, "url")
    if url is not None and kind is not T.CLICKED:
        raise EventError("url is only for CLICKED events")

    return CanonicalEvent(
        key=event_key(provider, raw, given_id),
        provider=provider,
        type=kind,
        occurred_at=occurred_at,
        campaign=campaign.strip(),
        contact_email=email,
        contact_external_id=external_id,
        contact_name=name,
        variant=_text(raw, "variant", 200),
        url=url,
        bounce_type=bounce_type,
        bounce_category=bounce_category,
        bounce_diagnostic=bounce_diagnostic,
        skip_reason=skip_reason,
        user_agent=_text(raw, "userAgent", 1000),
        ip=_text(raw, "ip", 64),
        country=_text(raw, "country", 100),
        city=_text(raw, "city", 200),
        machine=_flag(raw, "machine"),
        bot=_flag(raw, "bot"),
        amount_cents=amount_cents,
        note=_text(raw, "note"),
    )


def parse_events(
    raws: Any, now: datetime, provider: str = "canonical"
) -> tuple[list[CanonicalEvent], list[EventProblem]]:
    """Validate a batch; the events, and every problem found (empty when all are good)."""
    if not isinstance(raws, list):
        return [], [EventProblem(-1, "the body must be a JSON array of events")]
    events: list[CanonicalEvent] = []
    problems: list[EventProblem] = []
    for index, raw in enumerate(raws):
        try:
            events.append(parse_event(raw, now, provider))
        except EventError as exc:
            problems.append(EventProblem(index, str(exc)))
    return events, problems


def decode_body(body: bytes, content_type: str) -> Any:
    """A JSON array, or NDJSON (one event a line) when the content type says so."""
    if "ndjson" in content_type or "jsonlines" in content_type:
        items = []
        for number, line in enumerate(body.splitlines(), start=1):
            if line.strip():
                try:
                    items.append(orjson.loads(line))
                except orjson.JSONDecodeError as exc:
                    raise EventError(f"line {number} is not JSON: {exc}") from None
        return items
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise EventError(f"the body is not JSON: {exc}") from None
