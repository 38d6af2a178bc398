"""Response cache measures (issue 14): the dashboard polled over HTTP with the cache warm, the
same dashboard executed every time (cache off), 304 revalidations, statements per request, and
the cache's memory at its bound; each beside the plain Starlette floor of the same run."""

import asyncio
import tracemalloc
import urllib.request
from typing import Any

import httpx
import orjson
from sqlalchemy import event

from app.database import Database
from app.main import create_app
from app.response_cache import CachedAnswer, ResponseCache
from app.settings import Settings
from bench import queries
from bench.http_load import LoadResult, Server, load, request_bytes
from bench.organization import GeneratedOrganization
from bench.report import Row, Table

# The bound the memory measure fills (a fraction of the default RESPONSE_CACHE_BYTES: quick).
MEMORY_BOUND = 16 * 1024 * 1024


def checked(result: LoadResult) -> LoadResult:
    if result.failures:
        raise RuntimeError(f"HTTP failures: {result.failures}, first: {result.first_failure}")
    return result


async def floor_per_second(options: Any, dashboard: queries.Dashboard) -> float:
    """The plain Starlette endpoint returning floor (a)'s dashboard JSON, requests/s."""
    environment = {
        "BENCH_DATABASE_URL": options.database_url,
        "BENCH_CAMPAIGN": str(dashboard.campaign_id),
        "BENCH_ORGANIZATION": str(dashboard.organization_id),
        "BENCH_START": dashboard.start.isoformat(),
        "BENCH_TIMELINE": "1" if dashboard.with_timeline else "0",
    }
    request = request_bytes("GET", "/dashboard")
    with Server("bench.floor_app:create_app", environment) as server:
        await load(server.port, lambda _: request, options.http_clients, 1.0)
        result = await load(
            server.port, lambda _: request, options.http_clients, options.http_seconds
        )
    return checked(result).per_second


async def statements(
    options: Any, organization: GeneratedOrganization, body: bytes
) -> tuple[int, int]:
    """The statements of the dashboard over HTTP in-process: executed (cache cold), then from
    the cache (the key and the version check). Counted as SQLAlchemy sends them, plus those of
    SQLite's plain key-and-versions reader: on PostgreSQL reads run in autocommit, so there is no
    BEGIN or ROLLBACK besides."""
    database = Database.from_url(options.database_url)
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    app = create_app(Settings(database_url=options.database_url), database)
    headers = {
        "Authorization": f"Bearer {organization.admin_key}",
        "Content-Type": "application/json",
    }
    counts = []
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as client:
            event.listen(database.engine.sync_engine, "before_cursor_execute", record)
            # SQLite: a cached answer's key and versions are read on a plain sqlite3 connection
            # in the event loop, which the engine does not see; count its statements too.
            reader = database.quick_reader()
            if reader is not None:
                reader.set_trace_callback(sent.append)
            for _ in range(2):
                sent.clear()
                answer = await client.post("/graphql", content=body, headers=headers)
                if answer.status_code != 200 or "errors" in answer.json():
                    raise RuntimeError(f"dashboard failed: {answer.text[:300]}")
                counts.append(len(sent))
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)
        await database.dispose()
    return counts[0], counts[1]


def memory_at_bound(answer: bytes) -> tuple[int, int, int]:
    """Fill a cache of MEMORY_BOUND bytes with copies of a real answer under distinct keys:
    (bytes it accounts, bytes Python allocated for it per tracemalloc, entries held)."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    cache = ResponseCache(MEMORY_BOUND)
    number = 0
    while cache.evictions < 100:
        key = f"{number:064x}"
        cache.put(
            key, CachedAnswer(bytes(bytearray(answer)), f"1:c{number}.1", f'W/"{key[:32]}"', 0.0)
        )
        number += 1
    allocated = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return cache.bytes, allocated, len(cache)


async def measure_cache(
    table: Table,
    options: Any,
    organization: GeneratedOrganization,
    dashboard: queries.Dashboard,
) -> None:
    """The polling case (cache warm), the executed case (cache off), 304s, statements, memory."""
    query = queries.dashboard_query(dashboard.with_timeline)
    body = orjson.dumps({"query": query, "variables": dashboard.variables})
    headers = {
        "Authorization": f"Bearer {organization.admin_key}",
        "Content-Type": "application/json",
    }
    request = request_bytes("POST", "/graphql", body, headers)
    floor = await floor_per_second(options, dashboard)
    environment = {"DATABASE_URL": options.database_url, "LOG_LEVEL": "WARNING"}
    clients, seconds = options.http_clients, options.http_seconds

    with Server("app.main:create_app", environment) as server:
        await load(server.port, lambda _: request, clients, 1.0)
        warm = checked(await load(server.port, lambda _: request, clients, seconds))
        answer = urllib.request.urlopen(
            urllib.request.Request(
                f"http://127.0.0.1:{server.port}/graphql", data=body, headers=headers
            )
        )
        etag = answer.headers["ETag"]
        cached_body = answer.read()
        conditional = request_bytes("POST", "/graphql", body, {**headers, "If-None-Match": etag})
        revalidated = checked(
            await load(server.port, lambda _: conditional, clients, seconds, ok=304)
        )

    with Server("app.main:create_app", {**environment, "RESPONSE_CACHE_BYTES": "0"}) as server:
        await load(server.port, lambda _: request, clients, 1.0)
        executed = checked(await load(server.port, lambda _: request, clients, seconds))

    cold, hit = await statements(options, organization, body)
    name = f"{clients} clients, 1 uvicorn worker"
    row = table.add(
        Row(
            name=f"dashboard over HTTP, cache warm (polling), {name}",
            unit="/s",
            app=warm.per_second,
            floor_a=floor,
            statements=hit,
            target="≥ 2x plain floor",
        )
    )
    row.met = (row.ratio(floor) or 0) >= 2.0
    row = table.add(
        Row(
            name=f"dashboard over HTTP, executed every time (cache off), {name}",
            unit="/s",
            app=executed.per_second,
            floor_a=floor,
            statements=cold,
            target="≥ 0.5x plain floor",
        )
    )
    row.met = (row.ratio(floor) or 0) >= 0.5
    table.add(
        Row(
            name=f"dashboard revalidated with If-None-Match (304), {name}",
            unit="/s",
            app=revalidated.per_second,
            floor_a=floor,
            statements=hit,
        )
    )
    held, allocated, entries = await asyncio.to_thread(memory_at_bound, cached_body)
    row = table.add(
        Row(
            name=(
                f"response cache at its bound ({MEMORY_BOUND:,} bytes): {entries:,} dashboard "
                f"answers of {len(cached_body):,} bytes, bytes allocated (tracemalloc)"
            ),
            unit="",
            app=allocated,
            target=f"≤ bound ({held:,} accounted)",
        )
    )
    row.met = allocated <= MEMORY_BOUND
