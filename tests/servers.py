"""Real server processes for integration tests: `mlflow server` and `prefect server start` on 127.0.0.1.

Each starts on a free port in its own process group, is polled until its health endpoint answers, and is always
terminated (SIGTERM to the group, then SIGKILL) when the `with` block ends; if it never becomes healthy, the test
fails with the end of its log.

    with mlflow_server(tmp_path) as url:   # http://127.0.0.1:PORT  (MLFLOW_TRACKING_URI)
    with prefect_server(tmp_path) as api:  # http://127.0.0.1:PORT/api  (PREFECT_API_URL)
    with mlflow_server(tmp_path, wait=False) as server:  # boots meanwhile; server.wait() returns its URL
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A started server process; `wait()` blocks until its health endpoint answers and returns its URL."""

    def __init__(self, proc: subprocess.Popen, url: str, health: str, log: Path, timeout: float):
        self.proc, self.url, self.health, self.log = proc, url, health, log
        self.deadline = time.monotonic() + timeout
        self.healthy = False

    def wait(self) -> str:
        while not self.healthy:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.proc.args[0]} exited with {self.proc.returncode}:\n"
                                   f"{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                self.healthy = httpx.get(self.health, timeout=2).status_code == 200
            if not self.healthy:
                if time.monotonic() > self.deadline:
                    raise RuntimeError(f"{self.proc.args[0]} not healthy in time:\n{self.log.read_text()[-3000:]}")
                time.sleep(0.5)
        return self.url


@contextlib.contextmanager
def server_process(cmd: list[str], url: str, health: str, log: Path, env: dict[str, str] | None = None,
                   timeout: float = 120) -> Iterator[Server]:
    """Start `cmd` (health: a URL that answers 200 once it is up), yield it as a Server, and always stop it."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                start_new_session=True)
    try:
        yield Server(proc, url, health, log, timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def mlflow_server(folder: Path, wait: bool = True) -> Iterator[str | Server]:
    """A tracking + registry server with a sqlite store and proxied artifacts under `folder`: its URL once healthy
    (with wait=False the Server at once, to boot while other setup runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
           "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
           "--artifacts-destination", str(folder / "artifacts")]
    url = f"http://127.0.0.1:{port}"
    with server_process(cmd, url, f"{url}/health", folder / "mlflow-server.log",
                        env={"MLFLOW_DISABLE_TELEMETRY": "true"}) as server:
        yield server.wait() if wait else server


@contextlib.contextmanager
def prefect_server(folder: Path) -> Iterator[str]:
    """A Prefect server with its own PREFECT_HOME (sqlite database) under `folder`, no UI."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui",
           "--analytics-off"]
    url = f"http://127.0.0.1:{port}/api"
    with server_process(cmd, url, f"{url}/health", folder / "prefect-server.log",
                        env={"PREFECT_HOME": str(folder), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                             "PREFECT_API_URL": url}) as server:
        yield server.wait()
