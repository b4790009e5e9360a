"""The thinkact pipeline as a Prefect flow: every stage of dvc.yaml, in dvc.yaml's order, through DVC.

dvc.yaml owns the DAG (docs/design.md): this flow reads the stage order from it and runs each stage with
`dvc repro --single-item <stage>`, so dvc.lock and DVC's cache hold here exactly as for `dvc repro`, and an
unchanged stage is skipped in both (reported as `skipped`). Prefect adds retries, run history, logs and artifacts:

- each stage is a Prefect task named like the stage; its output streams into the task's logs;
- a stage is retried (2 times, 30 s apart) only when its failure looks transient: the process was killed
  (OOM killer, preemption: exit -9/-15/137/143), a network error or a tracking server that is unreachable, a DVC
  lock (the repo lock, or "is busy" when another `dvc repro` holds a stage's outputs) or a sqlite lock.
  A failed `validate` gate, bad params or a bug fail at once: retrying them cannot help;
- a tracking server that is down when the flow starts is one line before any stage runs;
- the tracking URI's credentials never reach a log line, the summary or an artifact (`redact_uri`/`redact_text`);
- a failed stage stops the flow; nothing downstream runs;
- a profile (`profile=` or THINKACT_PROFILE, thinkact.profiles) runs profiles/<name>/dvc.yaml, written first from
  dvc.yaml and profiles/<name>.yaml: the same stages on the profile's params and outputs, tagged with its name;
- one MLflow parent run per pipeline run (every resolved params section logged on it); each stage process
  gets its id (THINKACT_PARENT_RUN_ID), so the stage runs are its children;
- at the end, a Markdown artifact `thinkact-pipeline` with the stages, the evaluation table and the promotion
  decision (flows/summary.py), also logged to the parent run as summary.md.

    python -m flows.pipeline                       # run once (no server set: a temporary local Prefect server)
    python -m flows.pipeline --stages validate,sft # some stages only, still in dvc.yaml's order
    THINKACT_PROFILE=smollm2 python -m flows.pipeline   # a profile (thinkact.profiles): its own pipeline and outputs
    python -m flows.serve                          # the scheduled deployment (cron from params.yaml `schedule`)
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path

import yaml
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from flows.summary import StageOutcome, summarize
from thinkact import profiles
from thinkact.errors import ConfigError, ThinkactError
from thinkact.tracking import TrackingUnavailable, redact_text, redact_uri

ROOT = Path(__file__).resolve().parent.parent
ARTIFACT_KEY = "thinkact-pipeline"
RETRIES, RETRY_DELAY_S = 2, 30
# Stage output becomes log lines: progress bars (tqdm: datasets, generation) redraw at most every 10 s instead of
# ten times a second; the stages' own step lines with ETA are unaffected. A value set in the environment wins.
LOG_FRIENDLY = {"TQDM_MININTERVAL": "10"}
TAIL_LINES = 60  # the end of a stage's output: what a failure is classified by, and quoted in the error
TRANSIENT = re.compile("|".join([
    r"exited with (-9|-15|137|143)\b",            # killed: OOM killer, preemption, a worker shutting down
    r"\bKilled\b",
    r"Unable to acquire lock",                     # another DVC process holds the repo lock
    r"is busy, it is being blocked by",            # DVC 3 rwlock: another `dvc repro` holds this stage's paths
    r"database is locked",                         # sqlite stores (MLflow, Prefect) under concurrent writers
    r"Connection(Error|RefusedError|ResetError)|Connection (refused|reset|aborted)",
    r"Temporary failure in name resolution|Max retries exceeded|Read timed out|ReadTimeout",
    r"\b(502|503|504) (Bad Gateway|Service Unavailable|Gateway Time-?out)",
    r"API request to .* failed",                   # MLflow client: tracking server unreachable
    r"tracking server \S+ is unreachable",          # thinkact's probe before a stage (TrackingUnavailable)
]), re.IGNORECASE)


class UnknownStage(ThinkactError):
    """A requested stage is not in dvc.yaml."""


class StageFailed(ThinkactError):
    """A DVC stage exited non-zero; `transient` says whether a retry may help; `tail` holds its last output lines
    (all of it streamed above and kept in the Prefect task run's logs)."""

    def __init__(self, stage: str, code: int, tail: str, transient: bool):
        self.stage, self.code, self.tail, self.transient = stage, code, tail, transient
        exited = re.findall(r"exited with (-?\d+)", tail)
        how = f"exit {exited[-1]}" if exited else f"dvc exit {code}"
        kind = "a transient failure, retries exhausted" if transient else "not retried: fix the cause and rerun"
        super().__init__(f"stage '{stage}' failed ({how}; {kind}); its output is above and in the Prefect "
                         "task run's logs")


def stage_order(dvc_file: Path = ROOT / "dvc.yaml") -> list[str]:
    """The stages of dvc.yaml in the order written there (their DAG order)."""
    if not Path(dvc_file).is_file():
        raise UnknownStage(f"{dvc_file} not found: run from the project root or pass --project")
    return list((yaml.safe_load(Path(dvc_file).read_text(encoding="utf-8")) or {}).get("stages", {}))


def is_transient(output: str) -> bool:
    """Whether a stage's failing output looks like a failure a retry can fix (see TRANSIENT)."""
    return bool(TRANSIENT.search(output))


def _retry_if_transient(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect's retry_condition_fn signature
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, StageFailed) and exc.transient


@task(retries=RETRIES, retry_delay_seconds=RETRY_DELAY_S, retry_condition_fn=_retry_if_transient,
      cache_policy=NO_CACHE, task_run_name="{stage}")
def run_stage(stage: str, project: str, env: dict[str, str] | None = None, pipeline_file: str | None = None
              ) -> StageOutcome:
    """Run one DVC stage in `project` (of dvc.yaml, or of `pipeline_file`, a profile's, relative to `project`),
    streaming its output to the task's logs; DVC skips it when unchanged."""
    from prefect.runtime import task_run

    logger = get_run_logger()
    target = f"{pipeline_file}:{stage}" if pipeline_file else stage
    cmd = [sys.executable, "-m", "dvc", "repro", "--single-item", target]
    logger.info("$ dvc repro --single-item %s", target)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**LOG_FRIENDLY, **os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"})
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    status = "ran"
    for line in proc.stdout:  # type: ignore[union-attr]
        line = redact_text(line.rstrip())  # a tracking URI's credentials never reach Prefect's logs
        if line:
            logger.info(line)
            tail.append(line)
            if "didn't change, skipping" in line or "skipping run, checking out outputs" in line:
                status = "skipped"
    code = proc.wait()
    if code != 0:
        text = "\n".join(tail)
        raise StageFailed(stage, code, text, is_transient(text))
    return StageOutcome(stage, status, time.monotonic() - start, task_run.run_count or 1)


@flow(name="thinkact-pipeline", log_prints=True)
def pipeline(stages: list[str] | None = None, project: str | None = None,
             retries: int | None = None, retry_delay_seconds: float | None = None,
             profile: str | None = None) -> dict:
    """dvc.yaml's stages in order (or `stages`, kept in that order) in `project` (default: this checkout); with a
    `profile` (default: THINKACT_PROFILE, else "default") those of profiles/<profile>/dvc.yaml.

    Returns the summary (flows/summary.py `Summary.to_dict()`): each stage's result, the evaluation table and
    the promotion decision when present, the parent MLflow run. Raises StageFailed when a stage fails."""
    root = Path(project or ROOT).resolve()
    name = profile or profiles.active()
    try:
        dvc_file = profiles.write_pipeline(name, root)  # the profile's pipeline and params, written first
    except ConfigError as e:
        print(f"profile {name}: {e}")
        return Failed(message=str(e), data=e)
    with _profile_env(name, root):
        return _run_pipeline(root, dvc_file, name, stages, retries, retry_delay_seconds)


@contextlib.contextmanager
def _profile_env(name: str, root: Path):
    """THINKACT_PROFILE (and, for a profile other than the default, THINKACT_PARAMS: its merged params) for this
    process (the parent run, the summary) while the flow runs; what was there before is put back after."""
    saved = {k: os.environ.get(k) for k in ("THINKACT_PARAMS", "THINKACT_PROFILE")}
    os.environ["THINKACT_PROFILE"] = name
    if name != profiles.DEFAULT:
        os.environ["THINKACT_PARAMS"] = str(profiles.params_file(name, root))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run_pipeline(root: Path, dvc_file: Path, name: str, stages: list[str] | None, retries: int | None,
                  retry_delay_seconds: float | None):  # noqa: ANN202
    from prefect.runtime import flow_run

    from thinkact.config import load_params
    from thinkact.tracking import pipeline_run

    order = select_stages(stage_order(dvc_file), stages)
    target = None if name == profiles.DEFAULT else str(dvc_file.relative_to(root))
    options = {k: v for k, v in {"retries": retries, "retry_delay_seconds": retry_delay_seconds}.items()
               if v is not None}
    outcomes = [StageOutcome(stage) for stage in order]
    try:
        resolved = asdict(load_params(profiles.params_file(name, root)))  # checked before any run exists
        with pipeline_run(root, resolved, tags={"prefect.flow_run_id": str(flow_run.id or "")}) as parent:
            env = {**parent.child_env(), "THINKACT_PROFILE": name}
            mlflow = ({"run_id": parent.run_id, "tracking_uri": redact_uri(parent.tracking_uri),
                       "experiment_id": str(getattr(parent, "experiment_id", "") or "")} if parent.run_id else {})
            try:
                for i, stage in enumerate(order):
                    began = time.monotonic()
                    try:
                        outcomes[i] = run_stage.with_options(name=stage, **options)(stage, str(root), env,
                                                                                    target)
                    except Exception:
                        outcomes[i].status = "failed"
                        raise
                    finally:  # the stage's time with every attempt and retry wait, not only the last attempt's
                        outcomes[i].seconds = time.monotonic() - began
            finally:
                summary = summarize(root, outcomes, mlflow)
                _publish(summary, parent)
    except (StageFailed, TrackingUnavailable, ConfigError) as e:  # a failed state: Prefect would log a traceback
        # (a bad parameter stops here, before any stage: the parent run logs every params.yaml value)
        print(" | ".join(f"{s.stage}: {s.status}" for s in outcomes))
        return Failed(message=str(e), data=e)
    print(" | ".join(f"{s.stage}: {s.status}" for s in outcomes))
    return summary.to_dict()


def select_stages(order: list[str], stages: list[str] | None) -> list[str]:
    """The asked-for `stages` in dvc.yaml's `order` (all of them when none are asked for); an unknown name raises
    UnknownStage listing the stages there are."""
    if not stages:
        return order
    unknown = [s for s in stages if s not in order]
    if unknown:
        raise UnknownStage(f"dvc.yaml has no stage {', '.join(map(repr, unknown))}; its stages: {', '.join(order)}")
    return [s for s in order if s in stages]


def _publish(summary, parent) -> None:  # noqa: ANN001
    """The summary as the flow run's Markdown artifact and on the parent MLflow run (statuses as tags)."""
    markdown = summary.markdown()
    create_markdown_artifact(markdown, key=ARTIFACT_KEY, description="thinkact pipeline: stages, evaluation, promotion")
    parent.log_text(markdown, "summary.md")
    parent.set_tags({f"thinkact.result.{s.stage}": s.status for s in summary.stages})
    parent.log_metrics({f"seconds.{s.stage}": s.seconds for s in summary.stages if s.status != "not run"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", help="comma-separated stages of dvc.yaml (default: all, in order)")
    parser.add_argument("--project", help="project folder with dvc.yaml and params.yaml (default: this checkout)")
    parser.add_argument("--profile", help="a profile of profiles/ (default: $THINKACT_PROFILE, else the default: "
                                          "params.yaml)")
    args = parser.parse_args(argv)
    stages = args.stages.split(",") if args.stages else None
    try:
        from thinkact.config import load_params
        from thinkact.models.loading import check_available

        root = Path(args.project or ROOT).resolve()
        name = args.profile or profiles.active()
        dvc_file = profiles.write_pipeline(name, root)  # a bad profile name or key: one line, before Prefect starts
        select_stages(stage_order(dvc_file), stages)
        params = load_params(profiles.params_file(name, root))
        try:  # a model that is not on this machine stops before any stage, with the fetch instruction
            check_available(params.model.base)
        except ThinkactError as e:
            raise ConfigError("model.base", str(e), str(profiles.params_file(name, root))) from None
        result = pipeline(stages=stages, project=args.project, profile=name)
    except ThinkactError as e:
        print(f"pipeline: {e}", file=sys.stderr)
        return 1
    print(result["markdown"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
