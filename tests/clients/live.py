"""A live server for real clients: the app under uvicorn on a free port, and Node.js scripts run
against it (the graphql-http audit, graphql-ws, headless Chromium through playwright-core).

Real clients see what Python's tolerance hides (binary WebSocket frames, a page that loads its
scripts from a CDN). Without Node.js, its packages (`make clients`) or Chromium these tests are
skipped, unless CAMPAIGN_GRAPH_REQUIRE_CLIENTS=1 (CI), where they fail instead.
"""

import asyncio
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from app.main import create_app
from app.settings import Settings
from tests.postgres_server import free_port

CLIENTS = Path(__file__).parent
NODE_MODULES = CLIENTS / "node_modules"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def missing(what: str) -> None:
    """Skip, or fail when CI requires the real clients."""
    if os.environ.get("CAMPAIGN_GRAPH_REQUIRE_CLIENTS") == "1":
        pytest.fail(f"{what} is required (CAMPAIGN_GRAPH_REQUIRE_CLIENTS=1) but missing")
    pytest.skip(f"{what} is missing")


def require_node() -> str:
    node = shutil.which("node")
    if node is None:
        missing("Node.js")
    if not NODE_MODULES.exists():
        missing("tests/clients/node_modules (make clients)")
    return str(node)


def require_chromium() -> str:
    if CHROMIUM is None:
        missing("Chromium")
    return str(CHROMIUM)


def artifacts_folder() -> Path:
    """Where screenshots are kept (CI keeps this folder as artifacts)."""
    folder = Path(os.environ.get("CAMPAIGN_GRAPH_ARTIFACTS", CLIENTS.parents[1] / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class LiveServer:
    """The app under uvicorn in a thread of its own (its own event loop and engine)."""

    def __init__(self, database_url: str, settings: dict[str, Any] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(Settings(database_url=database_url, **(settings or {})))
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()))

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=1)
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the live server did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def run_node(script: str, env: dict[str, str], timeout: float = 120) -> dict[str, Any]:
    """Run `tests/clients/<script>` with Node.js; its last stdout line is a JSON report."""
    node = require_node()
    completed = subprocess.run(
        [node, str(CLIENTS / script)],
        cwd=CLIENTS,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = completed.stdout.strip().splitlines()
    assert completed.returncode == 0 and lines, (
        f"{script} exited with {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
    )
    report: dict[str, Any] = json.loads(lines[-1])
    return report
