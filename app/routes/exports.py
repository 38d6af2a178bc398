"""GET /exports/campaigns/{id}/...: recipients and activity as streamed CSV, the summary as xlsx.

`{id}` is the campaign's GraphQL id or its external id.

Authenticated like the API (any role reads), scoped to the key's organization. Every check
(key, campaign, filters) happens before the first byte, so a refused request gets its status and
reason and no data.
"""

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Route

from app.campaign_references import campaign_row_by_reference
from app.database import Database
from app.exports import activity, recipients
from app.exports.campaign import file_name
from app.exports.csv_stream import csv_chunks
from app.exports.filters import FilterError, Parameters, activity_filter, recipient_filter
from app.exports.summary import load_summary, write_summary
from app.routes.http import json_error, principal_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download_headers(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


def export_routes(database: Database) -> list[Route]:
    """The three download routes."""

    async def campaign_of(request: Request) -> tuple[Any, Response | None]:
        principal = await principal_of(database, request)
        if principal is None:
            return None, json_error(401, "a valid API key is required: Authorization: Bearer <key>")
        raw_id = request.path_params["id"]
        async with database.read() as connection:
            campaign = await campaign_row_by_reference(
                connection, principal.organization_id, raw_id
            )
        if campaign is None:
            return None, json_error(404, f"no campaign with id {raw_id!r} in this organization")
        return campaign, None

    async def recipients_csv(request: Request) -> Response:
        campaign, refusal = await campaign_of(request)
        if refusal is not None:
            return refusal
        try:
            chosen = recipient_filter(Parameters.from_pairs(request.query_params.multi_items()))
        except FilterError as exc:
            return json_error(400, str(exc))
        batches = recipients.recipient_batches(database, campaign.id, chosen)
        return StreamingResponse(
            csv_chunks(recipients.HEADER, batches),
            media_type="text/csv; charset=utf-8",
            headers=_download_headers(file_name(campaign.external_id, "recipients", "csv")),
        )

    async def activity_csv(request: Request) -> Response:
        campaign, refusal = await campaign_of(request)
        if refusal is not None:
            return refusal
        try:
            chosen = activity_filter(Parameters.from_pairs(request.query_params.multi_items()))
        except FilterError as exc:
            return json_error(400, str(exc))
        batches = activity.activity_batches(database, campaign.id, chosen)
        return StreamingResponse(
            csv_chunks(activity.HEADER, batches),
            media_type="text/csv; charset=utf-8",
            headers=_download_headers(file_name(campaign.external_id, "activity", "csv")),
        )

    async def summary_xlsx(request: Request) -> Response:
        campaign, refusal = await campaign_of(request)
        if refusal is not None:
            return refusal
        if request.query_params:
            return json_error(400, "the summary takes no query parameters")
        summary = await load_summary(database, campaign.id)
        handle, name = tempfile.mkstemp(prefix="campaign-summary-", suffix=".xlsx")
        os.close(handle)
        path = Path(name)
        try:
            await asyncio.to_thread(write_summary, summary, path)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return FileResponse(
            path,
            media_type=XLSX,
            headers=_download_headers(file_name(campaign.external_id, "summary", "xlsx")),
            background=BackgroundTask(path.unlink, missing_ok=True),
        )

    return [
        Route("/exports/campaigns/{id}/recipients.csv", recipients_csv, methods=["GET"]),
        Route("/exports/campaigns/{id}/activity.csv", activity_csv, methods=["GET"]),
        Route("/exports/campaigns/{id}/summary.xlsx", summary_xlsx, methods=["GET"]),
    ]
