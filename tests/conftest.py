"""Shared fixtures: every test that asks for `database_url` runs on SQLite and on PostgreSQL.

PostgreSQL runs when its server binaries are installed (a throwaway server is started), or when
TEST_POSTGRES_URL names a server to use. With CAMPAIGN_GRAPH_REQUIRE_POSTGRES=1 (CI), a missing
PostgreSQL fails the run instead of skipping those tests.
"""

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import event

from app.database import Database
from app.main import create_app
from app.migrate import upgrade
from app.settings import Settings
from tests.factories import Organization, make_organization
from tests.postgres_server import ThrowawayPostgres, find_binaries

BACKENDS = ["sqlite", "postgresql"]
_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A PostgreSQL server with a migrated template database `campaign_graph_template`."""
    server = None
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        binaries = find_binaries()
        if binaries is None:
            if os.environ.get("CAMPAIGN_GRAPH_REQUIRE_POSTGRES") == "1":
                pytest.fail(
                    "PostgreSQL is required (CAMPAIGN_GRAPH_REQUIRE_POSTGRES=1) but not installed"
                )
            pytest.skip("PostgreSQL server binaries are not installed")
        server = ThrowawayPostgres(binaries).start()
        url = server.url()
    asyncio.run(
        _execute(
            url,
            "DROP DATABASE IF EXISTS campaign_graph_template",
            "CREATE DATABASE campaign_graph_template",
        )
    )
    upgrade(_with_database(url, "campaign_graph_template"))
    try:
        yield url
    finally:
        if server is not None:
            server.stop()


def _with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _execute(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(_plain(url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    name = f"campaign_graph_test_{os.getpid()}_{next(_database_numbers)}"
    asyncio.run(_execute(admin_url, f"CREATE DATABASE {name} TEMPLATE campaign_graph_template"))
    try:
        yield _with_database(admin_url, name)
    finally:
        asyncio.run(_execute(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database.from_url(database_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def app(database: Database, database_url: str) -> Any:
    return create_app(Settings(database_url=database_url), database)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


@pytest.fixture
async def organization(database: Database) -> Organization:
    """An organization with a key of every role."""
    return await make_organization(database)


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(database: Database) -> Any:
    """`with count_statements() as counter:` counts the SQL statements run inside the block."""

    @contextmanager
    def counting() -> Iterator[StatementCounter]:
        counter = StatementCounter()

        def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            counter.statements.append(statement)

        event.listen(database.engine.sync_engine, "before_cursor_execute", record)
        try:
            yield counter
        finally:
            event.remove(database.engine.sync_engine, "before_cursor_execute", record)

    return counting
