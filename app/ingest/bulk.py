"""Set-based writes through the driver for ingest's hot path: one statement for many rows.

Values are converted once per batch with each column's own bind processor (so they are stored
exactly as SQLAlchemy would store them: SQLite's datetimes as UTC text, for instance), and the
statement goes to the driver as is, skipping SQLAlchemy's per-row parameter processing. On SQLite
it is an `executemany` (the driver loops in C) or a multi-row VALUES list; on PostgreSQL one
statement over `unnest` of one array per column, whatever the number of rows.
"""

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database import UTCDateTime

Processor = Callable[[Any], Any] | None

LENGTH = re.compile(r"\(\d+\)")
# SQLite allows 32,766 bound parameters a statement.
SQLITE_PARAMETERS = 32_000


def sqlite_instant(value: datetime) -> str:
    """An aware instant as SQLAlchemy stores it on SQLite (UTCDateTime: naive UTC text with
    microseconds), without its per-value formatting."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _processors(connection: AsyncConnection, table: Table, names: Sequence[str]) -> list[Processor]:
    dialect = connection.dialect
    sqlite = dialect.name == "sqlite"
    return [
        sqlite_instant
        if sqlite and isinstance(table.c[name].type, UTCDateTime)
        else table.c[name].type._cached_bind_processor(dialect)
        for name in names
    ]


def converted(
    connection: AsyncConnection, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[list[Any]]:
    """The rows' values as the driver takes them, column by column."""
    columns = [list(column) for column in zip(*rows, strict=True)] if rows else []
    for index, processor in enumerate(_processors(connection, table, names)):
        if processor is not None:
            columns[index] = [None if v is None else processor(v) for v in columns[index]]
    return columns


def _array_type(connection: AsyncConnection, table: Table, name: str) -> str:
    """The column's type as an array, without a length: a cast to VARCHAR(n) would cut a longer
    value where the column itself refuses it."""
    declared = table.c[name].type.compile(dialect=connection.dialect)
    return f"{LENGTH.sub('', declared)}[]"


async def update_many(
    connection: AsyncConnection,
    table: Table,
    key: str,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """UPDATE each row of `table` whose `key` is the row's last value, setting `names` to the
    first ones. Rows should come in key order (a fixed lock order)."""
    if not rows:
        return
    columns = converted(connection, table, [*names, key], rows)
    if connection.dialect.name == "postgresql":
        arrays = ", ".join(
            f"${n}::{_array_type(connection, table, name)}"
            for n, name in enumerate([*names, key], start=1)
        )
        assignments = ", ".join(f"{name} = v.{name}" for name in names)
        await connection.exec_driver_sql(
            f"UPDATE {table.name} AS t SET {assignments} "
            f"FROM unnest({arrays}) AS v({', '.join([*names, key])}) WHERE t.{key} = v.{key}",
            tuple(columns),
        )
        return
    assignments = ", ".join(f"{name} = ?" for name in names)
    await connection.exec_driver_sql(
        f"UPDATE {table.name} SET {assignments} WHERE {key} = ?",
        list(zip(*columns, strict=True)),
    )


async def insert_returning(
    connection: AsyncConnection,
    table: Table,
    names: Sequence[str],
    rows: Sequence[Sequence[Any]],
    conflict: Sequence[str],
    returning: Sequence[str],
) -> list[Any]:
    """INSERT the rows, skipping those that conflict on `conflict`; the inserted rows' `returning`
    columns (raw driver values, in no particular order)."""
    if not rows:
        return []
    columns = converted(connection, table, names, rows)
    target = f"INSERT INTO {table.name} ({', '.join(names)}) "
    tail = f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING RETURNING {', '.join(returning)}"
    if connection.dialect.name == "postgresql":
        arrays = ", ".join(
            f"${n}::{_array_type(connection, table, name)}" for n, name in enumerate(names, start=1)
        )
        result = await connection.exec_driver_sql(
            f"{target}SELECT * FROM unnest({arrays}){tail}", tuple(columns)
        )
        return list(result.all())
    values = list(zip(*columns, strict=True))
    per_statement = max(1, SQLITE_PARAMETERS // len(names))
    found: list[Any] = []
    placeholder = f"({', '.join('?' * len(names))})"
    for start in range(0, len(values), per_statement):
        chunk = values[start : start + per_statement]
        result = await connection.exec_driver_sql(
            f"{target}VALUES {', '.join([placeholder] * len(chunk))}{tail}",
            tuple(value for row in chunk for value in row),
        )
        found += result.all()
    return found


async def upsert_adding(
    connection: AsyncConnection,
    table: Table,
    keys: Sequence[str],
    counters: Sequence[str],
    replaced: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """INSERT each row (keys, counters, replaced columns), or add its counters to the row with the
    same keys and replace the `replaced` columns. Rows should come in key order (a fixed lock
    order) with each key once."""
    if not rows:
        return
    names = [*keys, *counters, *replaced]
    columns = converted(connection, table, names, rows)
    updates = ", ".join(
        [f"{name} = {table.name}.{name} + excluded.{name}" for name in counters]
        + [f"{name} = excluded.{name}" for name in replaced]
    )
    tail = f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    target = f"INSERT INTO {table.name} ({', '.join(names)}) "
    if connection.dialect.name == "postgresql":
        arrays = ", ".join(
            f"${n}::{_array_type(connection, table, name)}" for n, name in enumerate(names, start=1)
        )
        await connection.exec_driver_sql(
            f"{target}SELECT * FROM unnest({arrays}){tail}", tuple(columns)
        )
        return
    placeholders = ", ".join("?" * len(names))
    await connection.exec_driver_sql(
        f"{target}VALUES ({placeholders}){tail}", list(zip(*columns, strict=True))
    )


def among(connection: AsyncConnection, column: Any, values: Sequence[Any]) -> Any:
    """`column IN values`; on PostgreSQL `column = ANY($1)` with one array parameter, which it
    parses and plans at once where a list of a thousand parameters costs it dearly."""
    if connection.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)
