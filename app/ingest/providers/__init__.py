"""Provider adapters: each turns its provider's webhook into canonical events for the ingest core.

`ADAPTERS[name](request, settings)` verifies a webhook request with the organization's settings
and returns its events (app/ingest/providers/adapter.py); `ingest.py` applies them.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from app.ingest.providers import brevo, mailgun, postmark, sendgrid, ses, sparkpost
from app.ingest.providers.adapter import Delivery, WebhookRequest

Adapter = Callable[[WebhookRequest, dict[str, Any]], Awaitable[Delivery]]

ADAPTERS: dict[str, Adapter] = {
    sendgrid.PROVIDER: sendgrid.receive,
    mailgun.PROVIDER: mailgun.receive,
    ses.PROVIDER: ses.receive,
    postmark.PROVIDER: postmark.receive,
    brevo.PROVIDER: brevo.receive,
    sparkpost.PROVIDER: sparkpost.receive,
}
