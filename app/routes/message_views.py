"""GET pages for a person: a variant's click map and a recipient's preview, as sanitized HTML.

`/campaigns/{id}/variants/{variantId}/click-map.html` (`?humanOnly=false` counts every click) and
`/campaigns/{id}/recipients/{recipientId}/preview.html`. `{id}` is the campaign's GraphQL id or
its external id; `variantId` and `recipientId` are GraphQL ids. Authenticated and scoped like the
downloads (any role reads); another organization's ids are 404 like ids that do not exist.

The HTML was sanitized, and the page is also served with a CSP sandbox: even if stored HTML got
past the sanitizer, it runs in an opaque origin with no scripts and loads nothing remote.
"""

from collections.abc import Sequence
from html import escape
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from app.campaign_references import campaign_row_by_reference
from app.database import Database
from app.ids import parse_pk
from app.message_views.preview import recipient_preview
from app.routes.http import json_error, principal_of
from resolvers.click_map import campaign_variant, variant_click_map

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
BOOLEANS = {"true": True, "false": False}
HEADER_STYLE = (
    "max-width: 680px; margin: 0 auto 12px; padding: 10px 14px; border-radius: 6px; "
    "background: #1f2937; color: #f9fafb; font: 13px/18px Arial, Helvetica, sans-serif"
)
MESSAGE_STYLE = "max-width: 680px; margin: 0 auto; background: #ffffff"


def page(title: str, heading: str, body: str) -> HTMLResponse:
    """The page around sanitized `body`; `title` and `heading` are plain text."""
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        '<body style="margin: 0; padding: 16px; background: #eef0f3">'
        f'<div style="{HEADER_STYLE}">{escape(heading)}</div>'
        f'<div style="{MESSAGE_STYLE}">{body}</div></body></html>'
    )
    return HTMLResponse(document, headers=PAGE_HEADERS)


def message_view_routes(database: Database) -> list[Route]:
    """The two page routes."""

    async def campaign_of(request: Request, allowed: Sequence[str]) -> tuple[Any, Response | None]:
        principal = await principal_of(database, request)
        if principal is None:
            return None, json_error(401, "a valid API key is required: Authorization: Bearer <key>")
        unknown = sorted(set(request.query_params) - set(allowed))
        if unknown:
            return None, json_error(400, f"unknown query parameter {unknown[0]!r}")
        raw_id = request.path_params["id"]
        async with database.read() as connection:
            campaign = await campaign_row_by_reference(
                connection, principal.organization_id, raw_id
            )
        if campaign is None:
            return None, json_error(404, f"no campaign with id {raw_id!r} in this organization")
        return campaign, None

    async def click_map_page(request: Request) -> Response:
        campaign, refusal = await campaign_of(request, ["humanOnly"])
        if refusal is not None:
            return refusal
        human_only = BOOLEANS.get(request.query_params.get("humanOnly", "true").lower())
        if human_only is None:
            return json_error(400, "humanOnly must be true or false")
        raw_variant = request.path_params["variant_id"]
        variant_pk = parse_pk(raw_variant, "Variant")
        if variant_pk is None:
            return json_error(400, f"variantId {raw_variant!r} is not a Variant id")
        async with database.read() as connection:
            fetch = _fetcher(connection)
            variant = await campaign_variant(fetch, campaign.id, variant_pk)
            if variant is None:
                return json_error(404, f"no variant {raw_variant!r} in this campaign")
            html = await variant_click_map(fetch, campaign.id, variant_pk, variant.html, human_only)
        if html is None:
            return json_error(404, f"variant {raw_variant!r} has no html")
        counted = "human clicks only" if human_only else "all clicks, bots included"
        return page(
            f"Click map · {campaign.name} · {variant.name}",
            f"Click map · {campaign.name} · variant {variant.name} · {counted}",
            html,
        )

    async def preview_page(request: Request) -> Response:
        campaign, refusal = await campaign_of(request, [])
        if refusal is not None:
            return refusal
        raw_recipient = request.path_params["recipient_id"]
        recipient_pk = parse_pk(raw_recipient, "Recipient")
        if recipient_pk is None:
            return json_error(400, f"recipientId {raw_recipient!r} is not a Recipient id")
        async with database.read() as connection:
            html = await recipient_preview(
                connection, campaign.organization_id, campaign.id, recipient_pk
            )
        if html is None:
            return json_error(
                404, f"no recipient {raw_recipient!r} with a message html in this campaign"
            )
        return page(
            f"Preview · {campaign.name}",
            f"Preview · {campaign.name} · as the recipient got it",
            html,
        )

    return [
        Route(
            "/campaigns/{id}/variants/{variant_id}/click-map.html", click_map_page, methods=["GET"]
        ),
        Route(
            "/campaigns/{id}/recipients/{recipient_id}/preview.html", preview_page, methods=["GET"]
        ),
    ]


def _fetcher(connection: AsyncConnection) -> Any:
    async def fetch(statement: Executable) -> Sequence[Any]:
        return (await connection.execute(statement)).all()

    return fetch
