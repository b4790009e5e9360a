"""The `thinkact` command line: help reads, validate and score work end to end, user errors are one line."""
from __future__ import annotations

import json
import subprocess
import sys

from thinkact.chat_template import render_target


def thinkact(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "thinkact.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_help_lists_every_command():
    out = thinkact("--help").stdout
    for command in ("data", "validate", "score", "rewards", "evaluate", "promote", "chat"):
        assert command in out
    assert "generate" in thinkact("data", "--help").stdout


def test_validate_good_and_bad_file(builtin_data, tmp_path):
    good = thinkact("validate", str(builtin_data / "test_id.jsonl"))
    assert good.returncode == 0, good.stderr
    lines = (builtin_data / "test_id.jsonl").read_text().splitlines()
    bad = json.loads(lines[0])
    bad["target"] = {"content": ""}
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([json.dumps(bad), *lines[1:5]]) + "\n")
    failed = thinkact("validate", str(path))
    assert failed.returncode == 1 and bad["id"] in failed.stderr and "Traceback" not in failed.stderr


def test_score_gold_completions_are_perfect(builtin_examples, tmp_path):
    examples = builtin_examples["test_id"][:40]
    data, preds, out = tmp_path / "data.jsonl", tmp_path / "preds.jsonl", tmp_path / "scores.jsonl"
    data.write_text("".join(e.to_json() + "\n" for e in examples))
    preds.write_text("".join(json.dumps({"id": e.id, "completion": render_target(e.target.to_dict(), e.reasoning)}) + "\n"
                             for e in examples))
    run = thinkact("score", "--data", str(data), "--predictions", str(preds), "--out", str(out))
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)["test_id"]
    assert summary["tool_call_exact"] == 1.0 and summary["format"] == 1.0
    assert len(out.read_text().splitlines()) == 40
    preds.write_text(json.dumps({"id": "nope", "completion": "x"}) + "\n")
    missing = thinkact("score", "--data", str(data), "--predictions", str(preds), "--out", str(out))
    assert missing.returncode == 2 and "nope" in missing.stderr and "Traceback" not in missing.stderr
