"""Provider events from an exported file (`campaign-graph ingest FILE --provider NAME`).

The operator running the command is trusted, so there is no signature to check: each item is
normalized as its webhook would be, and replays stay no-ops by the same event ids.
- sendgrid: SendGrid events (the webhook's array, or one event a line);
- mailgun: webhook bodies ({"signature", "event-data"}) or bare event-data objects;
- ses: SNS notifications (their Message is the SES event) or bare SES events;
- postmark: webhook records;
- brevo: webhook events (transactional or marketing);
- sparkpost: webhook items ({"msys": {...}}); test pings are skipped.
"""

from typing import Any

from app.ingest.providers import brevo, mailgun, postmark, sendgrid, ses, sparkpost
from app.ingest.providers.adapter import PayloadError, ProviderEvent, digest, load_json

FILE_PROVIDERS = ("sendgrid", "mailgun", "ses", "postmark", "brevo", "sparkpost")


def events_from_items(provider: str, items: Any) -> list[ProviderEvent]:
    """The provider events of a file's items; PayloadError naming the first bad item."""
    if provider not in FILE_PROVIDERS:
        raise PayloadError(
            f"unknown provider {provider!r}; one of canonical, {', '.join(FILE_PROVIDERS)}"
        )
    if not isinstance(items, list):
        raise PayloadError("the file must hold a JSON array, or one JSON object a line")
    events: list[ProviderEvent] = []
    for index, item in enumerate(items):
        try:
            events += _normalize(provider, item, index)
        except PayloadError as exc:
            raise PayloadError(f"item {index}: {exc}") from None
    return events


def _normalize(provider: str, item: Any, index: int) -> list[ProviderEvent]:
    if provider == "sendgrid":
        return [sendgrid.normalize(item, index)]
    if provider == "postmark":
        return [postmark.normalize(item, index)]
    if provider == "brevo":
        return [brevo.normalize(item, index)]
    if provider == "sparkpost":
        return [] if sparkpost.is_ping(item) else [sparkpost.normalize(item, index)]
    if not isinstance(item, dict):
        raise PayloadError("each item must be a JSON object")
    if provider == "mailgun":
        return [mailgun.normalize(item.get("event-data", item))]
    if item.get("Type") == "Notification":
        message = load_json(str(item.get("Message", "")).encode())
        if not isinstance(message, dict):
            raise PayloadError("the SNS Message must be an SES event")
        return ses.normalize(message, str(item.get("MessageId") or digest(item)))
    return ses.normalize(item, digest(item))
