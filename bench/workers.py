"""Several workers (issue 14): the dashboard executed every time over HTTP under
`campaign-graph serve --workers 2`, beside the one-worker figure and the plain floor of the run."""

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from types import TracebackType
from typing import IO, Any

import orjson

from bench import queries
from bench.cache import checked, floor_per_second
from bench.http_load import ROOT, free_port, load, request_bytes
from bench.organization import GeneratedOrganization
from bench.report import Row, Table

WORKERS = 2
# The row of bench/cache.py this one stands beside: the same request, cache off, one worker.
ONE_WORKER_ROW = "dashboard over HTTP, executed every time (cache off)"
# uvicorn logs this once per worker when its app has started (serve logs at INFO).
STARTED = b"Application startup complete."


class Serve:
    """`campaign-graph serve --workers N` in a child process, until every worker has started."""

    def __init__(self, workers: int, environment: dict[str, str]) -> None:
        self.workers = workers
        self.environment = environment
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log: IO[bytes] | None = None

    def __enter__(self) -> "Serve":
        self.log = tempfile.TemporaryFile()
        arguments = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *arguments, "--workers", str(self.workers)],
            cwd=ROOT,
            env=os.environ | self.environment | {"PYTHONPATH": str(ROOT)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        # The port answers as soon as one worker is up: wait for all of them, or the measure
        # would start with fewer workers than it names.
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}: {self.tail()}")
            if self.output().count(STARTED) >= self.workers and self.healthy():
                return self
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"serve --workers {self.workers} did not start: {self.tail()}")

    def healthy(self) -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
            return True
        except OSError:
            return False

    def output(self) -> bytes:
        if self.log is None:
            return b""
        self.log.seek(0)
        return self.log.read()

    def tail(self) -> str:
        return self.output()[-2000:].decode(errors="replace")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.process is not None:
            self.process.terminate()  # uvicorn's supervisor stops its workers
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log is not None:
            self.log.close()


async def measure_workers(
    table: Table,
    options: Any,
    organization: GeneratedOrganization,
    dashboard: queries.Dashboard,
) -> None:
    """The executed dashboard (cache off, as bench/cache.py's one-worker row) with WORKERS
    workers, from the same load generator; its floor is the plain floor of that row."""
    query = queries.dashboard_query(dashboard.with_timeline)
    body = orjson.dumps({"query": query, "variables": dashboard.variables})
    headers = {
        "Authorization": f"Bearer {organization.admin_key}",
        "Content-Type": "application/json",
    }
    request = request_bytes("POST", "/graphql", body, headers)
    one = next((row for row in table.rows if row.name.startswith(ONE_WORKER_ROW)), None)
    floor = one.floor_a if one and one.floor_a else await floor_per_second(options, dashboard)
    environment = {
        "DATABASE_URL": options.database_url,
        "LOG_LEVEL": "WARNING",
        "RESPONSE_CACHE_BYTES": "0",
    }
    clients, seconds = options.http_clients, options.http_seconds
    with Serve(WORKERS, environment) as server:
        await load(server.port, lambda _: request, clients, 1.0)
        executed = checked(await load(server.port, lambda _: request, clients, seconds))
    beside = ""
    if one is not None and one.app:
        gain = executed.per_second / one.app
        beside = f"; 1 worker: {one.app:,.0f}/s, {WORKERS} workers / 1: {gain:.2f}x"
    table.add(
        Row(
            name=(
                f"{ONE_WORKER_ROW}, {clients} clients, {WORKERS} uvicorn workers "
                f"(serve --workers {WORKERS})"
            ),
            unit="/s",
            app=executed.per_second,
            floor_a=floor,
            statements=one.statements if one else None,
            target=f"no target{beside}",
        )
    )
