"""`python -m bench --soak`: sustained ingest against one uvicorn worker, its memory sampled.

16 clients post canonical events (POST /events, about 5% of each batch replays events sent
before) while 4 pollers read the dashboard: 2 ask for exact answers, 2 accept answers up to 2 s
old (`Cache-Control: max-stale=2`, issue 14), side by side under the same ingest. The server's resident memory is read from
/proc/<pid>/status every few seconds; the report gives it after warm-up and at the end, the
dashboard's latency and requests/s during the ingest for each kind of poller, events/s, errors, and whether every distinct event sent
is stored exactly once.
"""

import asyncio
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench import queries
from bench.http_load import Server, _exchange, request_bytes
from bench.ingest import EventStream
from bench.organization import GeneratedOrganization
from bench.raw import RawDatabase
from bench.report import Row, Table

POSTERS = 16
POLLERS = 4
# Half the pollers accept answers this many seconds old (the response cache's max-stale).
MAX_STALE = 2
POLL_MODES = ("exact", f"max-stale={MAX_STALE}")
BATCH = 250
REPLAY_SHARE = 0.05
POLL_PAUSE = 0.5  # seconds between one poller's dashboard reads (--soak-poll-pause)
SAMPLE_EVERY = 5.0  # seconds between RSS samples
WARM_UP_SHARE = 0.25  # the RSS after this share of the events is the warm baseline
# Flat: growth from the warm baseline to the end within this many MiB (or 10% of the baseline).
GROWTH_BOUND_MIB = 48.0


