"""Recipient fields."""

from resolvers import campaigns, loaders, rows
from resolvers.contacts import contact_by_pk
from resolvers.context import Info
from schema import campaign as campaign_types
from schema import contact as contact_types
from schema import recipient as recipient_types
from schema import response as response_types


async def recipient_by_pk(info: Info, pk: int | None) -> "recipient_types.Recipient | None":
    if pk is None:
        return None
    row = await info.context.loader(loaders.recipient_by_id).load(pk)
    return rows.recipient(row) if row else None


async def campaign(info: Info, recipient: "recipient_types.Recipient") -> "campaign_types.Campaign":
    return await campaigns.campaign_by_pk(info, recipient.campaign_pk)


async def contact(info: Info, recipient: "recipient_types.Recipient") -> "contact_types.Contact":
    found = await contact_by_pk(info, recipient.contact_pk)
    assert found is not None  # a recipient's contact is in the recipient's organization
    return found


async def variant(
    info: Info, recipient: "recipient_types.Recipient"
) -> "campaign_types.Variant | None":
    if recipient.variant_pk is None:
        return None
    row = await info.context.loader(loaders.variant_by_id).load(recipient.variant_pk)
    return rows.variant(row) if row else None


async def latest_response(
    info: Info, recipient: "recipient_types.Recipient"
) -> "response_types.Response | None":
    if recipient.latest_response_pk is None:
        return None
    row = await info.context.loader(loaders.response_by_id).load(recipient.latest_response_pk)
    return rows.response(row) if row else None
