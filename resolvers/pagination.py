"""Keyset pagination for Relay connections: cursors name the last row's sort key, not an offset,
so rows inserted or changed while a client pages never make it see a row twice or skip one that
stayed in place."""

import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson
from graphql import GraphQLError
from sqlalchemy import ColumnElement, Select, bindparam, tuple_

MAX_PAGE = 500
DEFAULT_PAGE = 50

Item = TypeVar("Item")


@dataclass(frozen=True, slots=True)
class Page(Generic[Item]):
    """One page of a connection, in order: its items and their cursors, whether more follow, and
    how to count every item (read only when the query asks for totalCount)."""

    items: list[Item]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    count_total: Callable[[], Awaitable[int]]


def page_of(
    found: Sequence[Any],
    size: int,
    after: str | None,
    cursor_of: Callable[[Any], Sequence[Any]],
    count_total: Callable[[], Awaitable[int]],
) -> "Page[Any]":
    """The page of a keyset read of `size` + 1 rows (see `keyset_page`)."""
    items = list(found[:size])
    return Page(
        items=items,
        cursors=[encode_cursor(cursor_of(row)) for row in items],
        has_next_page=len(found) > size,
        has_previous_page=after is not None,
        count_total=count_total,
    )


class PaginationError(GraphQLError):
    """A bad `first` or `after`; shown to the caller as it is, with code BAD_USER_INPUT."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})


def page_size(first: int | None) -> int:
    """The rows a page serves: `first: null` serves DEFAULT_PAGE, as omitting it does (and
    schema.query_cost counts a null `first` as that page, so null is no way around the limit)."""
    if first is None:
        return DEFAULT_PAGE
    if first < 0 or first > MAX_PAGE:
        raise PaginationError(f"first must be between 0 and {MAX_PAGE}, got {first}")
    return first


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    return value


def _typed(value: Any) -> Any:
    if isinstance(value, dict) and "t" in value:
        return datetime.fromisoformat(value["t"])
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([_plain(v) for v in values])).decode()


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, orjson.JSONDecodeError):
        raise PaginationError("after is not a cursor of this connection") from None
    if not isinstance(values, list) or len(values) != width:
        raise PaginationError("after is not a cursor of this connection")
    return [_typed(v) for v in values]


def keyset_page(
    statement: Select[Any],
    sort_key: Sequence[ColumnElement[Any]],
    descending: bool,
    first: int,
    after: str | None,
) -> Select[Any]:
    """`statement` ordered by `sort_key` (its last column unique), after the cursor, one row
    more than the page so that hasNextPage needs no second query."""
    if after:
        values = decode_cursor(after, len(sort_key))
        bound = tuple_(
            *(
                bindparam(None, value, type_=column.type)
                for column, value in zip(sort_key, values, strict=True)
            )
        )
        row_key = tuple_(*sort_key)
        statement = statement.where(row_key < bound if descending else row_key > bound)
    order = [column.desc() if descending else column.asc() for column in sort_key]
    return statement.order_by(*order).limit(first + 1)
