"""Shared fixtures: every test that asks for `database_url` runs on SQLite and on PostgreSQL.

Tests share one migrated database per backend per process (per xdist worker): each test makes its
own organization and every read is scoped to it, so tests do not see each other's rows. A test
that counts rows across organizations or acts on all of them (reconcile over the whole database,
CLI commands that name or list organizations, the demo) is marked `@pytest.mark.fresh_database`
and gets an empty migrated database of its own.

PostgreSQL runs when its server binaries are installed (one throwaway server per run, shared by
the xdist workers, each with its own database), or when TEST_POSTGRES_URL names a server to use.
With CAMPAIGN_GRAPH_REQUIRE_POSTGRES=1 (CI), a missing PostgreSQL fails the run instead of
skipping those tests.
"""

import asyncio
import fcntl
import itertools
import os
import shutil
import tempfile
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
FRESH_DATABASE = "fresh_database"
# A folder for the whole run, made by the first process (the xdist controller) and inherited by
# the workers through the environment: it holds the PostgreSQL server's address and a lock.
RUN_FOLDER = "CAMPAIGN_GRAPH_TEST_RUN"
_database_numbers = itertools.count(1)
_owned_run_folder: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _owned_run_folder
    if RUN_FOLDER not in os.environ:
        _owned_run_folder = Path(tempfile.mkdtemp(prefix="campaign-graph-tests-"))
        os.environ[RUN_FOLDER] = str(_owned_run_folder)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The process that made the run's folder stops the run's PostgreSQL server, if one started."""
    global _owned_run_folder
    if _owned_run_folder is None:
        return
    state = _owned_run_folder / "postgres.json"
    if state.exists():
        ThrowawayPostgres.from_state(state.read_text()).stop()
    shutil.rmtree(_owned_run_folder, ignore_errors=True)
    os.environ.pop(RUN_FOLDER, None)
    _owned_run_folder = None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Held by one process of the run at a time (the workers start the server lazily)."""
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for the shared database and for each fresh one."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def shared_sqlite_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """This process's SQLite database, shared by its tests."""
    path = tmp_path_factory.mktemp("shared") / "shared.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The run's PostgreSQL server, with a migrated template database `campaign_graph_template`.

    The first worker to need it starts the server and migrates the template; the others find it.
    """
    run_folder = Path(os.environ[RUN_FOLDER])
    with _locked(run_folder / "postgres.lock"):
        ready = run_folder / "postgres.url"
        if ready.exists():
            return ready.read_text()
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
            (run_folder / "postgres.json").write_text(server.state())
            url = server.url()
        asyncio.run(
            _execute(
                url,
                "DROP DATABASE IF EXISTS campaign_graph_template",
                "CREATE DATABASE campaign_graph_template",
            )
        )
        upgrade(_with_database(url, "campaign_graph_template"))
        ready.write_text(url)
        return url


@pytest.fixture(scope="session")
def shared_postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """This process's PostgreSQL database, shared by its tests."""
    with _postgres_database(postgres_admin_url, f"campaign_graph_shared_{os.getpid()}") as url:
        yield url


@contextmanager
def _postgres_database(admin_url: str, name: str) -> Iterator[str]:
    asyncio.run(_execute(admin_url, f"CREATE DATABASE {name} TEMPLATE campaign_graph_template"))
    try:
        yield _with_database(admin_url, name)
    finally:
        asyncio.run(_execute(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


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
    """A migrated database on each backend: the process's shared one, or, for a test marked
    `fresh_database`, an empty one of its own."""
    fresh = request.node.get_closest_marker(FRESH_DATABASE) is not None
    if request.param == "sqlite":
        if not fresh:
            yield request.getfixturevalue("shared_sqlite_url")
            return
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    if not fresh:
        yield request.getfixturevalue("shared_postgres_url")
        return
    admin_url = request.getfixturevalue("postgres_admin_url")
    name = f"campaign_graph_test_{os.getpid()}_{next(_database_numbers)}"
    with _postgres_database(admin_url, name) as url:
        yield url


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
