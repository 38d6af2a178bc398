"""The floors' database access: the stdlib sqlite3 module on SQLite, plain asyncpg on PostgreSQL.

SQL is written once with `?` placeholders; PostgreSQL gets `$1, $2, ...`.
"""

import re
import sqlite3
from datetime import UTC, datetime
from typing import Any

PLACEHOLDER = re.compile(r"\?")


def numbered(sql: str) -> str:
    """`?` placeholders as asyncpg's `$1, $2, ...`."""
    count = iter(range(1, 10_000))
    return PLACEHOLDER.sub(lambda _: f"${next(count)}", sql)


def as_datetime(value: Any) -> datetime | None:
    """A stored instant as an aware UTC datetime (SQLite keeps naive UTC text)."""
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if value is not None else None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def as_parameter(value: Any, sqlite: bool) -> Any:
    if sqlite and isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


class RawDatabase:
    """One plain connection; `fetch` returns a list of tuples.

    With `pool_size` on PostgreSQL, `fetch` takes a connection of a pool instead, so that
    concurrent requests (the HTTP floor) never share one asyncpg connection.
    """

    def __init__(self, database_url: str, pool_size: int | None = None) -> None:
        self.url = database_url
        self.sqlite = database_url.startswith("sqlite")
        self.connection: Any = None
        self.pool: Any = None
        self.pool_size = pool_size
        self._statements: dict[str, str] = {}
        # Statements sent (an executemany counts once): the ingest floor reports its count.
        self.sent = 0

    async def connect(self) -> "RawDatabase":
        if self.sqlite:
            self.connection = sqlite3.connect(
                self.url.split(":///", 1)[1], isolation_level=None, check_same_thread=False
            )
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
            self.connection.execute("PRAGMA busy_timeout=30000")
        else:
            import asyncpg

            dsn = self.url.replace("postgresql+asyncpg://", "postgresql://")
            self.connection = await asyncpg.connect(dsn)
            if self.pool_size:
                self.pool = await asyncpg.create_pool(
                    dsn, min_size=self.pool_size, max_size=self.pool_size
                )
        return self

    def sql(self, sql: str) -> str:
        if self.sqlite:
            return sql
        found = self._statements.get(sql)
        if found is None:
            found = self._statements[sql] = numbered(sql)
        return found

    async def fetch(self, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
        self.sent += 1
        if self.sqlite:
            values = [as_parameter(value, True) for value in parameters]
            return self.connection.execute(sql, values).fetchall()
        if self.pool is not None:
            async with self.pool.acquire() as connection:
                return [tuple(row) for row in await connection.fetch(self.sql(sql), *parameters)]
        return [tuple(row) for row in await self.connection.fetch(self.sql(sql), *parameters)]

    async def execute_many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.sent += 1
        if self.sqlite:
            self.connection.executemany(
                sql, [tuple(as_parameter(value, True) for value in row) for row in rows]
            )
        else:
            await self.connection.executemany(self.sql(sql), rows)

    async def begin(self) -> None:
        if self.sqlite:
            self.connection.execute("BEGIN IMMEDIATE")
        else:
            await self.connection.execute("BEGIN")

    async def commit(self) -> None:
        if self.sqlite:
            self.connection.execute("COMMIT")
        else:
            await self.connection.execute("COMMIT")

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None
        if self.connection is not None:
            result = self.connection.close()
            if not self.sqlite:
                await result
            self.connection = None
