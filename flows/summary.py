"""The end-of-run summary of a pipeline run, at most 40 lines: each stage with its time, the headline table in %,
the promotion decision in one sentence (which version and model, grpo or sft, and why) with each paired comparison
made, the MLflow run, and what to do next.

Pure file reading and Markdown, no Prefect: the flow publishes it as a Prefect Markdown artifact and logs it to
the parent MLflow run; `python -m flows.pipeline` and scripts/run-pipeline.sh print it. The table comes from
`<paths.outputs>/evaluate/headline/` and the decision from `<paths.outputs>/register/decision.json`, written by
those stages (the full tables stay in `evaluate/report.md` and `register/decision.md`); each part is left out
while its stage has not written it. The tracking URI appears only redacted (thinkact.tracking.redact_uri): the
summary is stored in Prefect and MLflow.

    python -m flows.summary [PROJECT_DIR]     # print the summary of the outputs there (no stage is run)
    dvc metrics show --json | python -m flows.summary --metrics   # DVC's metrics, one block per file
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from thinkact.contract import SPLITS
from thinkact.tracking import redact_uri

EVALUATION = ("evaluate", "report.md")      # (stage, file): the paper-style table
HEADLINE = ("evaluate", "headline")         # the headline numbers in %, a file each (thinkact.evaluation.headline)
DECISION = ("register", "decision.md")      # the promotion decision, human readable
DECISION_JSON = ("register", "decision.json")
GRPO_METRICS = ("grpo", "metrics.json")     # zero_spread_first / zero_spread_last: is there anything left to learn
MODEL_NAME = "thinkact-agent"               # shown in the next steps when params cannot be read
ORDER = ("base", "sft", "grpo")             # rows of the results table, then any other model


@dataclass
class StageOutcome:
    """One stage in one pipeline run: ran, skipped (DVC found it unchanged), failed or not run."""

    stage: str
    status: str = "not run"
    seconds: float = 0.0
    attempts: int = 0


def duration(seconds: float) -> str:
    """3 s, 2 min 5 s, 1 h 2 min."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


