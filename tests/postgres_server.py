"""A throwaway PostgreSQL server on 127.0.0.1 for the test suite.

PostgreSQL refuses to run as root, so under root (CI) the server runs as the `postgres` user that
Debian's package creates. One process starts it; `state()` and `from_state()` let another process
(the xdist controller) stop it.
"""

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def find_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl, if PostgreSQL's server is installed."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists() and Path(folder, "pg_ctl").exists():
            return Path(folder)
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayPostgres:
    """initdb into a temporary folder, start on a free port, stop and delete on `stop()`."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="campaign-graph-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, cwd=self.folder)

    def start(self) -> "ThrowawayPostgres":
        self._run(
            str(self.binaries / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--no-locale",
        )  # fmt: skip
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c max_connections=300 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.binaries / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.folder / "server.log"), "-w", "start",
        )  # fmt: skip
        return self

    def state(self) -> str:
        """What another process needs to stop this server: JSON of binaries, folder and port."""
        return json.dumps(
            {"binaries": str(self.binaries), "folder": str(self.folder), "port": self.port}
        )

    @classmethod
    def from_state(cls, state: str) -> "ThrowawayPostgres":
        values = json.loads(state)
        server = cls.__new__(cls)
        server.binaries = Path(values["binaries"])
        server.folder = Path(values["folder"])
        server.data = server.folder / "data"
        server.port = int(values["port"])
        server.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return server

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            self._run(
                str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"
            )
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
