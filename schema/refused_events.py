"""RefusedEvent: a malformed provider event kept aside as received, with its reason."""

from datetime import datetime

import orjson
import strawberry

from app.ingest.refused import RefusedEvent as RefusedEventRecord


@strawberry.type(
    description="A malformed event of a genuine provider webhook batch, kept as received "
    "instead of refusing its batch; `campaign-graph events replay` applies it once the code "
    "accepts it."
)
class RefusedEvent:
    id: strawberry.ID = strawberry.field(description="the number `events replay --id` takes")
    provider: str
    kind: str = strawberry.field(description="the provider's name for the event, or ?")
    reason: str = strawberry.field(description="why it could not be applied")
    received_at: datetime
    replayed_at: datetime | None = strawberry.field(
        description="when a replay applied it; null while it is kept"
    )
    payload: str = strawberry.field(description="the event as the provider sent it (JSON)")

    @classmethod
    def from_record(cls, record: RefusedEventRecord) -> "RefusedEvent":
        return cls(
            id=strawberry.ID(str(record.id)),
            provider=record.provider,
            kind=record.kind,
            reason=record.reason,
            received_at=record.received_at,
            replayed_at=record.replayed_at,
            payload=orjson.dumps(record.raw, option=orjson.OPT_SORT_KEYS).decode(),
        )
