"""The thinkact pipeline as a Prefect flow: every stage of dvc.yaml, in dvc.yaml's order, through DVC.

dvc.yaml owns the DAG (DESIGN.md): this flow reads the stage order from it and runs each stage with
`dvc repro --single-item <stage>`, so dvc.lock and DVC's cache hold here exactly as for `dvc repro`, and an
unchanged stage is skipped in both. Prefect adds retries, run history, logs and artifacts. A failed stage
(e.g. the `validate` gate) stops the flow; nothing downstream runs.

    python -m flows.pipeline                 # run once (a temporary local Prefect server if none is set)
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from prefect import flow, get_run_logger, task

ROOT = Path(__file__).resolve().parent.parent
DVC_FILE = ROOT / "dvc.yaml"


class StageFailed(RuntimeError):
    """A DVC stage exited non-zero; its output is in the task's logs."""


def stage_order(dvc_file: Path = DVC_FILE) -> list[str]:
    """The stages of dvc.yaml in the order written there (their DAG order)."""
    return list((yaml.safe_load(dvc_file.read_text(encoding="utf-8")) or {}).get("stages", {}))


@task(retries=1, retry_delay_seconds=10, task_run_name="{stage}")
def run_stage(stage: str) -> str:
    """Run one DVC stage (skipped by DVC when its deps, params and outs are unchanged); stream its output."""
    logger = get_run_logger()
    cmd = [sys.executable, "-m", "dvc", "repro", "--single-item", stage]
    logger.info("$ %s", " ".join(cmd[2:]))
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    skipped = False
    for line in proc.stdout:  # type: ignore[union-attr]
        line = line.rstrip()
        if line:
            logger.info(line)
            skipped |= "didn't change, skipping" in line
    if proc.wait() != 0:
        raise StageFailed(f"stage '{stage}' failed (exit {proc.returncode}); see the log above")
    return "skipped" if skipped else "ran"


@flow(name="thinkact-pipeline", log_prints=True)
def pipeline(stages: list[str] | None = None) -> dict[str, str]:
    """validate -> sft -> grpo -> evaluate -> ... as declared in dvc.yaml; returns what each stage did."""
    results: dict[str, str] = {}
    for stage in stages or stage_order():
        results[stage] = run_stage.with_options(name=stage)(stage)
    return results


if __name__ == "__main__":
    print(pipeline())
