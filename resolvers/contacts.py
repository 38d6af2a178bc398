"""Contact fields and lookups."""

from resolvers import loaders, rows
from resolvers.context import Info
from schema import contact as contact_types
from schema import organization as organization_types


async def contact_by_pk(info: Info, pk: int) -> "contact_types.Contact | None":
    row = await info.context.loader(loaders.contact_by_id).load(pk)
    return rows.contact(row) if row else None


async def user_by_pk(info: Info, pk: int | None) -> "organization_types.User | None":
    if pk is None:
        return None
    row = await info.context.loader(loaders.user_by_id).load(pk)
    return rows.user(row) if row else None
