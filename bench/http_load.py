"""A small HTTP/1.1 load generator (keep-alive, N concurrent connections) and a uvicorn runner.

The client is plain asyncio streams so that, on a 2-core machine, it takes as little CPU from the
server as possible.
"""

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def request_bytes(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: bench"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class LoadResult:
    requests: int
    seconds: float
    failures: int
    first_failure: str = ""

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def load(
    port: int,
    next_request: Callable[[int], bytes | None],
    concurrency: int,
    seconds: float | None = None,
    ok: int = 200,
) -> LoadResult:
    """Send requests on `concurrency` keep-alive connections until `next_request` returns None
    or `seconds` have passed; count the answers with status `ok` (200 unless told)."""
    done = 0
    failures = 0
    first_failure = ""
    counter = iter(range(1 << 62))
    deadline = time.perf_counter() + seconds if seconds else None

    async def client() -> None:
        nonlocal done, failures, first_failure
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while deadline is None or time.perf_counter() < deadline:
                request = next_request(next(counter))
                if request is None:
                    return
                status, body = await _exchange(reader, writer, request)
                if status == ok:
                    done += 1
                else:
                    failures += 1
                    first_failure = first_failure or f"{status}: {body[:300]!r}"
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return LoadResult(done, time.perf_counter() - began, failures, first_failure)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """`uvicorn --factory <factory>` with one worker, in a child process."""

    def __init__(self, factory: str, environment: dict[str, str]) -> None:
        self.factory = factory
        self.environment = environment
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Server":
        environment = os.environ | self.environment | {"PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                self.factory,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--no-access-log",
                "--log-level",
                "warning",
            ],  # fmt: skip
            cwd=ROOT,
            env=environment,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.factory} exited with {self.process.returncode}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.factory} did not start")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
