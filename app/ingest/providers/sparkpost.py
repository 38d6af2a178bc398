"""SparkPost event webhooks: a JSON array of {"msys": {"<category>_event": {...}}} per POST.

SparkPost does not sign its webhooks: the webhook's authentication is basic auth (auth_type
"basic") or a token SparkPost puts in `X-MessageSystems-Webhook-Token` (the webhook's
auth_token); see secret_auth.py. Replays are no-ops by `event_id`. Metadata (`campaign`,
`contact`, `variant`): recipient metadata `rcpt_meta` (or the transmission's `metadata`, which
SparkPost merges into it), else tags `campaign:<id>` etc. in `rcpt_tags`, else the
transmission's `campaign_id` as the campaign.
"""

from typing import Any

from app.enums import BounceCategory, ResponseType, SkipReason
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
    from_iso,
    from_unix,
    load_json,
    normalize_each,
    object_at,
    text_of,
    unmatched,
)
from app.ingest.providers.mapping import (
    SPARKPOST_BOUNCE_CLASSES,
    SPARKPOST_EVENTS,
    SPARKPOST_NOT_COMPLAINTS,
    Outcome,
    status_category,
)

PROVIDER = "sparkpost"
TOKEN_HEADER = "X-MessageSystems-Webhook-Token"
METADATA_FIELDS = (CAMPAIGN_FIELD, CONTACT_FIELD, VARIANT_FIELD)
# A bounce without bounce_class is "Undetermined" (class 1); a class SparkPost adds later counts
# as a soft bounce, as an unknown failure must not suppress the address for good.
UNDETERMINED = 1
UNKNOWN_CLASS = Outcome(ResponseType.BOUNCED, SPARKPOST_BOUNCE_CLASSES[1].bounce_type,
                        BounceCategory.UNSPECIFIED)  # fmt: skip
NOT_A_FATE = {60: "Auto-Reply", 80: "Subscribe"}
T = ResponseType


def is_ping(item: Any) -> bool:
    """SparkPost's test ping when a webhook is created or tested: {"msys": {}}."""
    return isinstance(item, dict) and item.get("msys") == {}


def event_of(item: Any, index: int) -> tuple[str, dict[str, Any]]:
    """(category, event) of one batch item."""
    msys = item.get("msys") if isinstance(item, dict) else None
    if not isinstance(msys, dict) or not msys:
        raise PayloadError(f'event {index}: each item must be {{"msys": {{...}}}}')
    if len(msys) != 1:
        raise PayloadError(f"event {index}: msys must hold one event")
    category, data = next(iter(msys.items()))
    if not isinstance(data, dict):
        raise PayloadError(f"event {index}: msys.{category} must be a JSON object")
    return category, data


def occurred_at(data: dict[str, Any], index: int) -> Any:
    """`timestamp`: Unix seconds (as text, SparkPost's usual form) or ISO 8601."""
    value = data.get("timestamp")
    if value is None or value == "":
        raise PayloadError(f"event {index}: timestamp is required")
    if isinstance(value, str) and not value.strip().replace(".", "", 1).isdigit():
        return from_iso(value, f"event {index}: timestamp")
    return from_unix(value, f"event {index}: timestamp")


def metadata_of(data: dict[str, Any]) -> dict[str, str]:
    """campaign, contact and variant from rcpt_meta, then tags, then campaign_id."""
    metadata: dict[str, str] = {}
    meta = data.get("rcpt_meta")
    if isinstance(meta, dict):
        for name in METADATA_FIELDS:
            value = text_of(meta.get(name))
            if value:
                metadata[name] = value
    tags = data.get("rcpt_tags")
    for tag in tags if isinstance(tags, list) else []:
        name, colon, value = str(tag).partition(":")
        if colon and name.strip() in METADATA_FIELDS and value.strip():
            metadata.setdefault(name.strip(), value.strip())
    campaign_id = text_of(data.get("campaign_id"))
    if campaign_id:
        metadata.setdefault(CAMPAIGN_FIELD, campaign_id)
    return metadata


