"""POST /events: canonical events from any sender, applied whole or not at all."""

import time
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from app.database import Database
from app.enums import Role
from app.ingest.apply import IngestResult, apply_events
from app.ingest.events import EventError, bad_event_count, decode_body, parse_events
from app.pubsub import publish_campaigns_changed
from app.routes.http import json_error, json_response, principal_of, read_body
from app.settings import Settings
from app.telemetry import Telemetry

SOURCE = "events"


def events_endpoint(database: Database, settings: Settings, telemetry: Telemetry):  # type: ignore[no-untyped-def]
    async def post_events(request: Request) -> Response:
        principal = await principal_of(database, request)
        if principal is None:
            telemetry.refused(SOURCE)
            return json_error(401, "a valid API key is required: Authorization: Bearer <key>")
        if not principal.allows(Role.INTEGRATION):
            telemetry.refused(SOURCE)
            return json_error(
                403,
                f"posting events needs the INTEGRATION role; the key has {principal.role.value}",
            )
        body = await read_body(request, settings.max_body_bytes)
        if body is None:
            telemetry.refused(SOURCE)
            return json_error(413, f"the body is larger than {settings.max_body_bytes} bytes")
        try:
            raw = decode_body(body, request.headers.get("content-type", ""))
        except EventError as exc:
            telemetry.refused(SOURCE)
            return json_error(400, str(exc))
        if isinstance(raw, list) and len(raw) > settings.max_batch_events:
            telemetry.refused(SOURCE, len(raw))
            return json_error(
                400, f"at most {settings.max_batch_events} events a request; split the batch"
            )
        events, problems = parse_events(raw, datetime.now(UTC))
        if problems:
            telemetry.refused(SOURCE, len(raw) if isinstance(raw, list) else 1)
            return json_response(
                {
                    "error": f"{bad_event_count(problems)} bad event(s); nothing of the batch was applied",
                    "problems": [problem.as_json() for problem in problems],
                },
                400,
            )
        organization_id = principal.organization_id

        async def store(connection: AsyncConnection) -> IngestResult:
            return await apply_events(connection, organization_id, events)

        # A deadlock or serialization failure on PostgreSQL runs the batch again, not a 500;
        # publishing happens once, after the commit.
        started = time.perf_counter()
        result = await database.retrying_write(store)
        telemetry.ingested(SOURCE, result, time.perf_counter() - started)
        await publish_campaigns_changed(database, result.campaign_ids)
        return json_response(result.as_json())

    return post_events