def rss_mib(pid: int) -> float:
    """The process's resident set size (VmRSS) in MiB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class SoakResult:
    events_sent: int = 0  # events posted, replays included
    distinct: int = 0  # distinct events posted
    accepted: int = 0
    duplicates: int = 0
    post_errors: int = 0
    poll_errors: int = 0
    first_error: str = ""
    seconds: float = 0.0
    # Dashboard reads during ingest (ms), by poll mode; the largest age a stale one reported.
    latencies: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in POLL_MODES})
    oldest_age: int = 0
    poll_pause: float = POLL_PAUSE
    samples: list[tuple[float, int, float]] = field(default_factory=list)  # (s, events, MiB)
    stored: int = 0

    def rss_at(self, events: int) -> float:
        """The first sample taken once `events` were posted (the last one if none)."""
        for _, done, mib in self.samples:
            if done >= events:
                return mib
        return self.samples[-1][2] if self.samples else 0.0


class Poster:
    """The events of the soak: fresh ones from a stream, and some sent before again."""

    def __init__(self, organization: GeneratedOrganization, label: str, total: int) -> None:
        self.stream = EventStream(organization, label, seed=13)
        self.random = random.Random(13)
        self.total = total
        self.sent: list[dict[str, Any]] = []

    def batch(self) -> list[dict[str, Any]] | None:
        fresh = min(BATCH - int(BATCH * REPLAY_SHARE), self.total - len(self.sent))
        if fresh <= 0:
            return None
        events = self.stream.batch(fresh)
        replays = [self.random.choice(self.sent) for _ in range(BATCH - fresh)] if self.sent else []
        self.sent += events
        return events + replays


async def run_soak(  # noqa: PLR0917
    port: int,
    pid: int,
    organization: GeneratedOrganization,
    total: int,
    label: str,
    poll_pause: float = POLL_PAUSE,
) -> SoakResult:
    result = SoakResult(poll_pause=poll_pause)
    poster = Poster(organization, label, total)
    headers = {
        "Authorization": f"Bearer {organization.admin_key}",
        "Content-Type": "application/json",
    }
    dashboard = queries.Dashboard(
        organization.dashboard.id,
        organization.id,
        queries.hour_floor(organization.dashboard.sent_at),
        True,
    )
    document = orjson.dumps(
        {"query": queries.dashboard_query(True), "variables": dashboard.variables}
    )
    polls = {
        "exact": request_bytes("POST", "/graphql", document, headers),
        POLL_MODES[1]: request_bytes(
            "POST", "/graphql", document, {**headers, "Cache-Control": f"max-stale={MAX_STALE}"}
        ),
    }
    posting = True

    def failed(kind: str, status: int, body: bytes) -> None:
        result.first_error = result.first_error or f"{kind} {status}: {body[:300]!r}"

    async def exchange(connection: list[Any], request: bytes) -> tuple[int, bytes]:
        """One request on the client's keep-alive connection, reopened after a failure; a
        dropped connection answers status 0."""
        if not connection:
            connection += await asyncio.open_connection("127.0.0.1", port)
        try:
            return await _exchange(connection[0], connection[1], request)
        except (OSError, asyncio.IncompleteReadError) as exc:
            connection[1].close()
            connection.clear()
            return 0, repr(exc).encode()

    async def post() -> None:
        connection: list[Any] = []
        while (events := poster.batch()) is not None:
            result.events_sent += len(events)
            request = request_bytes("POST", "/events", orjson.dumps(events), headers)
            status, answer = await exchange(connection, request)
            if status != 200:
                result.post_errors += 1
                failed("POST /events", status, answer)
                continue
            counts = orjson.loads(answer)
            result.accepted += counts["accepted"]
            result.duplicates += counts["duplicates"]
        if connection:
            connection[1].close()

    async def read_dashboard(mode: str) -> None:
        connection: list[Any] = []
        while posting:
            began = time.perf_counter()
            status, answer = await exchange(connection, polls[mode])
            elapsed = (time.perf_counter() - began) * 1000
            if status != 200 or b'"errors"' in answer:
                result.poll_errors += 1
                failed(f"dashboard ({mode})", status, answer)
            else:
                result.latencies[mode].append(elapsed)
                if mode != "exact":
                    age = orjson.loads(answer).get("extensions", {}).get("cache", {}).get("age", 0)
                    result.oldest_age = max(result.oldest_age, int(age))
            await asyncio.sleep(poll_pause)
        if connection:
            connection[1].close()

    async def sample() -> None:
        began = time.perf_counter()
        while posting:
            result.samples.append((time.perf_counter() - began, len(poster.sent), rss_mib(pid)))
            await asyncio.sleep(SAMPLE_EVERY)

    began = time.perf_counter()
    watchers = [
        asyncio.create_task(read_dashboard(POLL_MODES[number % 2])) for number in range(POLLERS)
    ]
    watchers.append(asyncio.create_task(sample()))
    try:
        await asyncio.gather(*(post() for _ in range(POSTERS)))
    finally:
        result.seconds = time.perf_counter() - began
        result.samples.append((result.seconds, len(poster.sent), rss_mib(pid)))
        posting = False
        await asyncio.gather(*watchers)
    result.distinct = len(poster.sent)
    return result


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def soak(
    database_url: str,
    organization: GeneratedOrganization,
    total: int,
    say: Any,
    poll_pause: float = POLL_PAUSE,
) -> tuple[Table, list[str]]:
    """Run the soak against a server on `database_url`; the table and its description."""
    label = f"soak-{int(time.time() * 1000)}"
    say(f"soak: {total:,} events, {POSTERS} posting clients, {POLLERS} dashboard pollers")
    with Server(
        "app.main:create_app", {"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    ) as server:
        assert server.process is not None
        result = await run_soak(
            server.port, server.process.pid, organization, total, label, poll_pause
        )
    raw = await RawDatabase(database_url).connect()
    try:
        found = await raw.fetch(
            "SELECT count(*) FROM responses WHERE organization_id = ? AND event_key LIKE ?",
            organization.id,
            f"canonical:{label}-%",
        )
        result.stored = int(found[0][0])
    finally:
        await raw.close()
    return report(result, database_url, total)


def dashboard_rows(result: SoakResult, mode: str) -> list[Row]:
    """p50, p99 and requests/s of one kind of poller's dashboard reads during the ingest."""
    latencies = result.latencies[mode]
    clients = POLLERS // len(POLL_MODES)
    return [
        Row(f"dashboard p50 during ingest, {mode}", "ms", statistics.median(latencies or [0.0])),
        Row(
            f"dashboard p99 during ingest, {mode}",
            "ms",
            percentile(latencies, 0.99),
            target=f"max {max(latencies or [0.0]):.0f} ms, {len(latencies)} reads",
        ),
        Row(
            f"dashboards a second, {mode} ({clients} clients)",
            "/s",
            len(latencies) / result.seconds if result.seconds else 0.0,
        ),
    ]


