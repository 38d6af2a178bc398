"""Own tracking: GET /t/o/{token}.gif (an open) and GET /t/c/{token} (a click).

Tokens are signed (app/ingest/providers/tracking.py). The pixel always answers the 1x1 GIF, so a
mail client never shows a broken image, but records an open only for a valid token. A click
with a valid token records the click and redirects (302) to the URL registered for that link;
any other token gets 404 and records nothing: there is no open redirect.

Only GET records. HEAD (which Starlette answers on GET routes, and which link scanners and
prefetchers send) gets the same answer and records nothing: no person reads a HEAD response.
"""

import base64
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.database import Database
from app.ingest.apply import IngestResult, apply_events
from app.ingest.events import parse_event
from app.ingest.geolocation import Geolocator, geolocator_for, with_place
from app.ingest.providers.tracking import CLICK, OPEN, TrackingToken, read_token
from app.models import Campaign, Contact, Link, Recipient
from app.pubsub import publish_campaigns_changed
from app.routes.http import json_error
from app.settings import Settings
from app.telemetry import Telemetry

PROVIDER = "tracking"
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private", "Pragma": "no-cache"}


def gif() -> Response:
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


async def _recipient(database: Database, token: TrackingToken, link_id: int | None) -> Any:
    """The token's recipient (in the token's organization) and, for a click, its link's URL."""
    columns = [Campaign.id, Campaign.external_id, Contact.email]
    statement = (
        select(*columns)
        .select_from(Recipient)
        .join(Campaign, Campaign.id == Recipient.campaign_id)
        .join(Contact, Contact.id == Recipient.contact_id)
        .where(
            Recipient.id == token.recipient_id, Campaign.organization_id == token.organization_id
        )
    )
    if link_id is not None:
        statement = statement.add_columns(Link.url).join(
            Link, (Link.campaign_id == Campaign.id) & (Link.id == link_id)
        )
    async with database.read() as connection:
        return (await connection.execute(statement)).first()


async def _record(
    database: Database,
    token: TrackingToken,
    row: Any,
    kind: str,
    request: Request,
    geolocator: Geolocator | None,
    telemetry: Telemetry,
) -> None:
    now = datetime.now(UTC)
    raw: dict[str, Any] = {
        # Every request is an event of its own.
        "id": f"{kind}-{uuid.uuid4().hex}",
        "type": "OPENED" if kind == OPEN else "CLICKED",
        "occurredAt": now.isoformat(),
        "campaign": row.external_id,
        "contact": {"email": row.email},
    }
    user_agent = request.headers.get("user-agent")
    if user_agent:
        raw["userAgent"] = user_agent[:1000]
    if request.client is not None:
        raw["ip"] = request.client.host[:64]
    if kind == CLICK:
        raw["url"] = row.url
    event = parse_event(with_place(raw, geolocator), now, PROVIDER)

    async def store(connection: AsyncConnection) -> IngestResult:
        return await apply_events(connection, token.organization_id, [event], now=now)

    # The event (and its fresh id) is made once, outside the retried transaction: a retry after
    # a deadlock applies the same event, never a second one.
    started = time.perf_counter()
    result = await database.retrying_write(store)
    telemetry.ingested(PROVIDER, result, time.perf_counter() - started)
    await publish_campaigns_changed(database, result.campaign_ids)


def tracking_routes(database: Database, settings: Settings, telemetry: Telemetry) -> list[Route]:
    geolocator = geolocator_for(settings.geoip_database)

    def unavailable() -> Response:
        return json_error(503, "own tracking is off: set TRACKING_SECRET to turn it on")

    async def track_open(request: Request) -> Response:
        if not settings.tracking_secret:
            return unavailable()
        if request.method != "GET":
            return gif()
        token = read_token(settings.tracking_secret, OPEN, request.path_params["token"])
        if token is not None:
            row = await _recipient(database, token, None)
            if row is not None:
                await _record(database, token, row, OPEN, request, geolocator, telemetry)
                return gif()
        telemetry.refused(PROVIDER)  # a forged, altered or stale token: no open is recorded
        return gif()

    async def track_click(request: Request) -> Response:
        if not settings.tracking_secret:
            return unavailable()
        token = read_token(settings.tracking_secret, CLICK, request.path_params["token"])
        row = await _recipient(database, token, token.link_id) if token is not None else None
        if token is None or row is None or urlsplit(row.url).scheme not in ("http", "https"):
            if request.method == "GET":
                telemetry.refused(PROVIDER)
            return json_error(404, "unknown link")
        if request.method == "GET":
            await _record(database, token, row, CLICK, request, geolocator, telemetry)
        return RedirectResponse(row.url, status_code=302, headers=NO_STORE)

    return [
        Route("/t/o/{token}.gif", track_open, methods=["GET"]),
        Route("/t/c/{token}", track_click, methods=["GET"]),
    ]
