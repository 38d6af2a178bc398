"""SendGrid Event Webhook: a signed JSON array of events.

Signature: ECDSA P-256 with SHA-256 over the timestamp header followed by the raw body, checked
with the organization's verification key ("Signed Event Webhook Requests" in SendGrid's settings).
A signed timestamp more than MAX_AGE from now is refused, so a captured request cannot be
replayed later (within the window, replays are no-ops by `sg_event_id`).
Custom args (`campaign`, `contact`, `variant`) arrive as top-level keys of each event.
"""

import base64
from datetime import timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

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
    normalize_each,
    unmatched,
)
from app.ingest.providers.mapping import (
    SENDGRID_BOUNCE_CLASSES,
    SENDGRID_BOUNCE_TYPES,
    SENDGRID_DROP_REASONS,
    SENDGRID_EVENTS,
    status_category,
)

PROVIDER = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_AGE = timedelta(minutes=15)  # as Mailgun's: SendGrid signs when it posts, retries re-sign
T = ResponseType


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key as SendGrid shows it (base64 DER), or as PEM; ValueError otherwise."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("the SendGrid verification key must be an ECDSA P-256 public key")
    return key


def verify(request: WebhookRequest, public_key: str) -> None:
    """Raise SignatureError unless the body is signed by the organization's SendGrid key."""
    signature = request.headers.get(SIGNATURE_HEADER)
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise SignatureError(f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are required")
    try:
        key = load_public_key(public_key)
        raw_signature = base64.b64decode(signature, validate=True)
        key.verify(raw_signature, timestamp.encode() + request.body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise SignatureError("the SendGrid signature does not match the body") from None
    # Checked after the signature, so only a genuine (but old or future) timestamp gets here.
    try:
        signed_at = from_unix(timestamp, TIMESTAMP_HEADER)
    except PayloadError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not a Unix timestamp") from None
    if abs(request.now - signed_at) > MAX_AGE:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is more than {int(MAX_AGE.total_seconds() // 60)} minutes "
            "from now: a stale or replayed request"
        )


def message_id_of(sg_message_id: Any) -> str | None:
    """The X-Message-Id returned at send time: sg_message_id up to its ".filter…" suffix."""
    if not isinstance(sg_message_id, str) or not sg_message_id:
        return None
    for marker in (".filter", ".recvd-"):
        if marker in sg_message_id:
            return sg_message_id.split(marker, 1)[0]
    return sg_message_id


def normalize(raw: Any, index: int) -> ProviderEvent:
    """One SendGrid event as a provider event."""
    if not isinstance(raw, dict):
        raise PayloadError(f"event {index}: each event must be a JSON object")
    kind = raw.get("event")
    if not isinstance(kind, str) or not kind:
        raise PayloadError(f"event {index}: 'event' is required")
    event_id = str(raw.get("sg_event_id") or digest(raw))
    type = SENDGRID_EVENTS.get(kind)
    if type is None:
        return unmatched(PROVIDER, kind, event_id, raw, f"no canonical type for SendGrid {kind!r}")
    if "timestamp" not in raw:
        raise PayloadError(f"event {index}: 'timestamp' is required")
    # Seconds, or milliseconds as SendGrid's Single Send events carry them.
    occurred_at = from_unix(raw["timestamp"], f"event {index}: timestamp", milliseconds=True)
    fields: dict[str, Any] = {}
    if type is T.BOUNCED:
        # A type SendGrid may add later counts soft: a hard bounce suppresses the contact for
        # good, which an unknown kind of failure should not do.
        bounce_type = SENDGRID_BOUNCE_TYPES.get(str(raw.get("type") or "bounce"), BounceType.SOFT)
        category = (
            status_category(raw.get("status"), raw.get("reason"))
            or SENDGRID_BOUNCE_CLASSES.get(str(raw.get("bounce_classification")))
            or BounceCategory.UNSPECIFIED
        )
        diagnostic = " ".join(str(raw[k]) for k in ("status", "reason") if raw.get(k))
        fields["bounce"] = {
            "type": bounce_type.value,
            "category": category.value,
            "diagnostic": diagnostic or None,
        }
    elif type is T.DROPPED:
        reason = str(raw.get("reason") or "")
        skip = SENDGRID_DROP_REASONS.get(reason, SkipReason.OTHER)
        fields.update(skipReason=skip.value, note=reason or None)
    elif type is T.DEFERRED:
        fields["note"] = raw.get("response") or raw.get("reason")
    elif type in (T.OPENED, T.CLICKED):
        fields.update(userAgent=raw.get("useragent"), ip=raw.get("ip"))
        if type is T.CLICKED:
            fields["url"] = raw.get("url")
        # SendGrid's own flag; when false, our rules still look at the user agent.
        if type is T.OPENED and raw.get("sg_machine_open") is True:
            fields["machine"] = True
    return ProviderEvent(
        PROVIDER,
        kind,
        event_id,
        raw,
        canonical(
            event_id=event_id,
            type=type.value,
            occurred_at=occurred_at,
            email=raw.get("email"),
            metadata=raw,
            **fields,
        ),
        message_id=message_id_of(raw.get("sg_message_id")),
    )


async def receive(request: WebhookRequest, settings: dict[str, Any]) -> Delivery:
    """Verify the request, then normalize its batch of events."""
    verify(request, settings["public_key"])
    payload = load_json(request.body)
    if not isinstance(payload, list):
        raise PayloadError("the body must be a JSON array of SendGrid events")
    return Delivery(events=normalize_each(normalize, payload, PROVIDER))