def report(result: SoakResult, database_url: str, total: int) -> tuple[Table, list[str]]:
    backend = "SQLite" if database_url.startswith("sqlite") else "PostgreSQL"
    table = Table(f"{backend} soak, {total:,} events over POST /events")
    warm = result.rss_at(int(total * WARM_UP_SHARE))
    end = result.samples[-1][2] if result.samples else 0.0
    peak = max((mib for _, _, mib in result.samples), default=0.0)
    bound = max(GROWTH_BOUND_MIB, warm * 0.10)
    half = [s for s in result.samples if s[1] >= total // 2]
    slope = (
        (half[-1][2] - half[0][2]) / (half[-1][0] - half[0][0]) * 60
        if len(half) > 1 and half[-1][0] > half[0][0]
        else 0.0
    )
    rate = result.events_sent / result.seconds if result.seconds else 0.0
    rows = [
        Row("events posted a second (replays included)", "/s", rate),
        Row(f"server RSS after warm-up ({WARM_UP_SHARE:.0%} of the events)", " MiB", warm),
        Row("server RSS at the end (peak)", " MiB", end, target=f"peak {peak:.0f} MiB"),
        Row(
            "RSS growth after warm-up",
            " MiB",
            end - warm,
            target=f"≤ {bound:.0f} MiB (flat)",
            met=end - warm <= bound,
        ),
        Row("RSS slope over the second half", " MiB", slope, target="per minute"),
        *(row for mode in POLL_MODES for row in dashboard_rows(result, mode)),
        Row(
            f"largest age of a max-stale={MAX_STALE} answer",
            " s",
            result.oldest_age,
            target=f"≤ {MAX_STALE} s",
            met=result.oldest_age <= MAX_STALE,
        ),
        Row(
            "errors (POST /events, dashboard)",
            "",
            result.post_errors + result.poll_errors,
            target="0",
            met=result.post_errors + result.poll_errors == 0,
        ),
        Row(
            "distinct events sent / stored / accepted",
            "",
            result.distinct,
            target=f"stored {result.stored:,}, accepted {result.accepted:,}",
            met=result.stored == result.distinct == result.accepted,
        ),
    ]
    for row in rows:
        table.add(row)
    if result.first_error:
        table.notes.append(f"first error: {result.first_error}")
    header = [
        f"{result.events_sent:,} events posted ({result.distinct:,} distinct, "
        f"{result.events_sent - result.distinct:,} replays: {result.duplicates:,} answered as "
        f"duplicates) in batches of {BATCH} by {POSTERS} clients over {result.seconds:.0f} s; "
        f"{POLLERS} clients read the dashboard meanwhile, each pausing {result.poll_pause:g} s after an "
        f"answer ({POLLERS // 2} exact, {POLLERS // 2} with `Cache-Control: max-stale={MAX_STALE}`); "
        "one uvicorn worker in its own process",
        f"RSS samples every {SAMPLE_EVERY:g} s (MiB): "
        + ", ".join(
            f"{mib:.0f}" for _, _, mib in result.samples[:: max(1, len(result.samples) // 24)]
        ),
    ]
    return table, header
