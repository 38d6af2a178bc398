"""What a provider adapter hands to the ingest core: provider events, normalized.

An adapter verifies a webhook request and turns each provider event into a `ProviderEvent`: the
canonical event (in the canonical JSON form, validated later by `parse_event`), or, for a kind
with no canonical meaning, the reason it is kept as unmatched with its raw payload.
"""

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from app import instants

# Custom metadata names every adapter reads (SendGrid custom_args, Mailgun user-variables, SES
# message tags, Postmark Metadata): the campaign's externalId, the contact's externalId, the variant.
CAMPAIGN_FIELD = "campaign"
CONTACT_FIELD = "contact"
VARIANT_FIELD = "variant"


# The event keys of malformed events kept in unmatched_events (`refused:sendgrid:<digest>`).
REFUSED_PREFIX = "refused:"
# Where providers keep the name of an event's kind, for the listing of malformed events.
KIND_FIELDS = ("event", "eventType", "notificationType", "RecordType", "type")


class SignatureError(Exception):
    """401: the request is not proven to come from the provider (nothing is stored)."""


class PayloadError(Exception):
    """400: the body is not what the provider sends (nothing is stored)."""


class UpstreamError(Exception):
    """502: a provider's server could not be reached, e.g. for a certificate (nothing is stored)."""


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    provider: str
    kind: str  # the provider's own name for the event, e.g. "bounce" or "Bounce/Transient"
    event_id: str  # the provider's event id, or a digest of the raw event: replays are no-ops
    raw: dict[str, Any]  # the provider's event as received
    canonical: dict[str, Any] | None  # canonical JSON form; None when it has no canonical type
    message_id: str | None = None  # the provider's message id, to match events without metadata
    reason: str | None = None  # why an event without canonical type is kept
    # A malformed event of a genuine request: kept with its reason, never applied until a replay
    # (app/ingest/refused.py) re-normalizes it with the code of then.
    malformed: bool = False
    # What a replay normalizes again, when it is not `raw` (SES: the SNS notification, whose
    # MessageId gives the events their ids).
    source: Any = None

    @property
    def key(self) -> str:
        """The dedupe key, the same that `parse_event` gives its canonical event; a malformed
        event's key has its own prefix, so that it never stands for the event once fixed."""
        if self.malformed:
            return f"{REFUSED_PREFIX}{self.provider}:{self.event_id}"
        return f"{self.provider}:{self.event_id}"


@dataclass
class Delivery:
    """A verified webhook request: its events, and what else the route must do."""

    events: list[ProviderEvent] = field(default_factory=list)
    # A token that must not be accepted twice with another body (Mailgun's replay cache).
    replay_token: str | None = None
    replay_digest: str | None = None
    message: str | None = None  # e.g. "subscription confirmed"


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    headers: Mapping[str, str]  # case-insensitive (Starlette Headers)
    body: bytes
    now: datetime
    sns: Any = None  # SES only: the SNS certificate and confirmation client (ses.SnsClient)


