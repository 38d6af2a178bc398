"""The canonical event format (README, "Canonical events"): parsing and validation, no I/O.

Every problem with an event is reported with the event's index, so that a refused batch tells the
sender everything it has to fix at once.
"""

import dataclasses
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import orjson

from app import instants
from app.enums import HARD_BOUNCE_CATEGORIES, BounceCategory, BounceType, ResponseType, SkipReason
from app.message_views.merge_fields import check_merge_fields

T = ResponseType
V = TypeVar("V")

# Events from the future beyond this are refused: clocks disagree a little, not more.
MAX_CLOCK_SKEW = timedelta(minutes=5)
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
FIELDS = {
    "id", "type", "occurredAt", "campaign", "contact", "variant", "url", "bounce",
    "skipReason", "userAgent", "ip", "country", "city", "machine", "bot", "amount", "note",
}  # fmt: skip
CONTACT_FIELDS = {"email", "externalId", "name", "mergeFields"}
BOUNCE_FIELDS = {"type", "category", "diagnostic"}
MAX_TEXT = 2000


class EventError(ValueError):
    """Why an event is refused: one reason, or several (`reasons`), each a sentence of its own."""

    def __init__(self, *reasons: str) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


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
    # A SENT event's merge fields, (name, value) in the order given (issue 15); not hashed, as
    # an event kept aside comes back from JSON with lists.
    merge_fields: tuple[tuple[str, str], ...] | None = dataclasses.field(default=None, hash=False)


@dataclass(frozen=True, slots=True)
class EventProblem:
    index: int
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "reason": self.reason}


def parse_datetime(value: Any, name: str = "occurredAt") -> datetime:
    """An ISO 8601 timestamp with an offset, as an aware UTC datetime (app.instants' rule)."""
    if not isinstance(value, str):
        raise EventError(f"{name} must be an ISO 8601 string with an offset")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise EventError(f"{name} is not ISO 8601: {value!r}") from exc
    try:
        return instants.checked(moment, name)
    except instants.InstantError as exc:
        raise EventError(str(exc)) from None


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


