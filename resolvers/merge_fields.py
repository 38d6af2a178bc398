"""Recipient.mergeFields and Recipient.preview, read in batches (a page of recipients costs a
fixed number of statements, whatever its size)."""

from aiodataloader import DataLoader
from sqlalchemy import select

from app.database import in_chunks
from app.message_views.preview import MergeFields, message_html, preview_html, stored_fields
from app.models import Campaign, Recipient, RecipientMergeFields
from resolvers import campaigns
from resolvers.context import Context, Info
from resolvers.loaders import KEYS, ORGANIZATION

# Through the recipient's campaign: another organization's recipient has no fields here.
MERGE_FIELDS = (
    select(RecipientMergeFields.recipient_id, RecipientMergeFields.fields)
    .join(Recipient, Recipient.id == RecipientMergeFields.recipient_id)
    .join(Campaign, Campaign.id == Recipient.campaign_id)
    .where(RecipientMergeFields.recipient_id.in_(KEYS), Campaign.organization_id == ORGANIZATION)
)


def merge_fields_by_recipient(context: Context) -> DataLoader:
    """A recipient's merge fields (empty when none were given), by recipient id."""

    async def batch(keys: list[int]) -> list[MergeFields]:
        found: dict[int, MergeFields] = {}
        for chunk in in_chunks(sorted(set(keys))):
            parameters = {"keys": chunk, "organization_id": context.organization_id}
            for row in await context.fetch(MERGE_FIELDS, parameters):
                found[row.recipient_id] = stored_fields(row.fields)
        return [found.get(key, []) for key in keys]

    return DataLoader(batch)


async def recipient_merge_fields(info: Info, recipient_pk: int) -> MergeFields:
    return await info.context.loader(merge_fields_by_recipient).load(recipient_pk)  # type: ignore[no-any-return]


async def recipient_preview(
    info: Info, recipient_pk: int, campaign_pk: int, variant_pk: int | None
) -> str | None:
    """The recipient's message filled with its merge fields and sanitized (None: no html)."""
    fields = await recipient_merge_fields(info, recipient_pk)
    if variant_pk is not None:
        variant = await campaigns.variant_row(info, variant_pk)
        template = message_html(None if variant is None else variant.html, [])
    else:
        variants = await campaigns.campaign_variants(info, campaign_pk)
        template = message_html(None, [row.html for row, _ in variants])
    return preview_html(template, fields)
