"""Mailgun webhooks: one {"signature": {...}, "event-data": {...}} per POST.

Signature: HMAC-SHA256 of timestamp + token with the organization's webhook signing key, compared
in constant time. Timestamps older (or newer) than MAX_AGE are refused, and a token is accepted
once (the replay cache in `seen_tokens`): the signature covers only timestamp and token, so the
cache is what keeps a captured request from being replayed with another body. User variables
(`campaign`, `contact`, `variant`) arrive in `user-variables`.
"""

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from app.enums import BounceCategory, BounceType, ResponseType, SkipReason
from app.ingest.providers.adapter import (
    Delivery,
    PayloadError,
    ProviderEvent,
    SignatureError,
    WebhookRequest,
    canonical,
    digest,
    from_unix,
    load_json,
    malformed,
    object_at,
    unmatched,
)
from app.ingest.providers.mapping import (
    MAILGUN_EVENTS,
    MAILGUN_HUMAN_BOTS,
    MAILGUN_SEVERITIES,
    MAILGUN_SOFT_REASONS,
    MAILGUN_SUPPRESSIONS,
    status_category,
)

PROVIDER = "mailgun"
MAX_AGE = timedelta(minutes=15)
T = ResponseType
UNKNOWN = {"", "unknown", "Unknown"}


def verify(signature: Any, signing_key: str, request: WebhookRequest) -> str:
    """Check the signature block; the token, to be recorded as seen."""
    if not isinstance(signature, dict):
        raise SignatureError("the 'signature' object is required")
    timestamp, token, given = (signature.get(k) for k in ("timestamp", "token", "signature"))
    if not all(isinstance(value, (str, int)) and str(value) for value in (timestamp, token, given)):
        raise SignatureError(
            "signature.timestamp, signature.token and signature.signature are required"
        )
    expected = hmac.new(
        signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), str(given).encode()):
        raise SignatureError("the Mailgun signature does not match")
    try:
        signed_at = from_unix(timestamp, "signature.timestamp")
    except PayloadError:
        raise SignatureError("signature.timestamp is not a Unix timestamp") from None
    if abs(request.now - signed_at) > MAX_AGE:
        raise SignatureError(
            f"signature.timestamp is more than {int(MAX_AGE.total_seconds() // 60)} minutes "
            "from now: a stale or replayed request"
        )
    if len(str(token)) > 100:
        raise SignatureError("signature.token is too long")
    return str(token)


def message_id_of(data: dict[str, Any]) -> str | None:
    headers = (data.get("message") or {}).get("headers") or {}
    value = headers.get("message-id") if isinstance(headers, dict) else None
    return value.strip().strip("<>") if isinstance(value, str) and value.strip() else None


def normalize(data: Any) -> ProviderEvent:
    """The event-data of one Mailgun webhook as a provider event."""
    if not isinstance(data, dict):
        raise PayloadError("'event-data' must be a JSON object")
    kind = data.get("event")
    if not isinstance(kind, str) or not kind:
        raise PayloadError("event-data.event is required")
    event_id = str(data.get("id") or digest(data))
    type = MAILGUN_EVENTS.get(kind)
    if type is None:
        return unmatched(PROVIDER, kind, event_id, data, f"no canonical type for Mailgun {kind!r}")
    if "timestamp" not in data:
        raise PayloadError("event-data.timestamp is required")
    occurred_at = from_unix(data["timestamp"], "event-data.timestamp")
    fields: dict[str, Any] = {}
    status = object_at(data, "delivery-status")
    reason = str(data.get("reason") or "")
    severity = str(data.get("severity") or "permanent")
    if type is T.BOUNCED and reason in MAILGUN_SUPPRESSIONS:
        # Mailgun did not try: the address is on its suppression list.
        type = T.DROPPED
        fields.update(skipReason=MAILGUN_SUPPRESSIONS[reason].value, note=reason)
        kind = f"failed/{reason}"
    elif type is T.BOUNCED and MAILGUN_SEVERITIES.get(severity) is T.DEFERRED:
        # Mailgun retries: deferred until a delivery or a permanent failure follows.
        type = T.DEFERRED
        fields["note"] = (
            " ".join(str(status[k]) for k in ("code", "message", "description") if status.get(k))
            or reason
            or None
        )
        kind = f"failed/{severity}"
    elif type is T.BOUNCED:
        if severity not in MAILGUN_SEVERITIES:
            raise PayloadError(f"event-data.severity must be permanent or temporary: {severity!r}")
        category = status_category(
            status.get("enhanced-code"), status.get("message"), status.get("description")
        ) or {"espblock": BounceCategory.SPAM_BLOCKED, "old": BounceCategory.NO_ANSWER}.get(
            reason, BounceCategory.UNSPECIFIED
        )
        diagnostic = " ".join(
            str(status[k]) for k in ("code", "message", "description") if status.get(k)
        )
        soft = reason in MAILGUN_SOFT_REASONS  # "Too old": retries ran out, the address may work
        fields["bounce"] = {
            "type": (BounceType.SOFT if soft else BounceType.HARD).value,
            "category": category.value,
            "diagnostic": diagnostic or None,
        }
        kind = f"failed/{severity}"
    elif type is T.DROPPED:
        reject = object_at(data, "reject")
        fields.update(
            skipReason=SkipReason.OTHER.value, note=reject.get("reason") or reason or None
        )
    elif type in (T.OPENED, T.CLICKED):
        client = object_at(data, "client-info")
        place = object_at(data, "geolocation")
        fields.update(
            userAgent=client.get("user-agent"),
            ip=data.get("ip"),
            country=place.get("country") if place.get("country") not in UNKNOWN else None,
            city=place.get("city") if place.get("city") not in UNKNOWN else None,
        )
        # client-info.bot: "apple" (Mail Privacy Protection) and "generic" (a scanner) are
        # machines; "gmail" (the image proxy, fetching as the person opens) is the person.
        bot = client.get("bot")
        if bot and str(bot).strip().lower() not in MAILGUN_HUMAN_BOTS:
            fields["machine" if type is T.OPENED else "bot"] = True
        if type is T.CLICKED:
            fields["url"] = data.get("url")
    variables = data.get("user-variables")
    return ProviderEvent(
        PROVIDER,
        kind,
        event_id,
        data,
        canonical(
            event_id=event_id,
            type=type.value,
            occurred_at=occurred_at,
            email=data.get("recipient"),
            metadata=variables if isinstance(variables, dict) else None,
            **fields,
        ),
        message_id=message_id_of(data),
    )


async def receive(request: WebhookRequest, settings: dict[str, Any]) -> Delivery:
    """Verify the signature block, then normalize the one event."""
    payload = load_json(request.body)
    if not isinstance(payload, dict):
        raise PayloadError('the body must be a JSON object {"signature": ..., "event-data": ...}')
    token = verify(payload.get("signature"), settings["signing_key"], request)
    if "event-data" not in payload:
        raise PayloadError("'event-data' is required")
    try:
        event = normalize(payload["event-data"])
    except PayloadError as exc:
        # Signed by Mailgun, so its own: kept with the reason, answered 200 (not retried).
        event = malformed(PROVIDER, payload["event-data"], str(exc))
    return Delivery(events=[event], replay_token=token, replay_digest=digest(payload["event-data"]))
