"""Replaying an events file: canonical events, or a provider's exported webhook events.

Applied in batches, each in its own transaction: live dashboards follow a long import as it goes,
and a later batch that fails does not undo an earlier one.
"""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from app.database import Database
from app.enums import ResponseSource
from app.ingest.apply import IngestResult, apply_events
from app.ingest.events import EventError, bad_event_count, decode_body, parse_events
from app.ingest.providers.adapter import PayloadError
from app.ingest.providers.files import events_from_items
from app.ingest.providers.ingest import ingest_provider_events
from app.pubsub import publish_campaigns_changed

BATCH_SIZE = 1000


class ReplayError(ValueError):
    """A file, or a batch of it, that cannot be applied; the message says why."""


def read_events(body: bytes, provider: str) -> Sequence[Any]:
    """The file's events, all checked before any is applied: canonical events, or a provider's
    (README, "Providers") normalized as their webhooks are."""
    if provider == "canonical":
        content_type = (
            "application/x-ndjson" if not body.lstrip().startswith(b"[") else "application/json"
        )
        try:
            raw = decode_body(body, content_type)
        except EventError as exc:
            raise ReplayError(str(exc)) from None
        events, problems = parse_events(raw, datetime.now(UTC))
        if problems:
            lines = "\n".join(f"  event {p.index}: {p.reason}" for p in problems[:50])
            raise ReplayError(
                f"{bad_event_count(problems)} bad event(s), nothing applied:\n{lines}"
            )
        return events

    content_type = "application/json" if body.lstrip().startswith(b"[") else "application/x-ndjson"
    try:
        return events_from_items(provider, decode_body(body, content_type))
    except (EventError, PayloadError) as exc:
        raise ReplayError(f"nothing applied: {exc}") from None


async def apply_in_batches(
    database: Database,
    organization_id: int,
    events: Sequence[Any],
    provider: str,
    advance: Callable[[int], None] = lambda count: None,
) -> IngestResult:
    """Apply `read_events`' events, BATCH_SIZE a transaction; `advance` hears each batch's size."""
    total = IngestResult()
    for start in range(0, len(events), BATCH_SIZE):
        batch = events[start : start + BATCH_SIZE]
        if provider == "canonical":
            async with database.write() as connection:
                result = await apply_events(
                    connection, organization_id, batch, source=ResponseSource.IMPORT
                )
        else:
            try:
                async with database.write() as connection:
                    result = await ingest_provider_events(
                        connection, organization_id, batch, datetime.now(UTC)
                    )
            except PayloadError as exc:
                raise ReplayError(f"events {start} to {start + len(batch) - 1}: {exc}") from None
        total.merge(result)
        # After each commit: live dashboards (PostgreSQL: on every app instance) follow a long
        # import as it goes; a later batch that fails does not undo this one.
        await publish_campaigns_changed(database, result.campaign_ids)
        advance(len(batch))
    return total
