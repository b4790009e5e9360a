"""Experiment tracking: the ONLY module that imports mlflow (docs/design.md: every stage logs to MLflow).

    from thinkact.tracking import stage_run
    with stage_run("validate", params={"validate": {...}}) as run:
        run.log_metrics({"rows_total": 3720})
        run.log_artifact("outputs/validate/report.json")
        run.log_artifacts("outputs/validate/data_docs", "data_docs")

    with pipeline_run(root, asdict(params)) as parent:   # the flow: one parent run per pipeline run
        env = {**os.environ, **parent.child_env()}  # stage processes started with this env become its children

Where runs go, decided once per call:
  THINKACT_TRACKING=0      tracking off: `run` is a no-op object, mlflow is never imported
  MLFLOW_TRACKING_URI=...  that store (a server, a file store, a sqlite file)
  otherwise                the embedded store next to params.yaml: mlflow/mlflow.db
A sqlite store keeps artifacts in an artifacts/ folder beside the .db file; in a store laid out like the embedded
one, artifact locations are relative to the project (thinkact/tracking/store.py).

Runs live in one experiment per project, "thinkact". A stage run is named like the stage; with
THINKACT_PARENT_RUN_ID set (the flow sets it for the stage processes it starts) it becomes a child of that
run (`mlflow.parentRunId`), otherwise it stands alone. Every run is tagged with its context
(thinkact/tracking/context.py: the git commit and whether the user's tree was dirty, DVC's hash of data/, the md5
of params.yaml); the parent run also logs every resolved params section once, and params.yaml itself as an
artifact. A stage logs the data files it read as the run's MLflow dataset inputs (`log_datasets`: name, path, md5;
nothing is parsed). A run ends FINISHED, or FAILED when the block raises (the exception propagates).

A server that is down (thinkact/tracking/server.py): before a run opens, the server is probed (a few seconds) and
an unreachable one is one TrackingUnavailable line naming it (credentials redacted) and what to do. When it goes
away while a run is open, no logging call raises or stalls the stage: the first failing call costs MLflow's
bounded retries (~6-9 s), then every call is queued in memory (at most MAX_QUEUED) and the server is probed again
at most every RETRY_EVERY_S seconds; once it answers, the queue is sent in order (metrics keep their steps and
times). When the run ends with the server still away, a last try is made, and what could not be sent is named in
one line on stderr: the run stays RUNNING on the server, and the stage's own outputs are complete on disk.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

# mlflow (~1.6 s) is imported inside the functions that use it: with tracking off it is never loaded.
from thinkact import distributed
from thinkact.tracking.context import context_tags, file_md5, params_file_in_use, project_path, project_root
from thinkact.tracking.server import connect, is_http, redact_uri, unreachable
from thinkact.tracking.store import (ARTIFACTS_DIR, EXPERIMENT, STORE_DIR, STORE_FILE, artifact_repo, portable_store,
                                     sqlite_file)

PARENT_ENV = "THINKACT_PARENT_RUN_ID"  # set for stage processes: their runs become children of this run
PIPELINE_RUN = "pipeline"  # the parent run's name
_OFF = {"0", "false", "no", "off"}
_MAX_PARAM = 6000  # MLflow's limit on a param value
RETRY_EVERY_S = 30.0  # while the server is away: how often a logging call probes it again
MAX_QUEUED = 50_000  # logging calls kept while the server is away (beyond: dropped, and counted)


def tracking_uri(root: Path | None = None) -> str | None:
    """The store runs go to, or None when tracking is off (`root`: the project, default the one params.yaml is in)."""
    if os.environ.get("THINKACT_TRACKING", "1").strip().lower() in _OFF:
        return None
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{project_root(root) / STORE_DIR / STORE_FILE}"


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


class NullRun:
    """Tracking off: every call does nothing."""

    run_id: str | None = None

    def log_params(self, params: Mapping[str, Any]) -> None: ...
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...
    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None: ...
    def log_artifacts(self, folder: str | os.PathLike, artifact_path: str | None = None) -> None: ...
    def set_tags(self, tags: Mapping[str, Any]) -> None: ...
    def log_datasets(self, files: Mapping[str, str | os.PathLike], context: str,
                     digests: Mapping[str, str | None] | None = None) -> None: ...


class StageRun(NullRun):
    """One MLflow run, logged through an explicit client (no global mlflow state is touched). Every logging call
    goes through `_send`: while the server is away it is queued, not raised (see the module docstring)."""

    def __init__(self, client: Any, run_id: str, uri: str | None = None, experiment_id: str | None = None):
        self.client, self.run_id, self.uri, self.experiment_id = client, run_id, uri, experiment_id
        self.queued: deque[tuple[str, Callable[[], Any]]] = deque()
        self.dropped = 0
        self._away_since: float | None = None  # monotonic time the server stopped answering
        self._next_try = 0.0
        self._repo: Any = False  # the run's artifact repository when its location is relative (artifact_repo)

    def _send(self, what: str, call: Callable[[], Any]) -> None:
        if len(self.queued) >= MAX_QUEUED:
            self.dropped += 1
            return
        self.queued.append((what, call))
        self._flush()

    def _flush(self, force: bool = False) -> bool:
        """Send the queued calls in order; False (and they stay queued) while the server is away. A failure with the
        server answering is a real error (a bad value, no permission): that call is dropped and the error raised."""
        if self._away_since is not None:
            if not force and time.monotonic() < self._next_try:
                return False
            if self._still_away():
                return False
        while self.queued:
            what, call = self.queued[0]
            try:
                call()
            except Exception:
                reason = unreachable(self.uri)
                if reason is None:
                    self.queued.popleft()
                    raise
                self._went_away(reason)
                return False
            self.queued.popleft()
        if self._away_since is not None:
            print(f"[tracking] {redact_uri(self.uri or '')} answers again after "
                  f"{time.monotonic() - self._away_since:.0f} s: queued logging sent to run {self.run_id}",
                  file=sys.stderr, flush=True)
            self._away_since = None
        return True

    def _still_away(self) -> bool:
        if unreachable(self.uri) is None:
            return False
        self._next_try = time.monotonic() + RETRY_EVERY_S
        return True

    def _went_away(self, reason: str) -> None:
        if self._away_since is None:
            self._away_since = time.monotonic()
            print(f"[tracking] {redact_uri(self.uri or '')} is unreachable ({reason}): the work goes on; metrics, "
                  f"params, tags and artifacts are queued and sent when it answers (checked every "
                  f"{RETRY_EVERY_S:.0f} s)", file=sys.stderr, flush=True)
        self._next_try = time.monotonic() + RETRY_EVERY_S

    def close(self, status: str) -> None:
        """End the run as `status` after a last try to send what is queued. With the server still away the run is
        left RUNNING and one line on stderr says what was not logged; nothing is raised, so the stage's result
        (already on disk) stands."""
        if self._flush(force=True):
            try:
                self.client.set_terminated(self.run_id, status)
                if is_http(self.uri) and redact_uri(self.uri or "") != self.uri:  # MLflow's own link is off
                    print(f"View run at: {redact_uri(self.uri or '').rstrip('/')}/#/experiments/"
                          f"{self.experiment_id}/runs/{self.run_id}", flush=True)
                return
            except Exception:
                reason = unreachable(self.uri)
                if reason is None:
                    raise
                self._went_away(reason)
        kinds = sorted({what for what, _ in self.queued})
        print(f"[tracking] {redact_uri(self.uri or '')} is still unreachable: run {self.run_id} stays RUNNING there "
              f"without {len(self.queued)} logging call(s) ({', '.join(kinds) or 'its end'})"
              f"{f', {self.dropped} more dropped' if self.dropped else ''}; the outputs on disk are complete",
              file=sys.stderr, flush=True)

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in flatten(params).items()]
        for i in range(0, len(items), 100):  # MLflow accepts at most 100 params per batch
            batch = items[i:i + 100]
            self._send("params", lambda batch=batch: self.client.log_batch(self.run_id, params=batch))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
        for i in range(0, len(items), 1000):
            batch = items[i:i + 1000]
            self._send("metrics", lambda batch=batch: self.client.log_batch(self.run_id, metrics=batch))

    def _artifacts(self) -> Any | None:
        """The run's own artifact repository when its location is relative (the embedded store), else None."""
        if self._repo is False:
            self._repo = artifact_repo(self.client, self.run_id, self.uri)
        return self._repo

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        path = os.path.abspath(path)

        def call() -> None:
            repo = self._artifacts()
            if repo is None:
                self.client.log_artifact(self.run_id, path, artifact_path)
            else:
                repo.log_artifact(path, artifact_path)
        self._send("artifacts", call)

    def log_artifacts(self, folder: str | os.PathLike, artifact_path: str | None = None) -> None:
        folder = os.path.abspath(folder)

        def call() -> None:
            repo = self._artifacts()
            if repo is None:
                self.client.log_artifacts(self.run_id, folder, artifact_path)
            else:
                repo.log_artifacts(folder, artifact_path)
        self._send("artifacts", call)

    def log_datasets(self, files: Mapping[str, str | os.PathLike], context: str,
                     digests: Mapping[str, str | None] | None = None) -> None:
        """Log data files as the run's MLflow dataset inputs, shown with their hashes on the run page: `files` is
        name (the split) -> path; the source is the path (relative to the project root when inside it), the digest
        the md5 in `digests` or else the file's md5 (for a file in a folder DVC tracks, DVC 3's md5 of the file is
        the md5 of its bytes); `context` (`training`, `evaluation`) is the input's tag. Only the bytes are hashed:
        no file is parsed."""
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.data.sources import LocalArtifactDatasetSource
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        inputs = []
        for name, path in files.items():
            digest = (digests or {}).get(name) or file_md5(Path(path))
            if digest is None:
                continue  # not readable: nothing to say about it
            dataset = MetaDataset(LocalArtifactDatasetSource(project_path(Path(path))), name=name, digest=digest)
            inputs.append(DatasetInput(dataset._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)]))
        if inputs:
            self._send("inputs", lambda: self.client.log_inputs(self.run_id, datasets=inputs))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        for key, value in tags.items():
            self._send("tags", lambda key=key, value=value: self.client.set_tag(self.run_id, key, str(value)))


