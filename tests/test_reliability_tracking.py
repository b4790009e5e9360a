"""Tracking reliability (issue #18, items 4 and 5), against real processes: a tracking server that is down fails a
stage and a registry load within seconds with one line naming it; a server that goes away mid-run loses no work and
gets its queued logging once it is back; the flow retries an unreachable server and DVC's "is busy" lock; the
credentials in MLFLOW_TRACKING_URI never reach what is shown or stored (terminal, summary, Prefect's database,
the MLflow store)."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import new_mlflow_store, write_params
from servers import BIN, free_port, mlflow_server, prefect_server, server_process
from flows.pipeline import StageFailed, is_transient, run_stage
from thinkact.project import PROJECT_ROOT
from thinkact.tracking import PARENT_ENV, stage_run
from thinkact.tracking import runs as runs_module

SECRET = "s3cr3t-7f3a91"  # unique: Prefect's own Secret block schema holds the example "s3cr3t"


@pytest.fixture(autouse=True)
def _mlflow_env_restored(monkeypatch):
    """thinkact.tracking.server.connect sets MLflow's HTTP defaults in os.environ: undone after each test."""
    for key in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "MLFLOW_HTTP_REQUEST_TIMEOUT",
                "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", PARENT_ENV):
        monkeypatch.delenv(key, raising=False)


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "THINKACT_TRACKING": "1", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **extra}
    for key in ("THINKACT_PARENT_RUN_ID", "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
                "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        env.pop(key, None)
    return env


def _dead_uri() -> str:
    return f"http://alice:{SECRET}@127.0.0.1:{free_port()}"  # a free port: nothing listens there


# ---- item 5: one redaction -------------------------------------------------------------------------------------


@pytest.mark.parametrize("uri, shown", [
    (f"http://alice:{SECRET}@host:5987", "http://alice:***@host:5987"),
    ("https://tok3n@mlflow.example.com/mlflow", "https://***@mlflow.example.com/mlflow"),
    ("https://h/?token=t1&experiment=3&access_token=t2&sig=t3&X-Amz-Signature=t4&api_key=t5&password=t6",
     "https://h/?token=***&experiment=3&access_token=***&sig=***&X-Amz-Signature=***&api_key=***&password=***"),
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("sqlite:////tmp/x/mlflow.db", "sqlite:////tmp/x/mlflow.db"),
    ("file:///tmp/mlruns", "file:///tmp/mlruns"),
    ("databricks", "databricks"),
])
def test_redact_uri_hides_userinfo_and_token_like_query_values(uri, shown):
    from thinkact.tracking import redact_uri

    assert redact_uri(uri) == shown


def test_redact_text_redacts_every_uri_in_a_message():
    from thinkact.tracking import redact_text

    text = (f"mlflow.exceptions.MlflowException: API request to http://alice:{SECRET}@h:5987/api/2.0/mlflow/runs/create"
            f" failed; see https://h/x?access_token={SECRET} or sqlite:///mlflow/mlflow.db")
    assert redact_text(text) == ("mlflow.exceptions.MlflowException: API request to http://alice:***@h:5987/api/2.0/"
                                 "mlflow/runs/create failed; see https://h/x?access_token=*** or sqlite:///mlflow/mlflow.db")


# ---- item 4: a server that is down -----------------------------------------------------------------------------


def _one_line_error(proc: subprocess.CompletedProcess, elapsed: float, prefix: str) -> str:
    out = proc.stdout + proc.stderr
    assert elapsed < 60, f"{elapsed:.0f} s to fail"
    assert "Traceback" not in out and SECRET not in out, out[-3000:]
    (line,) = [x for x in proc.stderr.splitlines() if "tracking server" in x]
    assert line.startswith(prefix) and "alice:***@127.0.0.1:" in line and "is unreachable (connection refused)" in line
    assert "mlflow server --host 127.0.0.1 --port" in line and "unset MLFLOW_TRACKING_URI" in line
    return out


def test_a_dead_server_fails_the_validate_stage_in_seconds_with_one_line(tmp_path):
    params = write_params(tmp_path)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tasks.validate"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          env=_env(THINKACT_PARAMS=str(params), MLFLOW_TRACKING_URI=_dead_uri()), timeout=120)
    assert proc.returncode == 1
    out = _one_line_error(proc, time.monotonic() - start, "validate: MLflow tracking server http://alice:***@")
    assert is_transient(out)  # the flow retries it: the server may be back 30 s later
    assert not (tmp_path / "outputs" / "validate" / "report.json").exists()  # it failed before doing any work


def test_a_dead_server_fails_chat_with_a_registry_model_in_seconds_with_one_line(tmp_path):
    params = write_params(tmp_path)
    start = time.monotonic()
    proc = subprocess.run([str(BIN / "thinkact"), "chat", "--model", "models:/thinkact-agent@champion", "--message",
                           "hi"], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                          env=_env(THINKACT_PARAMS=str(params), MLFLOW_TRACKING_URI=_dead_uri()))
    assert proc.returncode == 2
    _one_line_error(proc, time.monotonic() - start, "error: MLflow tracking server http://alice:***@")


@contextlib.contextmanager
def _mlflow_at(folder: Path, port: int) -> Iterator[str]:
    """`mlflow server` on a fixed port (so it can come back where the client expects it), store under `folder`."""
    if not (folder / "mlflow.db").exists():
        new_mlflow_store(folder / "mlflow.db")
    cmd = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
           "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}", "--artifacts-destination",
           str(folder / "artifacts")]
    url = f"http://127.0.0.1:{port}"
    with server_process(cmd, url, f"{url}/health", folder / f"mlflow-{time.time_ns()}.log",
                        env={"MLFLOW_DISABLE_TELEMETRY": "true"}) as server:
        yield server.wait()


