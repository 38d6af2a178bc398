"""`node(id:)`, `viewer` and the top-level lookups: the row a global id names."""

from typing import Any

from sqlalchemy import select

from app.ids import parse_global_id
from app.models import Organization
from resolvers import campaigns, contacts, loaders, recipients, responses
from resolvers.context import Info
from resolvers.records import ViewerRecord


async def viewer(info: Info) -> ViewerRecord:
    found = await info.context.fetch(
        select(Organization.__table__).where(Organization.id == info.context.organization_id)
    )
    return ViewerRecord(organization=found[0], role=info.context.principal.role)


async def node(info: Info, id: str) -> tuple[str, Any] | None:
    """(type name, row) of the object with this global id in the caller's organization; None
    when there is none."""
    parsed = parse_global_id(id)
    if parsed is None:
        return None
    type_name, pk = parsed
    context = info.context
    row: Any = None
    if type_name == "Campaign":
        row = await campaigns.find_campaign_row(info, pk)
    elif type_name == "Variant":
        row = await context.loader(loaders.variant_by_id).load(pk)
    elif type_name == "Link":
        row = await context.loader(loaders.link_by_id).load(pk)
    elif type_name == "Contact":
        row = await contacts.contact_row(info, pk)
    elif type_name == "User":
        row = await contacts.user_row(info, pk)
    elif type_name == "Project":
        row = await campaigns.project_row(info, pk)
    elif type_name == "Recipient":
        row = await recipients.recipient_row(info, pk)
    elif type_name == "Response":
        row = await responses.response_row(info, pk)
    elif type_name == "Organization" and pk == context.organization_id:
        row = (await viewer(info)).organization
    return None if row is None else (type_name, row)
