"""The end-of-run summary of a pipeline run: what each stage did, the evaluation table, the promotion decision.

Pure file reading and Markdown, no Prefect: the flow publishes it as a Prefect Markdown artifact and logs it to
the parent MLflow run; `python -m flows.pipeline` and scripts/run-pipeline.sh print it. The evaluation table
is `<paths.outputs>/evaluate/report.md` and the decision `<paths.outputs>/register/decision.md`, written by
those stages; each part is left out while its stage does not exist or has not written it yet.

    python -m flows.summary [PROJECT_DIR]     # print the summary of the outputs there (no stage is run)
    dvc metrics show --json | python -m flows.summary --metrics   # DVC's metrics, one block per file
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

EVALUATION = ("evaluate", "report.md")      # (stage, file): the paper-style table
DECISION = ("register", "decision.md")      # the promotion decision, human readable
DECISION_JSON = ("register", "decision.json")


@dataclass
class StageOutcome:
    """One stage in one pipeline run: ran, skipped (DVC found it unchanged), failed or not run."""

    stage: str
    status: str = "not run"
    seconds: float = 0.0
    attempts: int = 0


@dataclass
class Summary:
    stages: list[StageOutcome]
    evaluation: str | None = None
    decision: str | None = None
    decision_json: dict | None = None
    mlflow: dict[str, str] = field(default_factory=dict)   # run_id, tracking_uri of the parent run

    def statuses(self) -> dict[str, str]:
        return {s.stage: s.status for s in self.stages}

    def markdown(self) -> str:
        lines = ["# thinkact pipeline", "", "| stage | result | seconds |", "|---|---|---|"]
        lines += [f"| {s.stage} | {s.status} | {s.seconds:.1f} |" for s in self.stages]
        if self.mlflow.get("run_id"):
            lines += ["", f"MLflow: parent run `{self.mlflow['run_id']}` (experiment `thinkact`) "
                          f"in `{self.mlflow.get('tracking_uri', '')}`; every stage that ran is a child run."]
        lines += ["", "## Evaluation", "", (self.evaluation or "_no evaluation report yet_").strip()]
        lines += ["", "## Promotion decision", "", (self.decision or "_no promotion decision yet_").strip()]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        return {"stages": self.statuses(), "seconds": {s.stage: round(s.seconds, 1) for s in self.stages},
                "attempts": {s.stage: s.attempts for s in self.stages}, "mlflow": self.mlflow,
                "evaluation": self.evaluation, "decision": self.decision, "decision_json": self.decision_json,
                "markdown": self.markdown()}


def outputs_dir(root: Path) -> Path:
    """`paths.outputs` of the project's params.yaml, relative to the project root."""
    from thinkact.config import PARAMS_FILE, load_params

    out = Path(load_params(root / PARAMS_FILE).paths.outputs)
    return out if out.is_absolute() else root / out


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def summarize(root: Path, stages: list[StageOutcome], mlflow: dict[str, str] | None = None) -> Summary:
    """The summary of a run over `stages`, with the evaluation and decision files found under the outputs."""
    out = outputs_dir(root)
    decision_json = None
    text = _read(out.joinpath(*DECISION_JSON))
    if text:
        try:
            decision_json = json.loads(text)
        except json.JSONDecodeError:
            decision_json = None
    return Summary(stages, evaluation=_read(out.joinpath(*EVALUATION)), decision=_read(out.joinpath(*DECISION)),
                   decision_json=decision_json, mlflow=dict(mlflow or {}))


def _flat(value, prefix: str = ""):  # noqa: ANN001, ANN202
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flat(inner, f"{prefix}{key}.")
    else:
        yield prefix[:-1], value


def metrics_text(dvc_json: dict, max_keys: int = 24, width: int = 110) -> str:
    """`dvc metrics show --json` as one block per metrics file (DVC's own table is one column per key of every
    file, far too wide here); a file with more than `max_keys` values is named with its count only."""
    lines: list[str] = []
    for rev in dvc_json.values():
        for path, entry in sorted((rev.get("data") or {}).items()):
            values = [(k, v) for k, v in _flat(entry.get("data") or {}) if not isinstance(v, str) or len(v) < 40]
            if len(values) > max_keys:
                lines.append(f"{path}: {len(values)} values (the tables above; dvc metrics show {path})")
                continue
            line = f"{path}:"
            for key, value in values:
                item = f" {key}={round(value, 4) if isinstance(value, float) else value}"
                if len(line) + len(item) > width:
                    lines.append(line)
                    line = "   "
                line += item
            lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--metrics"]:
        print(metrics_text(json.load(sys.stdin)))
    else:
        print(summarize(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve(), []).markdown())
