"""Experiment tracking: the ONLY module that imports mlflow (DESIGN.md: every stage logs to MLflow).

    from thinkact.tracking import stage_run
    with stage_run("validate", params={"validate": {...}}) as run:
        run.log_metrics({"rows_total": 3720})
        run.log_artifact("outputs/validate/report.json")
        run.log_artifacts("outputs/validate/data_docs", "data_docs")

Where runs go, decided once per call:
  THINKACT_TRACKING=0      tracking off: `run` is a no-op object, mlflow is never imported
  MLFLOW_TRACKING_URI=...  that store (a server, a file store, a sqlite file)
  otherwise                the embedded store next to params.yaml: mlflow/mlflow.db
A sqlite store keeps artifacts in an artifacts/ folder beside the .db file.

A run is named like the stage, in experiment "thinkact", tagged with the stage, the git commit and the DVC
data hash when known. It ends FINISHED, or FAILED when the block raises (the exception propagates).
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

EXPERIMENT = "thinkact"
_OFF = {"0", "false", "no", "off"}
_MAX_PARAM = 6000  # MLflow's limit on a param value


def _project_root() -> Path:
    from thinkact.config import params_path

    return params_path().resolve().parent


def tracking_uri() -> str | None:
    """The store runs go to, or None when tracking is off."""
    if os.environ.get("THINKACT_TRACKING", "1").strip().lower() in _OFF:
        return None
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{_project_root() / 'mlflow' / 'mlflow.db'}"


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """{"a": {"b": 1}} -> {"a.b": "1"}; values cut to MLflow's limit."""
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = str(value)[:_MAX_PARAM]
    return out


def _context_tags() -> dict[str, str]:
    """Git commit and the DVC hash of data/ (from data.dvc), when they can be read cheaply."""
    root = _project_root()
    tags: dict[str, str] = {}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if commit.returncode == 0:
            tags["mlflow.source.git.commit"] = commit.stdout.strip()
    dvc_file = root / "data.dvc"
    if dvc_file.is_file():
        with contextlib.suppress(Exception):
            import yaml

            outs = (yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}).get("outs") or [{}]
            if outs[0].get("md5"):
                tags["thinkact.data_md5"] = str(outs[0]["md5"])
    return tags


class NullRun:
    """Tracking off: every call does nothing."""

    run_id: str | None = None

    def log_params(self, params: Mapping[str, Any]) -> None: ...
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...
    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None: ...
    def log_artifacts(self, folder: str | os.PathLike, artifact_path: str | None = None) -> None: ...
    def set_tags(self, tags: Mapping[str, Any]) -> None: ...


class StageRun(NullRun):
    """One MLflow run, logged through an explicit client (no global mlflow state is touched)."""

    def __init__(self, client: Any, run_id: str):
        self.client, self.run_id = client, run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in flatten(params).items()]
        for i in range(0, len(items), 100):  # MLflow accepts at most 100 params per batch
            self.client.log_batch(self.run_id, params=items[i:i + 100])

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
        for i in range(0, len(items), 1000):
            self.client.log_batch(self.run_id, metrics=items[i:i + 1000])

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path)

    def log_artifacts(self, folder: str | os.PathLike, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(self.run_id, str(folder), artifact_path)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, str(value))


def _experiment_id(client: Any, uri: str) -> str:
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    location = None  # a server or a file store decides where artifacts go
    if uri.startswith("sqlite:///"):  # a sqlite store keeps them beside it, never in the cwd's mlruns/
        location = (Path(uri[len("sqlite:///"):]).parent / "artifacts").resolve().as_uri()
    try:
        return client.create_experiment(EXPERIMENT, artifact_location=location)
    except Exception:  # noqa: BLE001 - created meanwhile by a concurrent stage
        found = client.get_experiment_by_name(EXPERIMENT)
        if found is None:
            raise
        return found.experiment_id


@contextlib.contextmanager
def stage_run(stage: str, params: Mapping[str, Any] | None = None,
              tags: Mapping[str, Any] | None = None) -> Iterator[NullRun]:
    """A tracked run named `stage` (or a NullRun when tracking is off); see the module docstring."""
    uri = tracking_uri()
    if uri is None:
        yield NullRun()
        return
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    run_tags = {"mlflow.runName": stage, "thinkact.stage": stage, **_context_tags(), **(tags or {})}
    created = client.create_run(_experiment_id(client, uri), run_name=stage,
                                tags={k: str(v) for k, v in run_tags.items()})
    run = StageRun(client, created.info.run_id)
    try:
        if params:
            run.log_params(params)
        yield run
    except BaseException:
        client.set_terminated(run.run_id, "FAILED")
        raise
    client.set_terminated(run.run_id, "FINISHED")