class _Problems:
    """The reasons found so far for one event: a check that fails adds its reasons and gives None,
    so the checks after it still run."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def add(self, reason: str) -> None:
        self.reasons.append(reason)

    def check(self, step: Callable[[], V]) -> V | None:
        try:
            return step()
        except EventError as exc:
            self.reasons.extend(exc.reasons)
            return None


def _unknown(fields: dict[str, Any], allowed: set[str], what: str) -> str | None:
    unknown = sorted(set(fields) - allowed)
    return f"unknown {what}: {', '.join(unknown)}" if unknown else None


def _given_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise EventError("id must be a string")
    text = str(value)
    if not text or len(text) > 150:
        raise EventError("id must be 1 to 150 characters")
    return text


def _type(value: Any) -> ResponseType:
    try:
        return ResponseType(value)
    except ValueError:
        raise EventError(
            f"type must be one of {', '.join(t.value for t in ResponseType)}: {value!r}"
        ) from None


def _occurred_at(raw: dict[str, Any], now: datetime) -> datetime:
    if "occurredAt" not in raw:
        raise EventError("occurredAt is required")
    moment = parse_datetime(raw["occurredAt"])
    check_not_future(moment, now)
    return moment


def _campaign(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise EventError("campaign (the campaign's externalId) is required")
    return value.strip()


def _contact(value: Any, problems: _Problems) -> tuple[str | None, str | None, str | None]:
    """(email, externalId, name) of the contact object, its problems added to `problems`."""
    if not isinstance(value, dict):
        problems.add("contact must be an object with email or externalId")
        return None, None, None
    unknown = _unknown(value, CONTACT_FIELDS, "contact field(s)")
    if unknown:
        problems.add(unknown)
    email = None
    if value.get("email") is not None:
        email = problems.check(lambda: parse_email(value["email"]))
    external_id = problems.check(lambda: _text(value, "externalId", 200))
    if value.get("email") is None and not value.get("externalId"):
        problems.add("contact needs an email or an externalId")
    name = problems.check(lambda: _text(value, "name", 300))
    return email, external_id, name


def parse_merge_fields(
    value: Any, name: str = "contact.mergeFields"
) -> tuple[tuple[str, str], ...]:
    """A list of {"name": ..., "value": ...} objects, checked by the merge-field rules
    (app/message_views/merge_fields.py), as (name, value) pairs."""
    if not isinstance(value, list):
        raise EventError(f'{name} must be a list of {{"name": ..., "value": ...}} objects')
    reasons = [
        f'{name}[{index}] must be an object {{"name": string, "value": string}}'
        for index, item in enumerate(value)
        if not isinstance(item, dict)
        or set(item) != {"name", "value"}
        or not all(isinstance(item[key], str) for key in ("name", "value"))
    ]
    if reasons:
        raise EventError(*reasons)
    pairs = tuple((item["name"], item["value"]) for item in value)
    problems = check_merge_fields(pairs)
    if problems:
        raise EventError(
            *(
                f"{name}{'' if p.index is None else f'[{p.index}].{p.part}'}: {p.message}"
                for p in problems
            )
        )
    return pairs


def _bounce(value: Any, problems: _Problems) -> tuple[str | None, str | None, str | None]:
    """(type, category, diagnostic) as given in the bounce object, checked."""
    if not isinstance(value, dict):
        problems.add("bounce must be an object")
        return None, None, None
    unknown = _unknown(value, BOUNCE_FIELDS, "bounce field(s)")
    if unknown:
        problems.add(unknown)
    category = kind = None
    if value.get("category") is not None:
        try:
            category = BounceCategory(value["category"]).value
        except ValueError:
            problems.add(f"bounce.category is not a BounceCategory: {value['category']!r}")
    if value.get("type") is not None:
        try:
            kind = BounceType(value["type"]).value
        except ValueError:
            problems.add("bounce.type must be HARD or SOFT")
    diagnostic = problems.check(lambda: _text(value, "diagnostic", 1000))
    return kind, category, diagnostic


def _skip_reason(value: Any) -> str:
    try:
        return SkipReason(value).value
    except ValueError:
        raise EventError(f"skipReason is not a SkipReason: {value!r}") from None


def parse_event(raw: Any, now: datetime, provider: str = "canonical") -> CanonicalEvent:
    """Validate one canonical event; raise EventError listing every problem it has."""
    if not isinstance(raw, dict):
        raise EventError("an event must be a JSON object")
    problems = _Problems()
    unknown = _unknown(raw, FIELDS, "field(s)")
    if unknown:
        problems.add(unknown)
    given_id = problems.check(lambda: _given_id(raw.get("id")))
    # With an unknown type, the checks that depend on the type are left out: the type is the
    # problem to fix first, and "only for X events" would guess at what was meant.
    kind = problems.check(lambda: _type(raw.get("type")))
    occurred_at = problems.check(lambda: _occurred_at(raw, now))
    campaign = problems.check(lambda: _campaign(raw.get("campaign")))
    email, external_id, name = _contact(raw.get("contact"), problems)
    merge_fields = None
    if isinstance(raw.get("contact"), dict) and raw["contact"].get("mergeFields") is not None:
        if kind is not None and kind is not T.SENT:
            problems.add("contact.mergeFields is only for SENT events")
        else:
            merge_fields = problems.check(lambda: parse_merge_fields(raw["contact"]["mergeFields"]))

    bounce_type = bounce_category = bounce_diagnostic = None
    if raw.get("bounce") is not None:
        if kind is not None and kind is not T.BOUNCED:
            problems.add("bounce is only for BOUNCED events")
        else:
            bounce_type, bounce_category, bounce_diagnostic = _bounce(raw["bounce"], problems)
    if kind is T.BOUNCED:
        bounce_category = bounce_category or BounceCategory.UNSPECIFIED.value
        if bounce_type is None:
            hard = BounceCategory(bounce_category) in HARD_BOUNCE_CATEGORIES
            bounce_type = (BounceType.HARD if hard else BounceType.SOFT).value

    skip_reason = None
    if raw.get("skipReason") is not None:
        if kind is not None and kind not in (T.NOT_SENT, T.DROPPED):
            problems.add("skipReason is only for NOT_SENT and DROPPED events")
        else:
            skip_reason = problems.check(lambda: _skip_reason(raw["skipReason"]))
    elif kind in (T.NOT_SENT, T.DROPPED):
        skip_reason = SkipReason.OTHER.value

    amount_cents = None
    if raw.get("amount") is not None:
        if kind is not None and kind is not T.PURCHASED:
            problems.add("amount is only for PURCHASED events")
        else:
            amount_cents = problems.check(lambda: parse_cents(raw["amount"]))

    url = problems.check(lambda: _text(raw, "url"))
    if url is not None and kind is not None and kind is not T.CLICKED:
        problems.add("url is only for CLICKED events")

    variant = problems.check(lambda: _text(raw, "variant", 200))
    user_agent = problems.check(lambda: _text(raw, "userAgent", 1000))
    ip = problems.check(lambda: _text(raw, "ip", 64))
    country = problems.check(lambda: _text(raw, "country", 100))
    city = problems.check(lambda: _text(raw, "city", 200))
    note = problems.check(lambda: _text(raw, "note"))
    machine = problems.check(lambda: _flag(raw, "machine"))
    bot = problems.check(lambda: _flag(raw, "bot"))

    if problems.reasons:
        raise EventError(*problems.reasons)
    assert kind is not None and occurred_at is not None and campaign is not None
    return CanonicalEvent(
        key=event_key(provider, raw, given_id),
        provider=provider,
        type=kind,
        occurred_at=occurred_at,
        campaign=campaign,
        contact_email=email,
        contact_external_id=external_id,
        contact_name=name,
        variant=variant,
        url=url,
        bounce_type=bounce_type,
        bounce_category=bounce_category,
        bounce_diagnostic=bounce_diagnostic,
        skip_reason=skip_reason,
        user_agent=user_agent,
        ip=ip,
        country=country,
        city=city,
        machine=machine,
        bot=bot,
        amount_cents=amount_cents,
        note=note,
        merge_fields=merge_fields,
    )


def parse_events(
    raws: Any, now: datetime, provider: str = "canonical"
) -> tuple[list[CanonicalEvent], list[EventProblem]]:
    """Validate a batch; the events, and every problem found (empty when all are good), one
    EventProblem per problem: an event with three problems has three entries of its index."""
    if not isinstance(raws, list):
        return [], [EventProblem(-1, "the body must be a JSON array of events")]
    events: list[CanonicalEvent] = []
    problems: list[EventProblem] = []
    for index, raw in enumerate(raws):
        try:
            events.append(parse_event(raw, now, provider))
        except EventError as exc:
            problems += [EventProblem(index, reason) for reason in exc.reasons]
    return events, problems


def bad_event_count(problems: list[EventProblem]) -> int:
    """How many events the problems are about (an event may have several)."""
    return len({problem.index for problem in problems})


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
