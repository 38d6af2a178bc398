"""Contact and user rows by primary key."""

from typing import Any

from resolvers import loaders
from resolvers.context import Info


async def contact_row(info: Info, pk: int) -> Any:
    """The contact's row, or None."""
    return await info.context.loader(loaders.contact_by_id).load(pk)


async def user_row(info: Info, pk: int | None) -> Any:
    """The user's row, or None (also for no user)."""
    if pk is None:
        return None
    return await info.context.loader(loaders.user_by_id).load(pk)
