"""One benchmark run: generate, check, measure every query and ingest beside its floors."""

import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event

from app.database import Database
from app.ingest.apply import apply_events
from app.ingest.events import parse_events
from app.migrate import upgrade
from app.reconcile import reconcile
from bench import queries
from bench.cache import measure_cache
from bench.http_load import Server, load, request_bytes
from bench.ingest import FLOOR_DESCRIPTION, EventStream, PlainIngest, write_events_file
from bench.organization import GeneratedOrganization, generate
from bench.raw import RawDatabase
from bench.report import Row, Table
from bench.workers import measure_workers
from resolvers.context import Context


@dataclass
class Options:
    database_url: str
    recipients: int
    small_recipients: int = 1000
    list_campaigns: int = 118
    list_recipients: int = 50
    repetitions: int = 30
    seconds_per_measure: float = 20.0
    http_seconds: float = 5.0
    http_clients: int = 16
    ingest_batches: int = 10
    http_ingest_batches: int = 20
    http_ingest_clients: int = 4
    http: bool = True
    reconcile_limit: int = 20_000
    # `--soak`: this many events posted against a server instead of the measures (bench/soak.py).
    soak_events: int | None = None
    soak_poll_pause: float = 0.5  # seconds each dashboard poller waits after an answer
    # `--ingest-file N`: write N canonical events to `ingest_output` instead of the measures.
    ingest_file: int | None = None
    ingest_output: str = "events.ndjson"
    progress: bool = True
    # A file describing a generated organization: written after generating, read to skip it.
    keep: str | None = None
    reuse: str | None = None


def say(options: Options, message: str) -> None:
    if options.progress:
        print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


async def median_ms(
    run: Callable[[], Awaitable[Any]], repetitions: int, seconds: float, warmup: int = 2
) -> float:
    """The median wall time of `run` in milliseconds (at least 3 runs, at most `seconds`)."""
    for _ in range(warmup):
        await run()
    times = []
    deadline = time.perf_counter() + seconds
    for number in range(repetitions):
        began = time.perf_counter()
        await run()
        times.append(time.perf_counter() - began)
        if number >= 2 and time.perf_counter() > deadline:
            break
    return statistics.median(times) * 1000


@contextmanager
def counting(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)


def has_field(sdl: str, type_name: str, field_name: str) -> bool:
    block = sdl.split(f"type {type_name} implements", 1)[-1].split("\n}", 1)[0]
    return f"\n  {field_name}(" in block or f"\n  {field_name}:" in block


class App:
    """The app's schema in-process, as a request would run it."""

    def __init__(self, database: Database, organization: GeneratedOrganization) -> None:
        from schema.root import schema

        self.schema = schema
        self.database = database
        self.organization = organization

    async def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        context = Context(self.database, self.organization.principal)
        result = await self.schema.execute(query, variable_values=variables, context_value=context)
        if result.errors:
            raise RuntimeError(f"GraphQL errors: {result.errors}")
        orjson.dumps(result.data)
        return result.data  # type: ignore[return-value]

    async def statements(self, query: str, variables: dict[str, Any]) -> int:
        await self.execute(query, variables)
        with counting(self.database) as statements:
            await self.execute(query, variables)
        return len(statements)


async def measure_query(
    table: Table,
    options: Options,
    app: App,
    raw: RawDatabase,
    execution: queries.ExecutionFloor,
    name: str,
    query: str,
    variables: dict[str, Any],
    data: Callable[[], Awaitable[dict[str, Any]]],
    floor_statements: int,
    target: str = "",
    limit: float | None = None,
) -> Row:
    """One query: app in-process, floor (a), floor (b), and the app's statement count."""
    expected = await data()
    got = await app.execute(query, variables)
    if got != expected:
        raise AssertionError(f"{name}: the app's answer differs from the floor's")
    floor_a, floor_b = queries.floors(raw, execution, query, variables, data)
    reps, seconds = options.repetitions, options.seconds_per_measure
    say(options, f"measuring {name}")
    row = Row(
        name=name,
        unit="ms",
        app=await median_ms(lambda: app.execute(query, variables), reps, seconds),
        floor_a=await median_ms(floor_a, reps, seconds),
        floor_b=await median_ms(floor_b, reps, seconds),
        statements=await app.statements(query, variables),
        floor_statements=floor_statements,
        target=target,
    )
    if limit is not None:
        row.met = (row.ratio(row.floor_b) or 0) <= limit
    return table.add(row)


