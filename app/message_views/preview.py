"""A recipient's preview: its message's HTML with its merge fields filled in, then sanitized.

The message is the recipient's variant's html; a recipient without a variant, in a campaign of
exactly one variant, got that one. Filling comes before sanitizing, so that a value cannot bring
what the sanitizer removes (a value is escaped, but one placed in `href="{{url}}"` could still be
a `javascript:` address).
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.message_views.merge_fields import lookup, render
from app.message_views.sanitize import sanitize_html
from app.models import Campaign, Recipient, RecipientMergeFields, Variant

MergeFields = list[tuple[str, str]]


def stored_fields(stored: Any) -> MergeFields:
    """(name, value) pairs of a stored list of {"name", "value"} (None: no fields)."""
    return [(str(item["name"]), str(item["value"])) for item in stored or []]


def message_html(
    variant_html: str | None, campaign_variant_htmls: Sequence[str | None]
) -> str | None:
    """The html a recipient got: its variant's (`variant_html`, None without a variant), else the
    campaign's only variant's (`campaign_variant_htmls`: every variant's html)."""
    if variant_html is not None:
        return variant_html
    if len(campaign_variant_htmls) == 1:
        return campaign_variant_htmls[0]
    return None


def preview_html(template: str | None, fields: MergeFields) -> str | None:
    """The template filled with the fields and sanitized; None without a template."""
    if not template:
        return None
    return sanitize_html(render(template, lookup(fields)))


async def recipient_preview(
    connection: AsyncConnection, organization_id: int, campaign_id: int, recipient_id: int
) -> str | None:
    """The preview of one recipient of one of the organization's campaigns; None when there is
    no such recipient there, or its message has no html."""
    row = (
        await connection.execute(
            select(Recipient.variant_id, Variant.html, RecipientMergeFields.fields)
            .join(Campaign, Campaign.id == Recipient.campaign_id)
            .outerjoin(Variant, Variant.id == Recipient.variant_id)
            .outerjoin(RecipientMergeFields, RecipientMergeFields.recipient_id == Recipient.id)
            .where(
                Recipient.id == recipient_id,
                Recipient.campaign_id == campaign_id,
                Campaign.organization_id == organization_id,
            )
        )
    ).one_or_none()
    if row is None:
        return None
    htmls: list[str | None] = []
    if row.variant_id is None:
        result = await connection.execute(
            select(Variant.html).where(Variant.campaign_id == campaign_id).limit(2)
        )
        htmls = list(result.scalars())
    return preview_html(message_html(row.html, htmls), stored_fields(row.fields))