def _experiment_id(client: Any, uri: str) -> str:
    """The thinkact experiment, created on first use; in the embedded store its artifact locations are relative
    (`portable_store`, run every time: it also rewrites a store written with absolute paths)."""
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        experiment_id = found.experiment_id
    else:
        location = None  # a server or a file store decides where artifacts go
        db = sqlite_file(uri)
        if db is not None:  # a sqlite store keeps them beside it, never in the cwd's mlruns/
            location = (db.parent / ARTIFACTS_DIR).resolve().as_uri()
        try:
            experiment_id = client.create_experiment(EXPERIMENT, artifact_location=location)
        except Exception:  # noqa: BLE001 - created meanwhile by a concurrent stage
            found = client.get_experiment_by_name(EXPERIMENT)
            if found is None:
                raise
            experiment_id = found.experiment_id
    portable_store(uri)
    return experiment_id


@contextlib.contextmanager
def stage_run(stage: str, params: Mapping[str, Any] | None = None,
              tags: Mapping[str, Any] | None = None) -> Iterator[NullRun]:
    """A tracked run named `stage` (or a NullRun when tracking is off, or in a process other than the main one of a
    stage launched on several: one run per stage); see the module docstring."""
    uri = tracking_uri()
    if uri is None or not distributed.is_main():
        yield NullRun()
        return
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    connect(uri)  # a server that is down: one clear error now, before the stage does any work
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    run_tags = {"mlflow.runName": stage, "thinkact.stage": stage, **context_tags(), **(tags or {})}
    parent = os.environ.get(PARENT_ENV, "").strip()
    if parent:
        run_tags["mlflow.parentRunId"] = parent
    with _open_run(client, uri, stage, run_tags) as run:
        if params:
            run.log_params(params)
        yield run