async def measure_http_dashboard(
    table: Table,
    options: Options,
    organization: GeneratedOrganization,
    dashboard: queries.Dashboard,
) -> None:
    query = queries.dashboard_query(dashboard.with_timeline)
    body = orjson.dumps({"query": query, "variables": dashboard.variables})
    graphql_request = request_bytes(
        "POST",
        "/graphql",
        body,
        {"Authorization": f"Bearer {organization.admin_key}", "Content-Type": "application/json"},
    )
    floor_request = request_bytes("GET", "/dashboard")
    say(options, "measuring the dashboard over HTTP")
    with Server(
        "app.main:create_app", {"DATABASE_URL": options.database_url, "LOG_LEVEL": "WARNING"}
    ) as server:
        await load(server.port, lambda _: graphql_request, options.http_clients, 1.0)
        app_result = await load(
            server.port, lambda _: graphql_request, options.http_clients, options.http_seconds
        )
    environment = {
        "BENCH_DATABASE_URL": options.database_url,
        "BENCH_CAMPAIGN": str(dashboard.campaign_id),
        "BENCH_ORGANIZATION": str(dashboard.organization_id),
        "BENCH_START": dashboard.start.isoformat(),
        "BENCH_TIMELINE": "1" if dashboard.with_timeline else "0",
    }
    with Server("bench.floor_app:create_app", environment) as server:
        await load(server.port, lambda _: floor_request, options.http_clients, 1.0)
        floor_result = await load(
            server.port, lambda _: floor_request, options.http_clients, options.http_seconds
        )
    for result in (app_result, floor_result):
        if result.failures:
            raise RuntimeError(f"HTTP failures: {result.failures}, first: {result.first_failure}")
    row = table.add(
        Row(
            name=f"dashboard over HTTP, {options.http_clients} clients, 1 uvicorn worker",
            unit="/s",
            app=app_result.per_second,
            floor_a=floor_result.per_second,
            target="≥ 400 requests/s",
        )
    )
    row.met = (row.app or 0) >= 400


async def measure_ingest(
    table: Table,
    options: Options,
    database: Database,
    raw: RawDatabase,
    organization: GeneratedOrganization,
) -> None:
    label = f"bench-{int(time.time() * 1000)}"
    say(options, "measuring ingest in-process and its floor")
    stream = EventStream(organization, f"{label}-app", seed=1)
    batches = [stream.batch(1000) for _ in range(options.ingest_batches + 1)]
    statement_counts = []

    async def ingest(batch: list[dict[str, Any]]) -> None:
        events, problems = parse_events(batch, datetime.now(UTC))
        assert not problems, problems
        async with database.write() as connection:
            result = await apply_events(connection, organization.id, events)
        assert result.accepted == len(batch), result

    await ingest(batches[0])  # warm-up
    times = []
    for batch in batches[1:]:
        with counting(database) as statements:
            began = time.perf_counter()
            await ingest(batch)
            times.append(time.perf_counter() - began)
        statement_counts.append(len(statements))
    app_rate = 1000 / statistics.median(times)

    floor_stream = EventStream(organization, f"{label}-floor", seed=2)
    plain = PlainIngest(raw, organization, organization.dashboard.link_ids)
    floor_batches = [floor_stream.numbered_batch(1000) for _ in range(options.ingest_batches + 1)]
    await plain.apply(floor_batches[0])
    floor_times = []
    floor_statements = 0
    for numbered in floor_batches[1:]:
        sent = raw.sent
        began = time.perf_counter()
        await plain.apply(numbered)
        floor_times.append(time.perf_counter() - began)
        floor_statements = max(floor_statements, raw.sent - sent)
    floor_rate = 1000 / statistics.median(floor_times)
    row = table.add(
        Row(
            name="ingest in-process (parse + apply), batches of 1,000, events/s",
            unit="/s",
            app=app_rate,
            floor_a=floor_rate,
            statements=max(statement_counts),
            floor_statements=floor_statements,
            target="≥ 0.6x floor (a)",
        )
    )
    row.met = (row.ratio(row.floor_a) or 0) >= 0.6
    table.notes.append(FLOOR_DESCRIPTION + " (its statements: without BEGIN and COMMIT).")
    if min(statement_counts) != max(statement_counts):
        table.notes.append(
            f"ingest statements per batch varied: {min(statement_counts)}-{max(statement_counts)}"
        )

    if not options.http:
        return
    say(options, "measuring ingest over HTTP")
    http_stream = EventStream(organization, f"{label}-http", seed=3)
    headers = {
        "Authorization": f"Bearer {organization.admin_key}",
        "Content-Type": "application/json",
    }
    warmup = [request_bytes("POST", "/events", orjson.dumps(http_stream.batch(500)), headers)]
    bodies = [
        request_bytes("POST", "/events", orjson.dumps(http_stream.batch(500)), headers)
        for _ in range(options.http_ingest_batches)
    ]
    with Server(
        "app.main:create_app", {"DATABASE_URL": options.database_url, "LOG_LEVEL": "WARNING"}
    ) as server:
        await load(server.port, lambda i: warmup[i] if i < 1 else None, 1)
        result = await load(
            server.port,
            lambda i: bodies[i] if i < len(bodies) else None,
            options.http_ingest_clients,
        )
    if result.failures:
        raise RuntimeError(f"POST /events failed: {result.first_failure}")
    row = table.add(
        Row(
            name=f"ingest over POST /events, batches of 500, {options.http_ingest_clients} clients, events/s",
            unit="/s",
            app=result.requests * 500 / result.seconds,
            floor_a=floor_rate,
            target="≥ 0.5x floor (a)",
        )
    )
    row.met = (row.ratio(row.floor_a) or 0) >= 0.5


