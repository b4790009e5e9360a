"""The end-of-run summary (flows/summary.py): pure file reading and Markdown, checked on written outputs."""
from __future__ import annotations

import json

from conftest import write_params


def test_summary_fits_in_40_lines_with_times_table_decision_run_and_next_steps(tmp_path):
    """The end-of-run summary of a whole run: each stage with its time, the headline in %, the decision in one
    sentence, the MLflow run page, next steps — at most 40 lines."""
    from flows.summary import StageOutcome, summarize

    write_params(tmp_path, {"paths": {"outputs": "outputs"}})
    out = tmp_path / "outputs"
    (out / "evaluate").mkdir(parents=True)
    (out / "register").mkdir()
    (out / "evaluate" / "headline").mkdir()
    row = {f"{s}{k}": v for s in ("test_id", "test_env", "test_task") for k, v in (("", 83.1), ("_lo", 77.0),
                                                                                 ("_hi", 88.4))}
    for name in ("exact_grpo", "exact_sft", "exact_base", "episodes_base", "episodes_sft", "episodes_grpo",
                 "exact_sft-base", "episodes_sft-base", "episodes_grpo-sft"):
        (out / "evaluate" / "headline" / f"{name}.json").write_text(json.dumps(row, sort_keys=True))  # as written
    (out / "evaluate" / "headline" / "exact_grpo-sft.json").write_text(json.dumps(
        {"test_id": 0.0, "test_id_lo": -1.2, "test_id_hi": 1.5}))
    (out / "grpo").mkdir()
    (out / "grpo" / "metrics.json").write_text(json.dumps({"steps": 240, "zero_spread_first": 0.825,
                                                           "zero_spread_last": 0.94}))
    (out / "register" / "decision.json").write_text(json.dumps(
        {"promoted": 0, "challenger": "4", "champion_version": None, "rule": "first_champion",
         "reason": "no champion yet; the challenger must beat base and sft on 'tool_call' and does not beat sft"}))
    stages = [StageOutcome("check", "ran", 2.4), StageOutcome("validate", "ran", 6.1),
              StageOutcome("sft", "ran", 187.0), StageOutcome("grpo", "ran", 145.2, attempts=2),
              StageOutcome("evaluate", "ran", 178.0), StageOutcome("register", "ran", 9.0)]
    md = summarize(tmp_path, stages, {"run_id": "abc123", "experiment_id": "1",
                                      "tracking_uri": "http://alice:s3cr3t@mlflow.local:5000"}).markdown()
    lines = md.splitlines()
    assert len(lines) <= 40, md
    assert lines[0] == "# thinkact pipeline: 6 ran in 8 min 48 s"
    assert "| sft | ran | 3 min 7 s |" in lines and "| grpo | ran (2 attempts) | 2 min 25 s |" in lines
    assert lines.index("| base | 83.1 | 83.1 | 83.1 | 83.1 | 83.1 | 83.1 |") + 2 == lines.index(
        "| grpo | 83.1 | 83.1 | 83.1 | 83.1 | 83.1 | 83.1 |")      # base, sft, grpo
    assert "| grpo − sft | +0.0 [-1.2, +1.5] | n/a [n/a, n/a] |" in md
    assert "**Decision:** version 4 stays @challenger; there is no @champion yet — no champion yet;" in md
    assert "http://alice:***@mlflow.local:5000/#/experiments/1/runs/abc123" in md and "s3cr3t" not in md
    assert "`thinkact chat --model models:/thinkact-agent@challenger`" in md and "mlflow models serve" in md  # none yet
    assert "| model | test_id exact | test_env exact | test_task exact | test_id episodes |" in md  # the splits' order
    assert "0.831" not in md   # one unit: % with one decimal
    assert "**GRPO signal:** groups with zero reward spread (no gradient) 82.5 % of the first steps → 94.0 % of the " \
           "last;" in md
