"""Response fields."""

from resolvers import campaigns, loaders, rows
from resolvers.contacts import contact_by_pk
from resolvers.context import Info
from schema import campaign as campaign_types
from schema import contact as contact_types
from schema import response as response_types


async def response_by_pk(info: Info, pk: int | None) -> "response_types.Response | None":
    if pk is None:
        return None
    row = await info.context.loader(loaders.response_by_id).load(pk)
    return rows.response(row) if row else None


async def campaign(info: Info, response: "response_types.Response") -> "campaign_types.Campaign":
    return await campaigns.campaign_by_pk(info, response.campaign_pk)


async def contact(info: Info, response: "response_types.Response") -> "contact_types.Contact":
    found = await contact_by_pk(info, response.contact_pk)
    assert found is not None  # a response's contact is in the response's organization
    return found


async def variant(
    info: Info, response: "response_types.Response"
) -> "campaign_types.Variant | None":
    if response.variant_pk is None:
        return None
    row = await info.context.loader(loaders.variant_by_id).load(response.variant_pk)
    return rows.variant(row) if row else None


async def link(info: Info, response: "response_types.Response") -> "campaign_types.Link | None":
    if response.link_pk is None:
        return None
    row = await info.context.loader(loaders.link_by_id).load(response.link_pk)
    return rows.link(row) if row else None