async def prepare_database(options: Options) -> None:
    await asyncio.to_thread(upgrade, options.database_url)


async def run(options: Options) -> tuple[Table, list[str]]:
    """The whole benchmark; the table and the lines that describe the run."""
    await prepare_database(options)
    database = Database.from_url(options.database_url)
    backend = "SQLite" if database.sqlite else "PostgreSQL"
    try:
        if options.reuse:
            say(options, f"reusing the organization described in {options.reuse} on {backend}")
        else:
            say(options, f"generating {options.recipients:,} recipients on {backend}")

        def progress(campaign: int, done: int, total: int) -> None:
            if total >= 100_000 and done % 100_000 < 20_000:
                say(options, f"  campaign {campaign}: {done:,}/{total:,} recipients")

        if options.reuse:
            organization = load_organization(options.reuse)
            options.recipients = organization.dashboard.recipients
        else:
            organization = await generate(
                database,
                options.database_url,
                options.recipients,
                small_recipients=options.small_recipients,
                list_campaigns=options.list_campaigns,
                list_recipients=options.list_recipients,
                progress=progress,
            )
        if options.keep:
            save_organization(options.keep, organization)
        say(options, f"generated in {organization.seconds:.0f} s; reconciling")
        checked = [organization.small.id, organization.list_campaign_ids[0]]
        if organization.dashboard.recipients <= options.reconcile_limit:
            checked.insert(0, organization.dashboard.id)
        async with database.read() as connection:
            for campaign_id in checked:
                drift = await reconcile(connection, campaign_id)
                if drift:
                    raise AssertionError(
                        f"the loader left drift in campaign {campaign_id}: {drift[:5]}"
                    )

        table = Table(f"{backend}, {options.recipients:,} recipients in the dashboard campaign")
        header = [
            f"machine: {machine_line()}",
            f"organization: {organization.total_recipients:,} recipients in "
            f"{2 + options.list_campaigns} campaigns, {organization.contacts:,} contacts, "
            f"{organization.total_responses:,} responses; loaded in {organization.seconds:.0f} s",
            f"reconcile: no drift in campaigns {checked} (the dashboard campaign is checked up to "
            f"{options.reconcile_limit:,} recipients)",
            f"repetitions: up to {options.repetitions} per measure (median), "
            f"{options.http_seconds:g} s per HTTP measure",
            f"load average at the start of the measures: {load_average()}",
        ]
        if options.ingest_file:
            return await events_file(options, organization, header[:2])
        if options.soak_events:
            return await soak_run(options, database, organization, header[:2])
        gc.collect()
        gc.freeze()
        await measure_all(table, options, database, organization)
        return table, header
    finally:
        await database.dispose()


async def events_file(
    options: Options, organization: GeneratedOrganization, header: list[str]
) -> tuple[Table, list[str]]:
    """A file of canonical events for `campaign-graph ingest`, and how to replay it."""
    path = Path(options.ingest_output).resolve()
    say(options, f"writing {options.ingest_file:,} events to {path}")
    write_events_file(organization, path, options.ingest_file or 0)
    raw = await RawDatabase(options.database_url).connect()
    try:
        found = await raw.fetch("SELECT name FROM organizations WHERE id = ?", organization.id)
    finally:
        await raw.close()
    command = (
        f"DATABASE_URL={options.database_url} campaign-graph ingest {path} --org '{found[0][0]}'"
    )
    table = Table(f"{options.ingest_file:,} events written to {path.name}")
    return table, [*header, f"replay: `{command}`"]