@contextlib.contextmanager
def _open_run(client: Any, uri: str, name: str, tags: Mapping[str, Any],
              kind: type[StageRun] = StageRun) -> Iterator[StageRun]:
    experiment_id = _experiment_id(client, uri)
    created = client.create_run(experiment_id, run_name=name, tags={k: str(v) for k, v in tags.items()})
    run = kind(client, created.info.run_id, uri, experiment_id)
    try:
        yield run
    except BaseException:
        run.close("FAILED")
        raise
    run.close("FINISHED")


class PipelineRun(StageRun):
    """The parent run of one pipeline run; `child_env()` makes the stage processes' runs its children."""

    @property
    def tracking_uri(self) -> str:
        return self.uri or ""

    def child_env(self) -> dict[str, str]:
        """Environment for a stage process: this run as parent, and the same store (however it was chosen)."""
        return {PARENT_ENV: self.run_id, "MLFLOW_TRACKING_URI": self.tracking_uri}

    def log_text(self, text: str, artifact_file: str) -> None:
        def call() -> None:
            repo = self._artifacts()
            if repo is None:
                self.client.log_text(self.run_id, text, artifact_file)
                return
            folder = PurePosixPath(artifact_file).parent.as_posix()
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / PurePosixPath(artifact_file).name
                local.write_text(text, encoding="utf-8")
                repo.log_artifact(str(local), None if folder == "." else folder)
        self._send("artifacts", call)


class NullPipelineRun(NullRun):
    """Tracking off: no parent run, stage processes stay untracked too."""

    tracking_uri: str | None = None

    def child_env(self) -> dict[str, str]:
        return {}

    def log_text(self, text: str, artifact_file: str) -> None: ...


@contextlib.contextmanager
def pipeline_run(root: Path | None, params: Mapping[str, Any],
                 tags: Mapping[str, Any] | None = None) -> Iterator[NullRun]:
    """The parent run of a pipeline run in project `root`: context tags, every resolved params section (`params`:
    the loaded Params as a mapping, `dataclasses.asdict(load_params(...))` — loaded, so checked, by the caller
    before any run exists) logged once, params.yaml as an artifact. Yields a PipelineRun (a NullPipelineRun when
    tracking is off)."""
    uri = tracking_uri(root)
    if uri is None:
        yield NullPipelineRun()
        return
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    connect(uri)  # a server that is down: one clear error before any stage runs
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    run_tags = {"mlflow.runName": PIPELINE_RUN, "thinkact.stage": PIPELINE_RUN, **context_tags(root),
                **(tags or {})}
    with _open_run(client, uri, PIPELINE_RUN, run_tags, PipelineRun) as parent:
        parent.log_params(params)
        parent.log_artifact(params_file_in_use(root))
        yield parent
