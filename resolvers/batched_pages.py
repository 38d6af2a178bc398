"""Keyset pages of many parents' lists at once: the nested connections of a list (each campaign's
recipients, each recipient's responses) load with one statement per page shape and one grouped
count, whatever the number of parents.

A connection describes its rows with a `PageShape`: the statement of every parent's rows, the
column naming the parent, and the sort key (its last column unique). With one parent, the page is
a plain keyset page (ORDER BY ... LIMIT); with several, ROW_NUMBER() OVER (PARTITION BY parent)
keeps each parent's first rows.
"""

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import ColumnElement, Select, bindparam, func, select, tuple_

from app.database import in_chunks
from resolvers.context import Context
from resolvers.pagination import (
    Page,
    PaginationError,
    decode_cursor,
    keyset_page,
    page_of,
    page_size,
)
from resolvers.rows import positional

Row = Any


@dataclass(frozen=True)
class PageShape:
    """How one kind of connection selects, for any parents, its rows in order."""

    statement: Select[Any]
    parent: ColumnElement[Any]
    sort_key: Sequence[ColumnElement[Any]]
    descending: bool


@dataclass(frozen=True)
class _PageKey:
    parent: int
    first: int
    after: str | None
    query: Hashable


@dataclass(frozen=True)
class _CountKey:
    parent: int
    query: Hashable


ShapeOf = Callable[[Any], PageShape]


def _after(shape: PageShape, after: str) -> ColumnElement[bool]:
    values = decode_cursor(after, len(shape.sort_key))
    bound = tuple_(
        *(
            bindparam(None, value, type_=column.type)
            for column, value in zip(shape.sort_key, values, strict=True)
        )
    )
    row_key = tuple_(*shape.sort_key)
    return row_key < bound if shape.descending else row_key > bound


def _pages(shape: PageShape, parents: list[int], first: int, after: str | None) -> Select[Any]:
    statement = shape.statement.add_columns(shape.parent.label("page_parent"))
    if len(parents) == 1:
        return keyset_page(
            statement.where(shape.parent == parents[0]),
            shape.sort_key,
            shape.descending,
            first,
            after,
        )
    statement = statement.where(shape.parent.in_(parents))
    if after:
        statement = statement.where(_after(shape, after))
    order = [column.desc() if shape.descending else column.asc() for column in shape.sort_key]
    rank = func.row_number().over(partition_by=shape.parent, order_by=order).label("page_rank")
    ranked = statement.add_columns(rank).subquery()
    return (
        select(ranked)
        .where(ranked.c.page_rank <= first + 1)
        .order_by(ranked.c.page_parent, ranked.c.page_rank)
    )


def _page_loader(shape_of: ShapeOf) -> Callable[[Context], DataLoader]:
    def factory(context: Context) -> DataLoader:
        async def batch(keys: list[_PageKey]) -> list[list[Row]]:
            parents: dict[tuple[int, str | None, Hashable], set[int]] = defaultdict(set)
            for key in keys:
                parents[(key.first, key.after, key.query)].add(key.parent)
            found: dict[_PageKey, list[Row]] = defaultdict(list)
            for (first, after, query), group in parents.items():
                shape = shape_of(query)
                for chunk in in_chunks(sorted(group)):
                    rows = positional(await context.fetch(_pages(shape, chunk, first, after)))
                    for row in rows:
                        found[_PageKey(row.page_parent, first, after, query)].append(row)
            return [found.get(key, []) for key in keys]

        return DataLoader(batch)

    return factory


def _count_loader(shape_of: ShapeOf) -> Callable[[Context], DataLoader]:
    def factory(context: Context) -> DataLoader:
        async def batch(keys: list[_CountKey]) -> list[int]:
            parents: dict[Hashable, set[int]] = defaultdict(set)
            for key in keys:
                parents[key.query].add(key.parent)
            counts: dict[_CountKey, int] = {}
            for query, group in parents.items():
                shape = shape_of(query)
                for chunk in in_chunks(sorted(group)):
                    rows = (
                        shape.statement.with_only_columns(shape.parent.label("page_parent"))
                        .where(shape.parent.in_(chunk))
                        .subquery()
                    )
                    counted = select(rows.c.page_parent, func.count().label("total")).group_by(
                        rows.c.page_parent
                    )
                    for row in await context.fetch(counted):
                        counts[_CountKey(row.page_parent, query)] = int(row.total)
            return [counts.get(key, 0) for key in keys]

        return DataLoader(batch)

    return factory


def check_cursor(after: str | None, kinds: Sequence[type]) -> None:
    """Refuse a cursor that this connection did not make, before it reaches SQL."""
    if after is None:
        return
    try:
        values = decode_cursor(after, len(kinds))
    except ValueError:
        raise PaginationError("after is not a cursor of this connection") from None
    for value, kind in zip(values, kinds, strict=True):
        wrong = not isinstance(value, kind) or isinstance(value, bool)
        if wrong or (isinstance(value, datetime) and value.tzinfo is None):
            raise PaginationError("after is not a cursor of this connection")


async def batched_connection(
    context: Context,
    name: str,
    shape_of: ShapeOf,
    parent: int,
    query: Hashable,
    first: int | None,
    after: str | None,
    cursor_of: Callable[[Row], Sequence[Any]],
    cursor_kinds: Sequence[type],
) -> Page[Row]:
    """One parent's page of rows of the connection `name`, loaded together with every other
    parent's page asked for in the same tick. `shape_of(query)` must depend on `query` only, and
    `query` must be hashable; `cursor_of(row)` gives the row's sort key values."""
    size = page_size(first)
    check_cursor(after, cursor_kinds)
    pages = context.loader(_page_loader(shape_of), key=f"{name}:pages")
    found = await pages.load(_PageKey(parent, size, after, query))

    async def count_total() -> int:
        counts = context.loader(_count_loader(shape_of), key=f"{name}:counts")
        return int(await counts.load(_CountKey(parent, query)))

    return page_of(found, size, after, cursor_of, count_total)
