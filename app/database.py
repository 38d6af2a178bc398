"""The database engine: SQLite (WAL, busy timeout) by default, PostgreSQL at scale."""

import asyncio
import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored as UTC on every backend.

    SQLite keeps datetimes as text, so they are stored naive in UTC there: equal instants then
    compare equal as strings.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: an offset is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        """process_result_value in one call a value (a page of 500 recipients reads 5,500 of
        them): on SQLite the stored text parsed straight into an aware instant, on PostgreSQL a
        UTC value (what asyncpg returns) kept as it is."""
        if dialect.name == "sqlite":
            return _sqlite_instant
        if dialect.driver == "asyncpg":
            return _postgresql_instant
        return super().result_processor(dialect, coltype)


def _sqlite_instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    if value[10:11] == " " and (
        len(value) == 19 or (len(value) == 26 and value[19] == "." and value[20:].isdigit())
    ):
        # SQLAlchemy's stored form, naive UTC: 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
        return _parse_instant(value + "+00:00")
    moment = _parse_instant(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _postgresql_instant(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_parse_instant = datetime.fromisoformat
# How UTCDateTime reads SQLite's text, for statements run on a plain sqlite3 connection.
sqlite_instant = _sqlite_instant


def is_sqlite(url_or_engine: str | AsyncEngine) -> bool:
    url = url_or_engine if isinstance(url_or_engine, str) else str(url_or_engine.url)
    return url.startswith("sqlite")


def create_engine(database_url: str, **options: Any) -> AsyncEngine:
    """Create the async engine with the pragmas and transaction handling each backend needs."""
    if is_sqlite(database_url):
        # Few kept connections: each holds its own page cache, prepared statements and an
        # aiosqlite thread (with its malloc arena), and 40 of them made a server grow for
        # hundreds of MiB under sustained ingest (issue 13). One writer at a time needs one
        # connection (Database keeps it), and reads gain little from more; bursts get overflow
        # connections, closed when given back (their caches with them).
        pool = {"pool_size": SQLITE_KEPT_CONNECTIONS, "max_overflow": SQLITE_OVERFLOW_CONNECTIONS}
        engine = create_async_engine(database_url, connect_args={"timeout": 30}, **(pool | options))
        _configure_sqlite(engine)
        return engine
    # Options override the pool's size (a test starves a tiny pool on purpose).
    return create_async_engine(database_url, **({"pool_size": 20, "max_overflow": 10} | options))


# Six connections kept (the writer's and readers'); up to ten more for a burst of readers.
SQLITE_KEPT_CONNECTIONS = 6
SQLITE_OVERFLOW_CONNECTIONS = 10


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection._connection = OneTripConnection(dbapi_connection._connection)
        # Let SQLAlchemy, not the driver, emit BEGIN, so writers can ask for BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        # A writer takes the write lock up front: reading the history and then upgrading to a
        # write lock could otherwise fail with SQLITE_BUSY under concurrency.
        immediate = connection.get_execution_options().get("write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class OneTripConnection:
    """An aiosqlite connection whose cursors go to its thread once a statement.

    aiosqlite runs each call (make a cursor, execute, fetch the rows, close) in the connection's
    thread and waits for the answer: four hand-offs a statement, each a wake-up of the thread and
    of the event loop, which cost a dashboard more than its statements. This cursor executes,
    fetches the first rows and closes in one call; a longer result (a streamed export) is
    fetched in further calls as it is read. Everything else is the aiosqlite connection's.
    """

    def __init__(self, connection: Any) -> None:
        self._wrapped = connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)

    def cursor(self) -> "OneTripCursor":
        return OneTripCursor(self._wrapped)


class OneTripCursor:
    """The cursor of a OneTripConnection (the aiosqlite Cursor's interface)."""

    # Rows fetched with the statement: a page of 500 recipients in one call, bounded memory for
    # a result read a part at a time.
    FIRST_ROWS = 2000

    def __init__(self, connection: Any) -> None:
        self._connection = connection  # aiosqlite's
        self._cursor: sqlite3.Cursor | None = None  # open while rows remain to fetch
        self._rows: list[Any] = []
        self._taken = 0
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> "OneTripCursor":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _run(self, sql: str, parameters: Any, many: bool) -> tuple[Any, ...]:
        """In the connection's thread: the statement, its first rows, the cursor if rows remain."""
        cursor = self._connection._conn.cursor()
        try:
            if many:
                cursor.executemany(sql, parameters)
            else:
                cursor.execute(sql, parameters)
            rows = cursor.fetchmany(self.FIRST_ROWS) if cursor.description else []
        except BaseException:
            cursor.close()
            raise
        state = (cursor.description, cursor.rowcount, cursor.lastrowid, rows)
        if len(rows) < self.FIRST_ROWS:
            cursor.close()
            return (None, *state)
        return (cursor, *state)

    async def _start(self, sql: str, parameters: Any, many: bool) -> "OneTripCursor":
        await self.close()
        found = await self._connection._execute(self._run, sql, parameters, many)
        self._cursor, self.description, self.rowcount, self.lastrowid, self._rows = found
        self._taken = 0
        return self

    async def execute(self, sql: str, parameters: Any = None) -> "OneTripCursor":
        return await self._start(sql, [] if parameters is None else parameters, False)

    async def executemany(self, sql: str, parameters: Any) -> "OneTripCursor":
        return await self._start(sql, parameters, True)

    def _take(self, size: int | None) -> list[Any]:
        end = len(self._rows) if size is None else min(len(self._rows), self._taken + size)
        taken = self._rows[self._taken : end]
        self._taken = end
        return taken

    def _more(self, size: int | None) -> list[Any]:
        """In the connection's thread: further rows (all with None), closing when none remain."""
        cursor = self._cursor
        assert cursor is not None
        rows = cursor.fetchall() if size is None else cursor.fetchmany(size)
        if size is None or len(rows) < size:
            cursor.close()
            self._cursor = None
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        wanted = self.arraysize if size is None else size
        rows = self._take(wanted)
        if len(rows) < wanted and self._cursor is not None:
            rows += await self._connection._execute(self._more, wanted - len(rows))
        return rows

    async def fetchone(self) -> Any:
        rows = await self.fetchmany(1)
        return rows[0] if rows else None

    async def fetchall(self) -> list[Any]:
        rows = self._take(None)
        if self._cursor is not None:
            rows += await self._connection._execute(self._more, None)
        return rows

    async def close(self) -> None:
        self._rows, self._taken = [], 0
        if self._cursor is not None:
            cursor, self._cursor = self._cursor, None
            await self._connection._execute(cursor.close)


Result = TypeVar("Result")

# PostgreSQL's SQLSTATEs for a transaction aborted by contention: retrying it is safe.
RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure


def is_retryable(error: DBAPIError) -> bool:
    original = error.orig
    if isinstance(original, sqlite3.OperationalError):
        # Another process held SQLite's write lock past the busy timeout: nothing was applied.
        return "database is locked" in str(original)
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return code in RETRYABLE_SQLSTATES


class Database:
    """The engine plus the one rule for writing: one writer at a time on SQLite."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sqlite = is_sqlite(engine)
        self._write_lock = asyncio.Lock()
        self._quick: sqlite3.Connection | None = None
        # SQLite's one writer keeps its connection: a request may hold a read connection while
        # it waits for the write lock (a GraphQL mutation does), so with as many waiting as the
        # pool has connections the lock holder would wait for one until the pool's timeout.
        self._writer: AsyncConnection | None = None
        self._writer_opening = asyncio.Lock()

    @property
    def keeps_writer(self) -> bool:
        """Whether SQLite's writer holds its connection (checked out of the pool) now."""
        return self._writer is not None and not self._writer.closed

    @classmethod
    def from_url(cls, database_url: str, **options: Any) -> "Database":
        return cls(create_engine(database_url, **options))

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed on success, rolled back on any error."""
        if self.sqlite:
            # SQLite has one writer; queueing here is cheaper than spinning on busy_timeout.
            async with self._write_lock:
                writer = await self._writer_connection()
                async with writer.begin():
                    yield writer
        else:
            async with self.engine.begin() as connection:
                yield connection

    async def retrying_write(
        self, work: Callable[[AsyncConnection], Awaitable[Result]], attempts: int = 5
    ) -> Result:
        """Run `work` in a write transaction, again from the start if the database aborted it.

        Under contention PostgreSQL may abort a transaction with a deadlock or a serialization
        failure, and SQLite answers "database is locked" when another process kept the write
        lock past the busy timeout; nothing of it was applied, so running the whole transaction
        again is safe (a bounded number of times).
        `work` must do nothing outside the transaction that it cannot do twice.
        """
        for attempt in range(1, attempts + 1):
            try:
                async with self.write() as connection:
                    return await work(connection)
            except DBAPIError as error:
                if attempt == attempts or not is_retryable(error):
                    raise
            await asyncio.sleep(random.uniform(0, 0.02 * 2**attempt))
        raise AssertionError("unreachable")

    async def _writer_connection(self) -> AsyncConnection:
        """SQLite's writer's connection, taken from the pool once and kept (an invalidated one
        reconnects by itself on its next use)."""
        if self._writer is None or self._writer.closed:
            async with self._writer_opening:
                if self._writer is None or self._writer.closed:
                    connection = await self.engine.connect()
                    self._writer = await connection.execution_options(write=True)
        return self._writer

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only connection."""
        if self.sqlite and self._writer is None:
            # The writer takes its connection before the first reader, so readers waiting for
            # the write lock can never have taken the last one.
            await self._writer_connection()
        async with self.engine.connect() as connection:
            yield connection

    def quick_reader(self) -> sqlite3.Connection | None:
        """On a SQLite file, one plain sqlite3 connection read in the event loop itself, for a
        single indexed statement (the key and versions of a cached answer, ~50 us) that would
        otherwise cost two thread hand-offs. Autocommit: each statement is its own read
        transaction, which in WAL mode sees the last committed write. Read-only; None elsewhere."""
        if self._quick is None and self.sqlite:
            database = self.engine.url.database
            if not database or database == ":memory:" or database.startswith("file:"):
                return None
            # No waiting in the event loop: a busy database raises, and the caller reads as usual.
            self._quick = sqlite3.connect(
                database, timeout=0, isolation_level=None, check_same_thread=False
            )
            self._quick.execute("PRAGMA query_only=ON")
        return self._quick

    async def dispose(self) -> None:
        if self._quick is not None:
            self._quick.close()
            self._quick = None
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        await self.engine.dispose()


# Bound parameters per statement stay well under SQLite's and asyncpg's limits (32,766).
PARAMETERS_PER_STATEMENT = 1000


def in_chunks(values: list[Any], size: int = PARAMETERS_PER_STATEMENT) -> list[list[Any]]:
    """Split a long IN (...) list into pieces a driver accepts."""
    return [values[start : start + size] for start in range(0, len(values), size)] or [[]]