def digest(value: Any) -> str:
    """A stable digest of a JSON value, for events that carry no id of their own."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()[:40]


def load_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"the body is not JSON: {exc}") from None


# Seconds above this are milliseconds: 1e11 seconds is year 5138, past app.instants.LATEST, and
# 1e11 milliseconds is 1973, so the two readings never overlap within the accepted range.
MILLISECONDS_ABOVE = 1e11


def from_unix(value: Any, name: str, milliseconds: bool = False) -> datetime:
    """A Unix timestamp (seconds, int, float or numeric string) as an aware UTC datetime, within
    app.instants' range (huge, negative, NaN and infinite timestamps are refused).

    With `milliseconds`, a value above MILLISECONDS_ABOVE is read as milliseconds (providers
    that send either, such as SendGrid's Single Sends)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PayloadError(f"{name} must be a Unix timestamp")
    try:
        seconds = float(value)
    except (ValueError, OverflowError):  # OverflowError: an int too large for a float
        raise PayloadError(f"{name} must be a Unix timestamp: {repr(value)[:40]}") from None
    in_milliseconds = milliseconds and seconds > MILLISECONDS_ABOVE
    try:
        return instants.from_unix(seconds / 1000 if in_milliseconds else seconds, name)
    except instants.InstantError as exc:
        # Name what was sent, not only the seconds it was read as.
        sent = f" (read as milliseconds: {value!r})" if in_milliseconds else ""
        raise PayloadError(f"{exc}{sent}") from None


def from_iso(value: Any, name: str) -> datetime:
    """An ISO 8601 timestamp as providers write it (Z, and up to 7 fractional digits), within
    app.instants' range."""
    if not isinstance(value, str):
        raise PayloadError(f"{name} must be an ISO 8601 timestamp")
    text = value.strip().replace("Z", "+00:00")
    # Postmark writes 7 fractional digits; Python reads at most 6.
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        offset = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{offset}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(f"{name} is not ISO 8601: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # providers write UTC
    try:
        return instants.checked(moment, name)
    except instants.InstantError as exc:
        raise PayloadError(str(exc)) from None


def normalize_each(
    normalize: Callable[[Any, int], ProviderEvent], items: list[Any], provider: str | None = None
) -> list[ProviderEvent]:
    """Normalize a batch. With `provider` (a webhook), each malformed event becomes a kept
    `malformed` event with its reason, so that its good neighbours are applied; without it,
    PayloadError listing every bad event, not only the first."""
    events: list[ProviderEvent] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        try:
            events.append(normalize(item, index))
        except PayloadError as exc:
            if provider is None:
                problems.append(str(exc))
            else:
                events.append(malformed(provider, item, str(exc)))
    if problems:
        raise PayloadError("; ".join(problems[:20]))
    return events


def kind_of(raw: Any) -> str:
    """The provider's name for a (perhaps malformed) event's kind, or "?"."""
    if isinstance(raw, dict):
        for name in KIND_FIELDS:
            if isinstance(raw.get(name), str) and raw[name]:
                return clip(raw[name], 100)
    return "?"


def malformed(provider: str, raw: Any, reason: str, source: Any = None) -> ProviderEvent:
    """A malformed event of a verified request, kept as received with the reason, identified
    by a digest of what it is (the same event sent again is a duplicate)."""
    return ProviderEvent(
        provider,
        kind_of(raw),
        digest(source if source is not None else raw),
        raw if isinstance(raw, dict) else {"value": raw},
        None,
        reason=reason,
        malformed=True,
        source=source,
    )


def object_at(data: dict[str, Any], key: str) -> dict[str, Any]:
    """The JSON object under `key`, or an empty one when it is missing or not an object."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def text_of(value: Any) -> str | None:
    """A metadata value as text (providers send strings, some numbers); None when empty."""
    if isinstance(value, list):  # SES tags are lists of strings
        value = value[0] if value else None
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text or None


def canonical(
    *,
    event_id: str,
    type: str,
    occurred_at: datetime,
    email: Any,
    metadata: Mapping[str, Any] | None,
    **fields: Any,
) -> dict[str, Any]:
    """An event in the canonical JSON form; fields that are None are left out.

    The campaign comes from the metadata; without it, the ingest core looks the provider's
    message id up among recorded ones.
    """
    metadata = metadata or {}
    contact: dict[str, Any] = {}
    if isinstance(email, str) and email.strip():
        contact["email"] = email.strip()
    external_id = text_of(metadata.get(CONTACT_FIELD))
    if external_id:
        contact["externalId"] = external_id
    event: dict[str, Any] = {
        "id": event_id,
        "type": type,
        "occurredAt": occurred_at.isoformat(),
        "contact": contact,
    }
    campaign = text_of(metadata.get(CAMPAIGN_FIELD))
    if campaign:
        event["campaign"] = campaign
    variant = text_of(metadata.get(VARIANT_FIELD))
    if variant:
        event["variant"] = variant
    for name, value in fields.items():
        if value is not None:
            event[name] = clip(value, TEXT_LIMITS[name]) if name in TEXT_LIMITS else value
    bounce = event.get("bounce")
    if isinstance(bounce, dict) and bounce.get("diagnostic") is not None:
        bounce["diagnostic"] = clip(bounce["diagnostic"], 1000)
    return event


# The canonical format's limits: longer provider texts are cut rather than refusing the batch.
TEXT_LIMITS = {"userAgent": 1000, "ip": 64, "country": 100, "city": 200, "note": 2000}


def clip(value: Any, limit: int) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unmatched(
    provider: str, kind: str, event_id: str, raw: dict[str, Any], reason: str
) -> ProviderEvent:
    """An event with no canonical meaning: kept with its raw payload, never dropped."""
    return ProviderEvent(provider, kind, event_id, raw, None, reason=reason)