def bounce_class(data: dict[str, Any], index: int) -> int:
    value = data.get("bounce_class")
    if value is None or value == "":
        return UNDETERMINED
    try:
        return int(str(value).strip())
    except ValueError:
        raise PayloadError(f"event {index}: bounce_class must be a number: {value!r}") from None


def normalize(item: Any, index: int = 0) -> ProviderEvent:
    """One item of a SparkPost batch as a provider event."""
    category, data = event_of(item, index)
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise PayloadError(f"event {index}: msys.{category}.type is required")
    event_id = str(data.get("event_id") or digest(data))
    type = SPARKPOST_EVENTS.get(kind)
    if type is None:
        return unmatched(
            PROVIDER, kind, event_id, data, f"no canonical type for SparkPost {kind!r}"
        )
    moment = occurred_at(data, index)
    reason = data.get("raw_reason") or data.get("reason")
    fields: dict[str, Any] = {}
    if type is T.BOUNCED:
        code = bounce_class(data, index)
        kind = f"{kind}/{code}"
        if code in NOT_A_FATE:
            return unmatched(
                PROVIDER, kind, event_id, data,
                f"SparkPost bounce class {code} ({NOT_A_FATE[code]}) is not a delivery's fate",
            )  # fmt: skip
        outcome = SPARKPOST_BOUNCE_CLASSES.get(code, UNKNOWN_CLASS)
        type = outcome.type
        if type is T.BOUNCED:
            category = outcome.category or BounceCategory.UNSPECIFIED
            if category is BounceCategory.UNSPECIFIED:
                category = status_category(reason) or category
            fields["bounce"] = {
                "type": outcome.bounce_type.value if outcome.bounce_type else None,
                "category": category.value,
                "diagnostic": reason or None,
            }
        elif type is T.DROPPED:
            skip = outcome.skip_reason or SkipReason.OTHER
            fields.update(skipReason=skip.value, note=reason or None)
    elif type is T.DROPPED:
        fields.update(skipReason=SkipReason.OTHER.value, note=reason or None)
    elif type is T.DEFERRED:
        fields["note"] = reason or None
    elif type is T.COMPLAINED:
        feedback = str(data.get("fbtype") or "").strip().lower()
        if feedback in SPARKPOST_NOT_COMPLAINTS:
            return unmatched(
                PROVIDER, f"{kind}/{feedback}", event_id, data,
                "a not-spam feedback report: the recipient says the message is not spam",
            )  # fmt: skip
    elif type in (T.OPENED, T.CLICKED):
        place = object_at(data, "geo_ip")
        fields.update(
            userAgent=data.get("user_agent"),
            ip=data.get("ip_address"),
            country=place.get("country") or None,
            city=place.get("city") or None,
        )
        # SparkPost's parsed agent says when the pixel or link was fetched ahead of the person
        # (Apple Mail Privacy Protection prefetch): a machine open or a bot click. is_proxy
        # alone (an image proxy fetching as the person opens, as Gmail's) is the person.
        if object_at(data, "user_agent_parsed").get("is_prefetched") is True:
            fields["machine" if type is T.OPENED else "bot"] = True
        if type is T.CLICKED:
            fields["url"] = data.get("target_link_url")
    message_id = data.get("message_id")
    return ProviderEvent(
        PROVIDER,
        kind,
        event_id,
        data,
        canonical(
            event_id=event_id,
            type=type.value,
            occurred_at=moment,
            email=data.get("rcpt_to") or data.get("raw_rcpt_to"),
            metadata=metadata_of(data),
            **fields,
        ),
        message_id=message_id if isinstance(message_id, str) and message_id else None,
    )


async def receive(request: WebhookRequest, settings: dict[str, Any]) -> Delivery:
    """Check the credentials, then normalize the batch."""
    secret_auth.verify(request, settings, "SparkPost")
    payload = load_json(request.body)
    if not isinstance(payload, list):
        raise PayloadError('the body must be a JSON array of {"msys": {...}} items')
    items = [item for item in payload if not is_ping(item)]
    if not items:
        return Delivery(message="no events (a SparkPost test ping)")
    return Delivery(events=normalize_each(normalize, items, PROVIDER))
