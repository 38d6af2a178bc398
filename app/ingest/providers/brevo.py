"""Brevo (Sendinblue) webhooks, transactional and marketing: one event per POST, or a batch.

Brevo does not sign its webhooks: the URL carries basic auth credentials, or each request a
token (Brevo's webhook `auth` setting: `Authorization: Bearer <token>`, or a custom header);
see secret_auth.py. Events carry no id of their own, so a digest of the event makes replays
no-ops. Metadata (`campaign`, `contact`, `variant`): the `X-Mailin-custom` header given when
sending (a JSON object), echoed on every transactional event; or tags `campaign:<id>`,
`contact:<id>`, `variant:<name>`. A marketing event without a `campaign:` tag belongs to the
campaign whose external id is Brevo's campaign id (`camp_id`).
"""

from typing import Any

import orjson

from app.enums import BounceCategory, ResponseType
from app.ingest.providers import secret_auth
from app.ingest.providers.adapter import (
    CAMPAIGN_FIELD,
    CONTACT_FIELD,
    VARIANT_FIELD,
    Delivery,
    PayloadError,
    ProviderEvent,
    WebhookRequest,
    canonical,
    digest,
    from_unix,
    load_json,
    normalize_each,
    text_of,
    unmatched,
)
from app.ingest.providers.mapping import BREVO_EVENTS, BREVO_PROXY_OPENS, status_category

PROVIDER = "brevo"
CUSTOM_HEADER = "X-Mailin-custom"
METADATA_FIELDS = (CAMPAIGN_FIELD, CONTACT_FIELD, VARIANT_FIELD)
# Above this a Unix timestamp is in milliseconds (Brevo's ts_epoch is, its samples are not).
MILLISECONDS_FROM = 1e11
T = ResponseType


def occurred_at(raw: dict[str, Any], index: int) -> Any:
    """When the event happened: ts_event (UTC seconds), else ts_epoch (milliseconds), else ts."""
    for name in ("ts_event", "ts_epoch", "ts"):
        value = raw.get(name)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and value > MILLISECONDS_FROM:
            value = value / 1000
        elif isinstance(value, str) and value.strip().isdigit() and int(value) > MILLISECONDS_FROM:
            value = int(value) / 1000
        return from_unix(value, f"event {index}: {name}")
    raise PayloadError(f"event {index}: ts_event, ts_epoch or ts is required")


def tags_of(raw: dict[str, Any]) -> list[str]:
    """The event's tags: `tags` (a list), else `tag` (a JSON list as text, or one tag)."""
    tags = raw.get("tags")
    if isinstance(tags, list):
        return [tag for tag in tags if isinstance(tag, str)]
    tag = raw.get("tag")
    if not isinstance(tag, str) or not tag.strip():
        return []
    if tag.strip().startswith("["):
        try:
            parsed = orjson.loads(tag)
        except orjson.JSONDecodeError:
            return [tag]
        return (
            [item for item in parsed if isinstance(item, str)] if isinstance(parsed, list) else []
        )
    return [tag]


def metadata_of(raw: dict[str, Any]) -> dict[str, str]:
    """campaign, contact and variant from X-Mailin-custom, then tags, then camp_id."""
    metadata: dict[str, str] = {}
    custom = raw.get(CUSTOM_HEADER)
    if isinstance(custom, str) and custom.strip().startswith("{"):
        try:
            custom = orjson.loads(custom)
        except orjson.JSONDecodeError:
            custom = None  # a header that is not ours: no metadata from it
    if isinstance(custom, dict):
        for name in METADATA_FIELDS:
            value = text_of(custom.get(name))
            if value:
                metadata[name] = value
    for tag in tags_of(raw):
        name, colon, value = tag.partition(":")
        if colon and name.strip() in METADATA_FIELDS and value.strip():
            metadata.setdefault(name.strip(), value.strip())
    camp_id = text_of(raw.get("camp_id"))
    if camp_id:
        metadata.setdefault(CAMPAIGN_FIELD, camp_id)
    return metadata


def message_id_of(raw: dict[str, Any]) -> str | None:
    value = raw.get("message-id")
    return value.strip().strip("<>") if isinstance(value, str) and value.strip() else None


def normalize(raw: Any, index: int = 0) -> ProviderEvent:
    """One Brevo webhook event as a provider event."""
    if not isinstance(raw, dict):
        raise PayloadError(f"event {index}: a Brevo event must be a JSON object")
    kind = raw.get("event")
    if not isinstance(kind, str) or not kind:
        raise PayloadError(f"event {index}: 'event' is required")
    event_id = digest(raw)  # Brevo's "id" is the webhook's, not the event's
    outcome = BREVO_EVENTS.get(kind)
    if outcome is None:
        return unmatched(PROVIDER, kind, event_id, raw, f"no canonical type for Brevo {kind!r}")
    moment = occurred_at(raw, index)
    type = outcome.type
    reason = raw.get("reason")
    fields: dict[str, Any] = {}
    if type is T.BOUNCED:
        category = outcome.category or BounceCategory.UNSPECIFIED
        if category is BounceCategory.UNSPECIFIED:
            category = status_category(reason) or category
        fields["bounce"] = {
            "type": outcome.bounce_type.value if outcome.bounce_type else None,
            "category": category.value,
            "diagnostic": str(reason).strip() if reason else None,
        }
    elif type is T.DROPPED:
        skip = outcome.skip_reason
        fields.update(skipReason=skip.value if skip else None, note=reason or None)
    elif type is T.DEFERRED:
        fields["note"] = reason or None
    elif type in (T.OPENED, T.CLICKED):
        fields.update(userAgent=raw.get("user_agent"), ip=raw.get("ip"))
        if kind in BREVO_PROXY_OPENS:
            fields["machine"] = True  # loaded by a privacy proxy, not by a person reading
        if type is T.CLICKED:
            fields["url"] = raw.get("link") or raw.get("URL")
    return ProviderEvent(
        PROVIDER,
        kind,
        event_id,
        raw,
        canonical(
            event_id=event_id,
            type=type.value,
            occurred_at=moment,
            email=raw.get("email"),
            metadata=metadata_of(raw),
            **fields,
        ),
        message_id=message_id_of(raw),
    )


async def receive(request: WebhookRequest, settings: dict[str, Any]) -> Delivery:
    """Check the credentials, then normalize the event (or a batch: a JSON array of events)."""
    secret_auth.verify(request, settings, "Brevo")
    payload = load_json(request.body)
    events = payload if isinstance(payload, list) else [payload]
    return Delivery(events=normalize_each(normalize, events, PROVIDER))
