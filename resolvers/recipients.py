"""Recipient rows by primary key."""

from typing import Any

from resolvers import loaders
from resolvers.context import Info


async def recipient_row(info: Info, pk: int | None) -> Any:
    """The recipient's row, or None (also for no recipient)."""
    if pk is None:
        return None
    return await info.context.loader(loaders.recipient_by_id).load(pk)
