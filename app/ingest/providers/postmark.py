"""Postmark webhooks: one record per POST, authenticated by basic auth or a secret header.

Postmark does not sign its webhooks: the webhook URL carries basic auth credentials
(https://user:password@host/...) or a custom header with a secret, compared in constant time
(only their SHA-256 is stored). Records carry no event id, so a digest of the record makes
replays no-ops. Metadata (`campaign`, `contact`, `variant`) arrives in `Metadata`.
"""

from typing import Any

from app.enums import BounceCategory, ResponseType
from app.ingest.providers import secret_auth
from app.ingest.providers.adapter import (
    Delivery,
    PayloadError,
    ProviderEvent,
    WebhookRequest,
    canonical,
    digest,
    from_iso,
    load_json,
    normalize_each,
    object_at,
    unmatched,
)
from app.ingest.providers.mapping import POSTMARK_BOUNCES, POSTMARK_RECORDS, status_category

PROVIDER = "postmark"
T = ResponseType
# Where each record type keeps its time and its recipient's address.
TIME_FIELDS = {
    "Delivery": "DeliveredAt",
    "Bounce": "BouncedAt",
    "SpamComplaint": "BouncedAt",
    "Open": "ReceivedAt",
    "Click": "ReceivedAt",
    "SubscriptionChange": "ChangedAt",
}
ADDRESS_FIELDS = {"Bounce": "Email", "SpamComplaint": "Email"}


def verify(request: WebhookRequest, settings: dict[str, Any]) -> None:
    """Raise SignatureError unless the request carries the organization's Postmark secret: basic
    auth in the webhook URL, or a custom header (Postmark does not sign its records)."""
    secret_auth.verify(request, settings, "Postmark")


def normalize(record: Any, index: int = 0) -> ProviderEvent:
    """One Postmark webhook record as a provider event."""
    if not isinstance(record, dict):
        raise PayloadError(f"record {index}: a Postmark record must be a JSON object")
    kind = record.get("RecordType")
    if not isinstance(kind, str) or not kind:
        raise PayloadError(f"record {index}: RecordType is required")
    # Bounce records have an ID; other records are identified by their whole content.
    event_id = f"bounce-{record['ID']}" if record.get("ID") is not None else digest(record)
    type = POSTMARK_RECORDS.get(kind)
    if type is None:
        return unmatched(
            PROVIDER, kind, event_id, record, f"no canonical type for Postmark {kind!r}"
        )
    fields: dict[str, Any] = {}
    if kind == "Bounce":
        code = record.get("TypeCode")
        outcome = POSTMARK_BOUNCES.get(code) if isinstance(code, int) else None
        kind = f"Bounce/{record.get('Type')}"
        if outcome is None:
            return unmatched(
                PROVIDER, kind, event_id, record,
                f"Postmark bounce type {record.get('Type')!r} ({code}) is not a delivery's fate",
            )  # fmt: skip
        type = outcome.type
        if outcome.type is T.BOUNCED:
            category = outcome.category
            if category is BounceCategory.UNSPECIFIED:
                category = status_category(record.get("Details")) or category
            fields["bounce"] = {
                "type": outcome.bounce_type.value if outcome.bounce_type else None,
                "category": category.value if category else None,
                "diagnostic": record.get("Details") or record.get("Description"),
            }
        elif outcome.skip_reason is not None:
            fields.update(skipReason=outcome.skip_reason.value, note=record.get("Description"))
    elif kind == "SubscriptionChange":
        # Only a recipient's own unsubscribe is a response; suppressions for a hard bounce or a
        # complaint arrive as their own Bounce and SpamComplaint records.
        if not (
            record.get("SuppressSending") is True
            and record.get("SuppressionReason") == "ManualSuppression"
        ):
            return unmatched(
                PROVIDER, kind, event_id, record,
                "a subscription change that is not the recipient unsubscribing",
            )  # fmt: skip
    elif type in (T.OPENED, T.CLICKED):
        place = object_at(record, "Geo")
        fields.update(
            userAgent=record.get("UserAgent"),
            ip=place.get("IP"),
            country=place.get("CountryISOCode") or place.get("Country"),
            city=place.get("City"),
        )
        if type is T.CLICKED:
            fields["url"] = record.get("OriginalLink")
    time_field = TIME_FIELDS[record["RecordType"]]
    if not record.get(time_field):
        raise PayloadError(f"record {index}: {time_field} is required")
    occurred_at = from_iso(record[time_field], f"record {index}: {time_field}")
    address = record.get(ADDRESS_FIELDS.get(record["RecordType"], "Recipient"))
    message_id = record.get("MessageID")
    metadata = record.get("Metadata")
    return ProviderEvent(
        PROVIDER,
        kind,
        event_id,
        record,
        canonical(
            event_id=event_id,
            type=type.value,
            occurred_at=occurred_at,
            email=address,
            metadata=metadata if isinstance(metadata, dict) else None,
            **fields,
        ),
        message_id=message_id if isinstance(message_id, str) and message_id else None,
    )


async def receive(request: WebhookRequest, settings: dict[str, Any]) -> Delivery:
    """Check the credentials, then normalize the record (or a JSON array of records)."""
    verify(request, settings)
    payload = load_json(request.body)
    records = payload if isinstance(payload, list) else [payload]
    return Delivery(events=normalize_each(normalize, records, PROVIDER))
