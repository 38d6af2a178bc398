"""Response rows by primary key."""

from typing import Any

from resolvers import loaders
from resolvers.context import Info


async def response_row(info: Info, pk: int | None) -> Any:
    """The response's row, or None (also for no response)."""
    if pk is None:
        return None
    return await info.context.loader(loaders.response_by_id).load(pk)
