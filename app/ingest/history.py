"""One entry of a recipient's history, as the fold sees it (a non-deleted response)."""

from dataclasses import dataclass
from datetime import datetime

from app.enums import ResponseType


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: int
    type: ResponseType
    occurred_at: datetime
    link_id: int | None = None
    amount_cents: int | None = None
    bounce_type: str | None = None
    bounce_category: str | None = None
    bounce_diagnostic: str | None = None
    skip_reason: str | None = None
    machine: bool = False
    bot: bool = False
    country: str | None = None
    city: str | None = None
    email_client: str | None = None
    device: str | None = None
    browser: str | None = None
    os: str | None = None
