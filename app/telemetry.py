"""Process telemetry for operators: one app's Prometheus counters, histograms and gauges."""

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

# The `*_created` series double the output and no dashboard or alert of ours reads them.
# (A process-wide switch of prometheus_client; nothing else in the process uses it.)
disable_created_metrics()

PREFIX = "campaign_graph"
OUTCOMES = ("accepted", "duplicate", "unmatched", "refused")
# Operation names are chosen by clients: past this many distinct names a new one is counted as
# OTHER_OPERATION, so a client cannot grow the registry without bound.
MAX_OPERATION_NAMES = 200
OTHER_OPERATION = "<other>"
ANONYMOUS_OPERATION = "<anonymous>"
UNKNOWN_TYPE = "<unknown>"  # no operation could be read (a syntax error, no query)
NO_CODE = "<none>"  # an error without extensions.code (e.g. graphql-core's validation errors)

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A batch holds up to MAX_BATCH_EVENTS events: seconds, not milliseconds, at its largest.
INGEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class IngestCounts(Protocol):
    accepted: int
    duplicates: int
    unmatched: int


class PoolCollector(Collector):
    """The engine's connection pool, read at scrape time (the pool keeps the numbers)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def describe(self) -> Iterable[Metric]:
        return []  # nothing to read at registration; names cannot clash in an own registry

    def collect(self) -> Iterator[Metric]:
        # The pool is looked up each time: dispose() replaces it.
        pool: Any = self.engine.pool
        if not hasattr(pool, "checkedout"):
            return  # a pool without a size (NullPool, StaticPool): nothing to report
        yield GaugeMetricFamily(
            f"{PREFIX}_db_pool_checked_out",
            "Database connections in use now.",
            value=pool.checkedout(),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_db_pool_size",
            "Connections the pool keeps open; up to max_overflow more are opened under load.",
            value=pool.size(),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_db_pool_max_overflow",
            "Connections the pool may open beyond its size.",
            value=getattr(pool, "_max_overflow", 0),
        )


class Telemetry:
    """One app's metrics, in a registry of its own: apps made in one process (the tests make
    hundreds) never share or re-register a metric, and each /metrics shows only its app."""

    def __init__(self, engine: AsyncEngine | None = None, sources: Iterable[str] = ()) -> None:
        self.registry = registry = CollectorRegistry()
        self.http_requests = Counter(
            f"{PREFIX}_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.graphql_operations = Counter(
            f"{PREFIX}_graphql_operations",
            "GraphQL operations, by operation name and type.",
            ["operation", "type"],
            registry=registry,
        )
        self.graphql_errors = Counter(
            f"{PREFIX}_graphql_errors",
            "Errors in GraphQL results, by operation and extensions.code.",
            ["operation", "type", "code"],
            registry=registry,
        )
        self.graphql_duration = Histogram(
            f"{PREFIX}_graphql_operation_duration_seconds",
            "Time to run a query or mutation (parsing to result), by operation.",
            ["operation", "type"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        self.events = Counter(
            f"{PREFIX}_events",
            "Events received, by source and outcome. `refused` counts the events of a request "
            "refused whole; a request whose events could not be read counts as one.",
            ["source", "outcome"],
            registry=registry,
        )
        self.ingest_duration = Histogram(
            f"{PREFIX}_ingest_batch_duration_seconds",
            "Time to store one batch of events (its write transaction, retries included).",
            ["source"],
            buckets=INGEST_BUCKETS,
            registry=registry,
        )
        self.live_subscriptions = Gauge(
            f"{PREFIX}_live_subscriptions",
            "GraphQL subscriptions open now.",
            registry=registry,
        )
        # Every source and outcome from the start at 0, so rate() and alerts see the first event.
        for source in sources:
            for outcome in OUTCOMES:
                self.events.labels(source, outcome)
        self._operation_names: set[str] = set()
        self._operation_series: dict[tuple[str, str], tuple[Any, Any]] = {}
        if engine is not None:
            registry.register(PoolCollector(engine))
        # The process's memory, CPU, file descriptors, GC and Python version: collectors that
        # read the process at scrape time, shared by every registry.
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            registry.register(collector)

    def ingested(self, source: str, result: IngestCounts, seconds: float) -> None:
        """A batch was stored: its events by outcome and the time it took."""
        events = self.events
        if result.accepted:
            events.labels(source, "accepted").inc(result.accepted)
        if result.duplicates:
            events.labels(source, "duplicate").inc(result.duplicates)
        if result.unmatched:
            events.labels(source, "unmatched").inc(result.unmatched)
        self.ingest_duration.labels(source).observe(seconds)

    def refused(self, source: str, events: int = 1) -> None:
        """A request of `events` events was refused whole (1 when they could not be read)."""
        self.events.labels(source, "refused").inc(events)

    def operation_label(self, name: str | None) -> str:
        """The label of an operation name, bounded in number (see MAX_OPERATION_NAMES)."""
        if not name:
            return ANONYMOUS_OPERATION
        names = self._operation_names
        if name in names:
            return name
        if len(names) >= MAX_OPERATION_NAMES:
            return OTHER_OPERATION
        names.add(name)
        return name

    def graphql_operation(
        self, name: str | None, kind: str, error_codes: Iterable[str], seconds: float | None
    ) -> None:
        """An operation ended: count it, its errors by code and (unless a subscription, which
        lasts as long as its client wants) its duration."""
        operation = self.operation_label(name)
        series = self._operation_series.get((operation, kind))
        if series is None:
            # A dict lookup per operation instead of two labels() calls; bounded like the names.
            series = self._operation_series[(operation, kind)] = (
                self.graphql_operations.labels(operation, kind),
                self.graphql_duration.labels(operation, kind),
            )
        series[0].inc()
        for code in error_codes:
            self.graphql_errors.labels(operation, kind, code).inc()
        if seconds is not None:
            series[1].observe(seconds)


def telemetry_of(request: Any) -> Telemetry | None:
    """The telemetry of the app serving this request or websocket; None outside an app (a
    schema executed directly, as some tests do)."""
    scope = getattr(request, "scope", None)
    app = scope.get("app") if scope is not None else None
    return getattr(getattr(app, "state", None), "telemetry", None)


def count_events(request: Any, source: str, outcome: str, events: int = 1) -> None:
    """Count events of `source` for the app serving `request` (nothing outside an app)."""
    telemetry = telemetry_of(request)
    if telemetry is not None:
        telemetry.events.labels(source, outcome).inc(events)
