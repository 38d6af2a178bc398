"""POST /webhooks/{provider}/{organization}: provider webhooks, verified, applied in one go.

`{organization}` is the organization's name, URL-encoded. The answers:
- 401 when the request is not proven to come from the provider (unknown organization, no
  credentials for the provider, bad signature, stale timestamp, replayed token): nothing stored;
- 400 with the reason when the body as a whole is not what the provider sends (not JSON, not
  an array of events): nothing stored;
- 200 {"accepted", "duplicates", "unmatched"} once the batch is applied in one transaction. A
  malformed event of a genuine batch does not refuse it (the provider would retry, then drop,
  its good events too): it is kept with its reason and counted in "unmatched"
  (`campaign-graph events refused`, `Query.refusedEvents`), replayable after a fix.
"""

import logging
import time
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from app.credentials import credentials_for
from app.database import Database
from app.ingest.aggregate_writer import dialect_insert
from app.ingest.apply import IngestResult
from app.ingest.geolocation import geolocator_for
from app.ingest.providers import ADAPTERS, mailgun
from app.ingest.providers.adapter import (
    PayloadError,
    SignatureError,
    UpstreamError,
    WebhookRequest,
)
from app.ingest.providers.ingest import ingest_provider_events
from app.ingest.providers.ses import SnsClient
from app.models import SeenToken
from app.organizations import organization_by_name
from app.pubsub import publish_campaigns_changed
from app.routes.http import json_error, json_response, read_body
from app.settings import Settings
from app.telemetry import Telemetry

log = logging.getLogger(__name__)


async def check_replay(
    connection: AsyncConnection,
    provider: str,
    organization_id: int,
    token: str,
    body_digest: str,
    now: datetime,
) -> None:
    """Accept a token once. The same token with the same event again is a retry (its events are
    duplicates, a no-op); with another event it is a replay, refused.

    The token is the unique key and the insert comes first: of two concurrent requests with one
    token, the second waits for the first's insert (PostgreSQL) or its turn (SQLite), then finds
    the token taken and compares the digests.
    """
    await connection.execute(
        delete(SeenToken).where(
            SeenToken.provider == provider, SeenToken.seen_at < now - 2 * mailgun.MAX_AGE
        )
    )
    statement = dialect_insert(connection, SeenToken.__table__)  # type: ignore[arg-type]
    inserted = await connection.execute(
        statement.on_conflict_do_nothing(
            index_elements=["provider", "organization_id", "token"]
        ).returning(SeenToken.token),
        [
            {
                "provider": provider,
                "organization_id": organization_id,
                "token": token,
                "digest": body_digest,
                "seen_at": now,
            }
        ],
    )
    if inserted.first() is not None:
        return
    seen_digest = (
        await connection.execute(
            select(SeenToken.digest).where(
                SeenToken.provider == provider,
                SeenToken.organization_id == organization_id,
                SeenToken.token == token,
            )
        )
    ).scalar()
    if seen_digest != body_digest:
        raise SignatureError("this signature token was already used for another event: a replay")


def webhooks_endpoint(  # type: ignore[no-untyped-def]
    database: Database, settings: Settings, sns: SnsClient, telemetry: Telemetry
):
    geolocator = geolocator_for(settings.geoip_database)

    async def webhook(request: Request) -> Response:
        provider = request.path_params["provider"]
        receive = ADAPTERS.get(provider)
        if receive is None:
            return json_error(404, f"unknown provider {provider!r}; one of {', '.join(ADAPTERS)}")
        organization_name = request.path_params["organization"]
        body = await read_body(request, settings.max_body_bytes)
        if body is None:
            telemetry.refused(provider)
            return json_error(413, f"the body is larger than {settings.max_body_bytes} bytes")
        async with database.read() as connection:
            organization_id = await organization_by_name(connection, organization_name)
            credentials = (
                await credentials_for(connection, organization_id, provider)
                if organization_id is not None
                else None
            )
        if organization_id is None or credentials is None:
            # The same answer for an unknown organization: names are not disclosed.
            telemetry.refused(provider)
            return json_error(
                401,
                f"no {provider} webhook credentials for this organization; set them with "
                f"`campaign-graph providers set --org NAME {provider} ...`",
            )
        now = datetime.now(UTC)
        try:
            # Verification (and an SNS certificate fetch or subscription confirmation) happens
            # once, outside the transaction that may be retried.
            delivery = await receive(WebhookRequest(request.headers, body, now, sns), credentials)
            if not (delivery.events or delivery.replay_token):
                return json_response({"message": delivery.message or "nothing to store"})

            async def store(connection: AsyncConnection) -> IngestResult:
                if delivery.replay_token:
                    await check_replay(
                        connection,
                        provider,
                        organization_id,
                        delivery.replay_token,
                        delivery.replay_digest or "",
                        now,
                    )
                return await ingest_provider_events(
                    connection, organization_id, delivery.events, now, geolocator, strict=False
                )

            started = time.perf_counter()
            result = await database.retrying_write(store)
            telemetry.ingested(provider, result, time.perf_counter() - started)
        except SignatureError as exc:
            telemetry.refused(provider)
            log.info("refused %s webhook for organization %s: %s", provider, organization_id, exc)
            return json_error(401, str(exc))
        except PayloadError as exc:
            telemetry.refused(provider)
            return json_error(400, str(exc))
        except UpstreamError as exc:
            return json_error(502, str(exc))
        await publish_campaigns_changed(database, result.campaign_ids)
        return json_response(result.as_json())

    return webhook
