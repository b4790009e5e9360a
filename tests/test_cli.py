"""The `thinkact` command line: help reads, validate and score work end to end, user errors are one line."""
from __future__ import annotations

import json
import subprocess
import sys

from thinkact.chat_format.template import render_target


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


# -- conventions: help without Python type names, examples everywhere, -h, --version ----------------------------
TYPE_NAMES = ("<bool>", "<int>", "<float>", "<str>", "<path>", "<bfcl|openai>", "list[", "Path]", "Optional[")


def command_paths():
    """Every command and group of `thinkact` as its argument path ([] is the root)."""
    import typer

    from thinkact.cli import app

    def walk(command, path):
        yield path
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(app), []))


def helps(*flag):
    """{command path: its help text} for every command and group (rich help, as piped: TERM=dumb, 120 columns)."""
    from typer.testing import CliRunner

    from thinkact.cli import app

    out = {}
    for path in command_paths():
        shown = CliRunner().invoke(app, [*path, *(flag or ("--help",))], env={"COLUMNS": "120", "TERM": "dumb"})
        assert shown.exit_code == 0, (path, shown.output)
        out[" ".join(path)] = shown.stdout
    return out


def test_help_names_no_python_type():
    texts = helps()
    assert {"", "data", "data import", "rewards list", "validate", "chat"} <= set(texts)
    for path, text in texts.items():
        assert not [t for t in TYPE_NAMES if t in text], (path, text)


def test_every_help_has_examples():
    for path, text in helps().items():
        assert "Examples:" in text, (path, text)
        assert f"thinkact {path}".rstrip() in text.split("Examples:")[1], (path, text)


def test_h_is_help_everywhere():
    texts = helps()
    assert helps("-h") == texts
    assert all("-h" in text for text in texts.values())


def test_plain_help_names_no_python_type():
    """Without rich (TYPER_USE_RICH=0, Click's plain formatter) no type names either."""
    script = ("import sys; sys.argv[0] = 'thinkact'\n"
              "from typer.testing import CliRunner\nfrom thinkact.cli import app\nimport tests.test_cli as t\n"
              "for p in t.command_paths():\n"
              "    r = CliRunner().invoke(app, [*p, '--help'], env={'COLUMNS': '120'})\n"
              "    assert r.exit_code == 0, r.output\n"
              "    print('=== ' + ' '.join(p)); print(r.stdout)\n")
    from thinkact.project import PROJECT_ROOT

    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT,
                         env={**__import__("os").environ, "TYPER_USE_RICH": "0"})
    assert run.returncode == 0, run.stderr
    assert "╭" not in run.stdout and "=== data import" in run.stdout  # really the plain formatter
    for block in run.stdout.split("=== ")[1:]:
        assert not [t for t in TYPE_NAMES if t in block], block
        assert "Examples:" in block and "-h, --help" in block, block


def test_version_names_thinkact_and_the_ml_stack():
    from importlib import metadata

    run = thinkact("--version")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"thinkact {metadata.version('thinkact')}"
    for dist in ("trl", "transformers", "torch", "mlflow"):
        assert f"{dist} {metadata.version(dist)}" in lines
