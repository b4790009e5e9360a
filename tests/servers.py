"""Real server processes for integration tests: `mlflow server` and `prefect server start` on 127.0.0.1, and
prefect.yaml's work-pool deployment run by a real process worker.

Each starts on a free port in its own process group, is polled until its health endpoint answers, and is always
terminated (SIGTERM to the group, then SIGKILL) when the `with` block ends; if it never becomes healthy, the test
fails with the end of its log.

    with mlflow_server(tmp_path) as url:   # http://127.0.0.1:PORT  (MLFLOW_TRACKING_URI)
    with prefect_server(tmp_path) as api:  # http://127.0.0.1:PORT/api  (PREFECT_API_URL)
    with mlflow_server(tmp_path, wait=False) as server:  # boots meanwhile; server.wait() returns its URL
    run_id, worker_log = deploy_and_run_on_a_worker(deployable(checkout), env)  # env: PREFECT_API_URL, ...
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from thinkact.distributed import free_port  # the tests import it from here too

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]


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
    from conftest import new_mlflow_store

    if not (folder / "mlflow.db").exists():
        new_mlflow_store(folder / "mlflow.db")   # its tables made already: the server boots without migrating
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


def prefect_call(api: str, method: str, path: str, **json) -> dict | list:
    """One call of Prefect's REST API at `api` (PREFECT_API_URL), its JSON answer."""
    response = httpx.request(method, f"{api}{path}", json=json or None, timeout=30)
    response.raise_for_status()
    return response.json()


def deployable(checkout: Path, *folders: str) -> Path:
    """`checkout` made deployable as a user's clone is: prefect.yaml, flows/ (the entrypoint) and `folders` copied
    from the repo where the checkout has none yet."""
    checkout.mkdir(parents=True, exist_ok=True)
    for folder in ("flows", *folders):
        if not (checkout / folder).exists():
            shutil.copytree(REPO / folder, checkout / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "prefect.yaml", checkout)
    return checkout


def deploy_and_run_on_a_worker(checkout: Path, env: dict[str, str], *run_args: str, timeout: float = 240
                               ) -> tuple[str, str]:
    """As docs/operations.md says, in `checkout` against env's PREFECT_API_URL: create the process work pool,
    `prefect deploy` prefect.yaml's scheduled-gpu, start a run of it by hand (`run_args`: e.g. --param
    profile=quick) and a worker with --run-once. Returns the flow run's id and the worker's output."""
    env = {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', os.environ['PATH'])}"}

    def run(*cmd: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{' '.join(cmd[:3])}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        return proc

    run("prefect", "work-pool", "create", "thinkact-gpu", "--type", "process", "--overwrite")
    run("prefect", "--no-prompt", "deploy", "--name", "scheduled-gpu")
    started = run("prefect", "deployment", "run", "thinkact-pipeline/scheduled-gpu", *run_args)
    flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", started.stdout).group(1)
    worker = subprocess.run(["prefect", "worker", "start", "--pool", "thinkact-gpu", "--run-once"], cwd=checkout,
                            env=env, capture_output=True, text=True, timeout=timeout)
    return flow_run_id, worker.stdout[-3000:] + worker.stderr[-3000:]
