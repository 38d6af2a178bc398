"""`node(id:)`, `viewer` and the top-level lookups."""

from sqlalchemy import select

from app.ids import parse_global_id
from app.models import Organization
from resolvers import campaigns, contacts, loaders, recipients, responses, rows
from resolvers.context import Info
from schema.node import Node
from schema.organization import Viewer


async def viewer(info: Info) -> Viewer:
    found = await info.context.fetch(
        select(Organization.__table__).where(Organization.id == info.context.organization_id)
    )
    return Viewer(organization=rows.organization(found[0]), role=info.context.principal.role)  # type: ignore[arg-type]


async def node(info: Info, id: str) -> Node | None:
    parsed = parse_global_id(id)
    if parsed is None:
        return None
    type_name, pk = parsed
    context = info.context
    if type_name == "Campaign":
        return await campaigns.find_campaign_by_pk(info, pk)
    if type_name == "Variant":
        row = await context.loader(loaders.variant_by_id).load(pk)
        return rows.variant(row) if row else None
    if type_name == "Link":
        row = await context.loader(loaders.link_by_id).load(pk)
        return rows.link(row) if row else None
    if type_name == "Contact":
        return await contacts.contact_by_pk(info, pk)
    if type_name == "User":
        return await contacts.user_by_pk(info, pk)
    if type_name == "Project":
        return await campaigns.project_by_pk(info, pk)
    if type_name == "Recipient":
        return await recipients.recipient_by_pk(info, pk)
    if type_name == "Response":
        return await responses.response_by_pk(info, pk)
    if type_name == "Organization" and pk == context.organization_id:
        return (await viewer(info)).organization
    return None
