"""Relay connections: `CampaignConnection`, `CampaignEdge`, ... from one generic pair."""

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry

from resolvers.pagination import Page

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

    @classmethod
    def from_page(
        cls, page: Page[Any], node_of: Callable[[Any], NodeType]
    ) -> "Connection[NodeType]":
        """The connection of a resolver's page, each item made a node by `node_of`."""
        edges = [
            Edge(cursor=cursor, node=node_of(item))
            for item, cursor in zip(page.items, page.cursors, strict=True)
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
            count_total=page.count_total,
        )
