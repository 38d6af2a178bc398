"""`campaign-graph serve --workers 2`: live statistics reach a subscriber whichever worker took
the write (SQLite: the per-process poller of the data versions, at most a second behind;
PostgreSQL: LISTEN/NOTIFY), and the access log is off unless asked for.

Which worker takes a connection is the kernel's choice, so the test finds out: the server side of
a connection is a socket that one worker process holds (/proc on Linux).
"""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from app.enums import Role
from tests.factories import Organization, event, make_campaign, post_events
from tests.postgres_server import free_port
from tests.test_subscriptions import next_stats, subscribed

PROJECT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")


def children(parent: int) -> list[int]:
    """Process ids whose parent is `parent`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == parent:
                found.append(int(entry))
    return found


def worker_of(server: subprocess.Popen[bytes], port: int, client_port: int) -> int | None:
    """The worker process holding the server side of the connection from `client_port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.rsplit(":", 1)[1], 16) == port and (
                int(remote.rsplit(":", 1)[1], 16) == client_port
            ):
                inodes.add(f"socket:[{fields[9]}]")
    for pid in children(server.pid):
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(f"/proc/{pid}/fd/{descriptor}") in inodes:
                    return pid
            except OSError:
                continue
    return None


@contextmanager
def serve(database_url: str, *options: str) -> Iterator[tuple[str, int, subprocess.Popen[bytes]]]:
    """`campaign-graph serve` in a process of its own; (base URL, port, process)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), *options],
        cwd=PROJECT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}", port, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90  # a loaded machine imports the app slowly
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the server exited"
            try:
                if (await http.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{base} did not start")


def client_port(response: httpx.Response) -> int:
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


async def test_a_subscriber_hears_a_write_taken_by_another_worker(
    database_url: str, organization: Organization
) -> None:
    with serve(database_url, "--workers", "2") as (base, port, server):
        await wait_healthy(base, server)
        async with httpx.AsyncClient(base_url=base) as http:
            campaign_id = await make_campaign(http, organization, "workers")
        url = base.replace("http://", "ws://") + "/graphql"
        async with subscribed(url, organization.keys[Role.VIEWER], campaign_id) as socket:
            assert (await next_stats(socket, timeout=30))["sent"] == 0
            listening = worker_of(server, port, socket.local_address[1])
            assert listening is not None
            # New connections until one is taken by the other worker; the events go over it.
            deadline = time.monotonic() + 90
            while True:
                assert time.monotonic() < deadline, "no connection reached the second worker"
                async with httpx.AsyncClient(base_url=base) as http:
                    probe = await http.get("/healthz")
                    taken_by = worker_of(server, port, client_port(probe))
                    if taken_by is None or taken_by == listening:
                        continue
                    posted_at = time.monotonic()
                    answer = await post_events(
                        http,
                        organization,
                        [
                            event("SENT", "ann@example.com", campaign="workers", id="w1"),
                            event("SENT", "bob@example.com", campaign="workers", id="w2"),
                            event("OPENED", "ann@example.com", campaign="workers", id="w3"),
                        ],
                    )
                    assert answer.status_code == 200, answer.text
                    assert client_port(answer) == client_port(probe)  # the same connection
                    break
            stats = await next_stats(socket, timeout=10)
            heard_after = time.monotonic() - posted_at
    # ann and bob were sent it, ann opened: 1 of 2 sent opened.
    assert (stats["sent"], stats["opened"], stats["openRate"]) == (2, 1, 0.5)
    # SQLite: one poll (at most a second) plus the read; PostgreSQL: NOTIFY, at once.
    assert heard_after < 2.5, heard_after


async def test_the_access_log_is_off_unless_asked_for(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'log.db'}"  # serve migrates it first
    for options, logged in (((), False), (("--access-log",), True)):
        with serve(database_url, *options) as (base, _, server):
            await wait_healthy(base, server)
            async with httpx.AsyncClient(base_url=base) as http:
                assert (await http.get("/healthz")).status_code == 200
            server.terminate()
            output, _ = server.communicate(timeout=20)
        assert (b'"GET /healthz HTTP/1.1" 200' in output) is logged, output.decode()