async def soak_run(
    options: Options, database: Database, organization: GeneratedOrganization, header: list[str]
) -> tuple[Table, list[str]]:
    """The soak (bench/soak.py), then the dashboard campaign reconciled when small enough."""
    from bench.soak import soak

    table, lines = await soak(
        options.database_url,
        organization,
        options.soak_events or 0,
        lambda m: say(options, m),
        options.soak_poll_pause,
    )
    header += lines
    if organization.dashboard.recipients <= options.reconcile_limit:
        say(options, "reconciling the dashboard campaign after the soak")
        async with database.read() as connection:
            drift = await reconcile(connection, organization.dashboard.id)
        header.append(f"reconcile after the soak: {len(drift)} drifting aggregate rows")
        if drift:
            table.notes.append(f"drift after the soak: {drift[:5]}")
    return table, header


def save_organization(path: str, organization: GeneratedOrganization) -> None:
    import pickle

    with open(path, "wb") as handle:
        pickle.dump(organization, handle)


def load_organization(path: str) -> GeneratedOrganization:
    import pickle

    with open(path, "rb") as handle:
        return pickle.load(handle)  # type: ignore[no-any-return]


def load_average() -> str:
    import os

    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def machine_line() -> str:
    from bench.report import machine

    return machine()


async def measure_all(
    table: Table, options: Options, database: Database, organization: GeneratedOrganization
) -> None:
    app = App(database, organization)
    raw = await RawDatabase(options.database_url).connect()
    try:
        sdl = app.schema.as_str()
        execution = queries.ExecutionFloor(sdl)
        with_timeline = has_field(sdl, "Campaign", "timeline")
        if not with_timeline:
            table.notes.append(
                "Campaign.timeline is not in the schema yet: the dashboard runs without it."
            )
        dashboards = {}
        for label, shape in (
            (f"{organization.dashboard.recipients:,}", organization.dashboard),
            (f"{organization.small.recipients:,}", organization.small),
        ):
            dashboard = queries.Dashboard(
                shape.id, organization.id, queries.hour_floor(shape.sent_at), with_timeline
            )
            dashboards[label] = dashboard
            query = queries.dashboard_query(with_timeline)
            await measure_query(
                table, options, app, raw, execution,
                f"dashboard in-process, {label} recipients", query, dashboard.variables,
                lambda d=dashboard: queries.dashboard_data(raw, d),
                floor_statements=5 if with_timeline else 4,
                target="≤ 2x floor (b)", limit=2.0,
            )  # fmt: skip
        big, small = (table.rows[-2], table.rows[-1])
        ratio_row = table.add(
            Row(
                name=f"dashboard latency {big.name.split(', ')[1]} / {small.name.split(', ')[1]}",
                unit="x",
                app=(big.app or 0) / (small.app or 1),
                statements=big.statements,
                floor_statements=small.statements,
                target="< 1.5, statements equal",
            )
        )
        ratio_row.met = (ratio_row.app or 0) < 1.5 and big.statements == small.statements

        if options.http:
            await measure_http_dashboard(
                table, options, organization, next(iter(dashboards.values()))
            )
            # The response cache (issue 14): warm, off, 304s, statements, memory at its bound.
            await measure_cache(table, options, organization, next(iter(dashboards.values())))
            # serve --workers 2 (issue 14): the executed dashboard beside its one-worker figure.
            await measure_workers(table, options, organization, next(iter(dashboards.values())))

        await measure_query(
            table, options, app, raw, execution,
            "campaigns(first: 100) with stats, variants{stats}, links{clicks}",
            queries.CAMPAIGNS_QUERY, {},
            lambda: queries.campaigns_data(raw, organization.id),
            floor_statements=5, target="≤ 1.5x floor (b)", limit=1.5,
        )  # fmt: skip
        if has_field(sdl, "Campaign", "recipients"):
            for shape in (organization.dashboard, organization.small):
                variables = {"id": queries.global_id("Campaign", shape.id)}
                await measure_query(
                    table, options, app, raw, execution,
                    f"recipients(first: 500) page, {shape.recipients:,} recipients",
                    queries.RECIPIENTS_QUERY, variables,
                    lambda s=shape: queries.recipients_data(raw, s.id, organization.id),
                    floor_statements=1, target="≤ 1.5x floor (b)", limit=1.5,
                )  # fmt: skip
        else:
            table.notes.append(
                "Campaign.recipients is not in the schema yet: no recipients page row."
            )

        await measure_ingest(table, options, database, raw, organization)
    finally:
        await raw.close()
