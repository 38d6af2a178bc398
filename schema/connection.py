"""Relay connections: `CampaignConnection`, `CampaignEdge`, ... from one generic pair."""

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import strawberry

NodeType = TypeVar("NodeType")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeType]):
    cursor: str
    node: NodeType


@strawberry.type
class Connection(Generic[NodeType]):
    edges: list[Edge[NodeType]]
    page_info: PageInfo
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="exact number of items matching, over all pages")
    async def total_count(self) -> int:
        return await self.count_total()