@dataclass
class Summary:
    stages: list[StageOutcome]
    evaluation: str | None = None
    decision: str | None = None
    decision_json: dict | None = None
    mlflow: dict[str, str] = field(default_factory=dict)   # run_id, tracking_uri (redacted), experiment_id
    headline: dict | None = None
    grpo: dict | None = None                               # the grpo stage's metrics.json
    model_name: str = MODEL_NAME
    profile: str = "default"
    outputs: str = "outputs"                               # paths.outputs, relative to the project root

    def statuses(self) -> dict[str, str]:
        return {s.stage: s.status for s in self.stages}

    def markdown(self) -> str:
        counts = {k: sum(s.status == k for s in self.stages) for k in ("ran", "skipped", "failed")}
        title = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "nothing run"
        total = duration(sum(s.seconds for s in self.stages))
        named = f" (profile {self.profile})" if self.profile != "default" else ""
        lines = [f"# thinkact pipeline{named}: {title} in {total}", "", "| stage | result | time |", "|---|---|---|"]
        lines += [f"| {s.stage} | {s.status}{f' ({s.attempts} attempts)' if s.attempts > 1 else ''} | "
                  f"{duration(s.seconds) if s.status != 'not run' else '-'} |" for s in self.stages]
        lines += self._results() + self._grpo_signal() + self._decision() + self._where()
        return "\n".join(lines) + "\n"

    def _results(self) -> list[str]:
        """The headline table: exact match per split, then episode success per split, in %, one row per model, and
        the last paired delta (e.g. grpo − sft) with its 95 % interval."""
        h = self.headline or {}
        models = sorted((name.split("_", 1)[1] for name in h if name.startswith("exact_") and "-" not in name),
                        key=lambda m: (ORDER.index(m) if m in ORDER else len(ORDER), m))
        if not models:
            return []

        def splits_of(figure: str) -> list[str]:  # test_id, env, task first; only the splits the figure has
            keys = {k for m in models for k in h.get(f"{figure}_{m}", {}) if not k.endswith(("_lo", "_hi"))}
            return sorted(keys, key=lambda k: (SPLITS.index(k) if k in SPLITS else len(SPLITS), k))

        figures = [f for f in ("exact", "episodes") if any(f"{f}_{m}" in h for m in models)]
        cols = [(f, s) for f in figures for s in splits_of(f)]
        out = ["", "## Results (% of each evaluation split: exact tool call or answer; episode success)", "",
               "| model | " + " | ".join(f"{s} {f}" for f, s in cols) + " |", "|---|" + "---|" * len(cols)]
        out += [f"| {m} | " + " | ".join(_pct(h.get(f"{f}_{m}", {}).get(s)) for f, s in cols) + " |" for m in models]
        pairs = [name.split("_", 1)[1] for name in h if name.startswith("exact_") and "-" in name]
        pairs = [p for p in pairs if p.split("-")[0] == models[-1]] or pairs   # the last model against its baseline
        if pairs:
            pair = pairs[0]
            cells = []
            for f, s in cols:
                d = h.get(f"{f}_{pair}", {})
                cells.append(f"{_signed(d.get(s))} [{_signed(d.get(s + '_lo'))}, {_signed(d.get(s + '_hi'))}]")
            out.append(f"| {pair.replace('-', ' − ')} | " + " | ".join(cells) + " |")
        return out

    def _grpo_signal(self) -> list[str]:
        """One line: the share of GRPO groups whose rewards were all equal (no gradient), first and last 10 % of
        steps."""
        g = self.grpo or {}
        first, last = g.get("zero_spread_first"), g.get("zero_spread_last")
        if not isinstance(first, (int, float)) or not isinstance(last, (int, float)):
            return []
        return ["", f"**GRPO signal:** groups with zero reward spread (no gradient) {_pct(100 * first)} % of the "
                    f"first steps → {_pct(100 * last)} % of the last; near 100 % GRPO has nothing left to learn on "
                    "its prompts (`grpo.difficulty`, `grpo.dynamic_sampling`: docs/pipeline.md)."]

    def _decision(self) -> list[str]:
        d = self.decision_json
        if not d:
            return []
        champion, model = d.get("champion_version"), d.get("model")
        version = f"version {d.get('challenger')}" + (f" ({model})" if model else "")
        if d.get("promoted"):
            verdict = f"{version} is the new @champion"
        elif champion:
            verdict = f"{version} stays @challenger; @champion remains version {champion}"
        else:
            verdict = f"{version} stays @challenger; there is no @champion yet"
        head, _, why = str(d.get("reason", "")).partition(" — ")
        reason = why if why and "becomes @champion" in head else d.get("reason", "")  # gate.best's head: the verdict
        out = ["", f"**Decision:** {verdict} — {reason}"]
        compared = [c for c in d.get("comparisons") or [] if isinstance(c, dict)]
        if compared:   # each paired comparison made, e.g. grpo − sft and sft − base (`register/decision.md`)
            out += ["", f"Compared on `{d.get('metric', '')}` (paired, lower bound must be above "
                        f"{d.get('min_improvement', 0)}): " + "; ".join(
                            f"{c.get('model') or 'challenger'} − {c.get('against')} {_num(c.get('delta'))} "
                            f"[{_num(c.get('low'))}, {_num(c.get('high'))}] {'pass' if c.get('passed') else 'fail'}"
                            for c in compared)]
        return out

    def _where(self) -> list[str]:
        out = [""]
        run_id, uri = self.mlflow.get("run_id"), self.mlflow.get("tracking_uri", "")
        if run_id:
            exp = self.mlflow.get("experiment_id")
            page = f"#/experiments/{exp}/runs/{run_id}" if exp else ""
            if uri.startswith(("http://", "https://")):
                out.append(f"MLflow: parent run `{run_id}` (its stages are child runs): {uri.rstrip('/')}/{page}")
            else:
                out.append(f"MLflow: parent run `{run_id}` (its stages are child runs) in `{uri}`: "
                           f"`mlflow ui --backend-store-uri {uri}`, then http://127.0.0.1:5000/{page}")
        d = self.decision_json or {}
        alias = "champion" if d.get("champion_version") or not d else "challenger"   # no champion yet: the challenger
        model = f"models:/{self.model_name}@{alias}"
        store = f"MLFLOW_TRACKING_URI={uri} " if uri and not uri.startswith(("http://", "https://")) else ""
        out += ["Next:",
                f"- talk to the {alias}: `thinkact chat --model {model}`",
                f"- serve it over the OpenAI API: `thinkact serve --model {model}`; or MLflow's `/invocations` (from "
                f"the project root): `{store}mlflow models serve -m {model} --env-manager local -p 5001`",
                f"- the full tables and figures: `{self.outputs}/evaluate/report.md`, "
                f"`{self.outputs}/evaluate/plots/index.html`, `dvc metrics show {self.outputs}/evaluate/headline`"]
        return out

    def to_dict(self) -> dict:
        return {"stages": self.statuses(), "seconds": {s.stage: round(s.seconds, 1) for s in self.stages},
                "attempts": {s.stage: s.attempts for s in self.stages}, "mlflow": self.mlflow,
                "evaluation": self.evaluation, "decision": self.decision, "decision_json": self.decision_json,
                "headline": self.headline, "markdown": self.markdown()}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def _num(x: float | None) -> str:
    return "n/a" if not isinstance(x, (int, float)) else f"{x:+.3g}"


def _signed(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.1f}"


def _params(root: Path):  # noqa: ANN202
    """The params of the run being summarised: $THINKACT_PARAMS (the flow sets it to its profile's), else
    params.yaml in `root`."""
    from thinkact.project import PARAMS_FILE
    from thinkact.config import load_params

    return load_params(os.environ.get("THINKACT_PARAMS") or root / PARAMS_FILE)


def outputs_dir(root: Path) -> Path:
    """`paths.outputs` of the project's params.yaml, relative to the project root."""
    out = Path(_params(root).paths.outputs)
    return out if out.is_absolute() else root / out


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _json(path: Path) -> dict | None:
    text = _read(path)
    try:
        value = json.loads(text) if text else None
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _headline(folder: Path) -> dict[str, dict] | None:
    """name -> numbers of every file in the headline folder, in the evaluate stage's order; None without it."""
    if not folder.is_dir():
        return None
    found = {p.stem: _json(p) for p in sorted(folder.glob("*.json"))}
    return {k: v for k, v in found.items() if v is not None} or None


def summarize(root: Path, stages: list[StageOutcome], mlflow: dict[str, str] | None = None) -> Summary:
    """The summary of a run over `stages`, with the headline and decision files found under the outputs."""
    out = outputs_dir(root)
    params = _params(root)
    mlflow = {k: redact_uri(v) if k == "tracking_uri" else v for k, v in (mlflow or {}).items()}
    shown = out.relative_to(root) if out.is_relative_to(root) else out
    return Summary(stages, evaluation=_read(out.joinpath(*EVALUATION)), decision=_read(out.joinpath(*DECISION)),
                   decision_json=_json(out.joinpath(*DECISION_JSON)), mlflow=mlflow,
                   headline=_headline(out.joinpath(*HEADLINE)), grpo=_json(out.joinpath(*GRPO_METRICS)),
                   model_name=params.register.model_name,
                   profile=params.profile, outputs=str(shown))


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
