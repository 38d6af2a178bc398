"""Set-based writes through the driver for ingest's hot path: one statement for many rows.

Values are converted once per batch with each column's own bind processor (so they are stored
exactly as SQLAlchemy would store them: SQLite's datetimes as UTC text, for instance), and the
statement goes to the driver as is, skipping SQLAlchemy's per-row parameter processing. On SQLite
it is an `executemany` (the driver loops in C) or a multi-row VALUES list; on PostgreSQL one
statement over `unnest` of one array per column, whatever the number of rows (a column with one
value in every row is sent once, as a scalar).
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


def _pg_rows(
    connection: AsyncConnection, table: Table, names: Sequence[str], columns: list[list[Any]]
) -> tuple[str, tuple[Any, ...]]:
    """`SELECT <names> FROM unnest(...) AS v(...)` over the converted columns (each selected under
    its own name), and its parameters.

    A column with the same value in every row (the organization, the time, NULLs) is one scalar
    parameter instead of an array: asyncpg checks every array element's type in Python and the
    server parses each one, and such columns hold about a third of a batch's response values.
    """
    arrays: list[str] = []
    aliases: list[str] = []
    selected: list[str] = []
    parameters: list[Any] = []
    for name, column in zip(names, columns, strict=True):
        declared = LENGTH.sub("", table.c[name].type.compile(dialect=connection.dialect))
        number = len(parameters) + 1
        if len(column) > 1 and column.count(column[0]) == len(column):
            selected.append(f"${number}::{declared} AS {name}")
            parameters.append(column[0])
        else:
            arrays.append(f"${number}::{declared}[]")
            aliases.append(name)
            selected.append(f"v.{name}")
            parameters.append(column)
    if not arrays:  # every column constant: one array keeps the number of rows
        arrays.append(f"${len(parameters) + 1}::{_array_type(connection, table, names[0])}")
        aliases.append("row_number")
        parameters.append(columns[0])
    sql = (
        f"SELECT {', '.join(selected)} FROM unnest({', '.join(arrays)}) AS v({', '.join(aliases)})"
    )
    return sql, tuple(parameters)


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
        rows_sql, parameters = _pg_rows(connection, table, [*names, key], columns)
        assignments = ", ".join(f"{name} = s.{name}" for name in names)
        await connection.exec_driver_sql(
            f"UPDATE {table.name} AS t SET {assignments} FROM ({rows_sql}) AS s "
            f"WHERE t.{key} = s.{key}",
            parameters,
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
        rows_sql, parameters = _pg_rows(connection, table, names, columns)
        result = await connection.exec_driver_sql(f"{target}{rows_sql}{tail}", parameters)
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
        rows_sql, parameters = _pg_rows(connection, table, names, columns)
        await connection.exec_driver_sql(f"{target}{rows_sql}{tail}", parameters)
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