@pytest.mark.timeout(300)
def test_a_server_that_goes_away_mid_run_loses_no_work_and_gets_the_queued_logging(tmp_path, monkeypatch, capfd):
    store, port = tmp_path / "store", free_port()
    store.mkdir()
    monkeypatch.setenv("THINKACT_PARAMS", str(write_params(tmp_path)))
    monkeypatch.setenv("THINKACT_TRACKING", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(runs_module, "RETRY_EVERY_S", 1.0, raising=False)
    (tmp_path / "samples.jsonl").write_text("{}\n")

    server = contextlib.ExitStack()
    server.enter_context(_mlflow_at(store, port))
    with stage_run("sft") as run:                        # like training: a metric per step
        run.log_metrics({"loss": 1.0}, step=1)
        server.close()                                   # the server is killed mid-run
        start = time.monotonic()
        run.log_metrics({"loss": 0.9}, step=2)           # neither raises nor stalls the training
        run.log_artifact(tmp_path / "samples.jsonl", "samples")
        run.log_metrics({"loss": 0.8}, step=3)
        assert time.monotonic() - start < 30
        assert len(run.queued) == 3
        server.enter_context(_mlflow_at(store, port))    # back: the next call sends the queue, in order
        run.log_metrics({"loss": 0.7}, step=4)
        assert not run.queued
        finished = run.run_id
    err = capfd.readouterr().err
    assert "is unreachable (connection refused): the work goes on" in err and "answers again after" in err

    with stage_run("grpo") as run:                       # the run ends while the server is away
        run.log_metrics({"reward": 0.5}, step=1)
        left = run.run_id
        server.close()
        run.log_metrics({"reward": 0.6}, step=2)
    err = capfd.readouterr().err                          # nothing raised: the block's work stands
    assert f"run {left} stays RUNNING there without 1 logging call(s) (metrics)" in err

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    assert [(m.step, m.value) for m in client.get_metric_history(finished, "loss")] == \
        [(1, 1.0), (2, 0.9), (3, 0.8), (4, 0.7)]
    assert client.get_run(finished).info.status == "FINISHED"
    assert list(store.glob(f"artifacts/*/{finished}/artifacts/samples/samples.jsonl"))  # the proxied artifact
    assert client.get_run(left).info.status == "RUNNING"
    assert [m.step for m in client.get_metric_history(left, "reward")] == [1]


# ---- the flow: what is transient, what is stored ---------------------------------------------------------------


def _dvc_project(root: Path, stages: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
    write_params(root)
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=root, check=True, env=_env())
    return root


def test_the_flow_retries_a_stage_that_another_dvc_repro_holds(tmp_path):
    slow = "python -c \"import time; open('started', 'w').close(); time.sleep(120); open('slow.txt', 'w').write('1')\""
    root = _dvc_project(tmp_path / "project", {"slow": {"cmd": slow, "outs": ["slow.txt"]}})
    first = subprocess.Popen([sys.executable, "-m", "dvc", "repro", "--single-item", "slow"], cwd=root, env=_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (root / "started").exists():
            assert first.poll() is None and time.monotonic() < deadline, "the first dvc repro never started its stage"
            time.sleep(0.2)
        from prefect.logging import disable_run_logger

        with disable_run_logger(), pytest.raises(StageFailed) as err:  # DVC 3's own text, not a copy of it
            run_stage.fn("slow", str(root))
        assert "slow.txt' is busy, it is being blocked by" in err.value.tail
        assert err.value.transient
    finally:
        os.killpg(first.pid, 9)
        first.wait()


LEAK = ("python -c \"import os; print('API request to ' + os.environ['MLFLOW_TRACKING_URI'] + '/api/2.0/mlflow/runs/"
        "create?access_token=abc failed'); open('leak.txt', 'w').write('1')\"")


@pytest.mark.timeout(600)
def test_credentials_in_the_tracking_uri_reach_nothing_shown_or_stored(tmp_path):
    """`python -m flows.pipeline` with a password in MLFLOW_TRACKING_URI, against a real MLflow server and a real
    Prefect server; a stage prints the URI (as MLflow's errors do). Neither the terminal, the summary, Prefect's
    database (flow and task logs, artifacts) nor the MLflow store holds the password afterwards."""
    from thinkact.tracking.model_registry import Registry, RegistryError

    root = _dvc_project(tmp_path / "project", {"leak": {"cmd": LEAK, "outs": ["leak.txt"]}})
    with mlflow_server(tmp_path / "mlflow", wait=False) as mlflow, prefect_server(tmp_path / "prefect") as api:
        uri = mlflow.wait().replace("http://", f"http://alice:{SECRET}@")
        proc = subprocess.run([sys.executable, "-m", "flows.pipeline", "--project", str(root)], cwd=PROJECT_ROOT,
                              env=_env(PREFECT_API_URL=api, PREFECT_HOME=str(tmp_path / "home"),
                                       MLFLOW_TRACKING_URI=uri), capture_output=True, text=True, timeout=400)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert SECRET not in proc.stdout + proc.stderr
        assert f"{uri.replace(SECRET, '***')}/#/experiments/" in proc.stdout  # the summary's run link, redacted
        with pytest.raises(RegistryError) as err:
            Registry("no-such-model", uri).require_alias("champion")
        assert SECRET not in str(err.value) and "alice:***@127.0.0.1" in str(err.value)
    stores = [tmp_path / "prefect", tmp_path / "home", tmp_path / "mlflow", root]
    files = [p for folder in stores for p in folder.rglob("*") if p.is_file()]
    assert not [p for p in files if SECRET.encode() in p.read_bytes()]
    prefect_db = [p for p in (tmp_path / "prefect").rglob("*") if p.is_file()]
    assert any(b"API request to http://alice:***@127.0.0.1" in p.read_bytes() for p in prefect_db)  # the log line
    assert any(b"alice:***@127.0.0.1" in p.read_bytes() and b"thinkact pipeline" in p.read_bytes()
               for p in (tmp_path / "mlflow").rglob("summary.md"))
