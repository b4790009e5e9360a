"""The validate stage: the GX suite rejects every bad-data fixture with the right message, passes good and
built-in data, writes its reports, logs to MLflow, and stops `dvc repro` before anything downstream."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fixtures_bad_data import DEFECTS, TEST_PARAMS, TEST_PARAMS_YAML, good_dataset, write_dataset
from thinkact.project import PROJECT_ROOT
from thinkact.contract import Example
from thinkact.errors import DataError
from thinkact.validation import DOCS_DIR, REPORT_FILE, validate, validate_to_dir
from thinkact.validation import rows as rows_module

VENV_BIN = Path(sys.executable).parent


pytestmark = pytest.mark.usefixtures("no_tracking")  # never the repo's mlflow/


@pytest.fixture(scope="module")
def good_dir(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("good") / "data", good_dataset())


def _failure(report, check):
    return next((o for o in report.failed if o.check == check), None)


# ---- the suite ---------------------------------------------------------------------------------------------


def test_good_fixture_passes(good_dir):
    report = validate(good_dir, TEST_PARAMS)
    assert report.success, report.summary()
    assert report.rows["total"] == 48 and report.rows["unreadable"] == 0
    assert len(report.outcomes) >= 40  # contract, tools, hygiene and 4 x (1 + 6) shape expectations


def test_corpus_has_at_least_15_defects():
    assert len(DEFECTS) >= 15


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_each_defect_is_rejected_with_the_right_message(name, tmp_path):
    defect = DEFECTS[name]
    report = validate(write_dataset(tmp_path / "data", defect.apply()), TEST_PARAMS)
    assert not report.success
    failure = _failure(report, defect.check)
    assert failure is not None, f"{defect.check} did not fail:\n{report.summary()}"
    summary = report.summary()
    assert defect.check in summary
    assert json.loads(json.dumps(report.to_dict()))["failures"]  # the JSON summary holds every kind of result
    if defect.where is not None:  # a row defect: that row is named, with its reason
        assert failure.unexpected_count >= 1
        hits = [r for r in failure.rows if r["where"] == defect.where]
        assert hits, failure.rows
        assert any(defect.reason in r["reason"] for r in hits), hits
        assert defect.where in summary
    else:
        assert defect.reason in summary, summary


def test_builtin_dataset_passes(builtin_data, params):
    report = validate(builtin_data, params.validate)
    assert report.success, report.summary()
    manifest = json.loads((builtin_data / "manifest.json").read_text())
    for split, entry in manifest["splits"].items():
        assert report.rows[split] == entry["examples"]


def test_a_single_file_gets_no_shape_checks(tmp_path):
    data = DEFECTS["argument_wrong_type"].apply()
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(ex) + "\n" for ex in data["train"]), encoding="utf-8")
    report = validate(path, TEST_PARAMS)
    assert not report.shape and not any(o.check.startswith("shape.") for o in report.outcomes)
    assert [o.check for o in report.failed] == ["tools.arguments_valid"]


def test_nothing_to_validate_is_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        validate(tmp_path / "nope", TEST_PARAMS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .jsonl files"):
        validate(tmp_path / "empty", TEST_PARAMS)


def test_reading_in_a_worker_gives_the_same_rows(tmp_path, monkeypatch):
    data = DEFECTS["train_test_leak"].apply()
    data["train"][5] = b"{not json"
    folder = write_dataset(tmp_path / "data", data)
    inline = rows_module.read_rows(folder)
    monkeypatch.setattr(rows_module, "OVERLAP_BYTES", 0)
    called = []
    assert rows_module.read_rows_overlapped(folder, then=lambda: called.append(1)) == inline
    assert called == [1]


def test_fast_contract_check_agrees_with_the_contract(tmp_path):
    """The rows' quick contract check (read_rows' `contract_error`) fails exactly the lines the full contract
    (Example.from_dict) refuses, for every defect of the catalogue."""
    for defect in DEFECTS.values():
        data = defect.apply()
        rows = {r["where"]: r for r in rows_module.read_rows(write_dataset(tmp_path / defect.name, data))}
        for split, lines in data.items():
            for number, line in enumerate(lines or [], start=1):
                if not isinstance(line, dict):
                    continue
                fast = rows[f"{split}.jsonl:{number}"]["contract_error"]
                try:
                    Example.from_dict(line)
                    full = None
                except DataError as e:
                    full = e.problem
                assert (fast is None) == (full is None), (defect.name, fast, full)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=12)
KEYS = ["id", "domain", "split", "tools", "messages", "target", "turn_type", "reasoning"]


@settings(max_examples=150, deadline=None)
@given(key=st.sampled_from(KEYS), path=st.lists(st.integers(0, 3), max_size=3), value=JSON)
def test_any_malformed_example_becomes_a_row_never_a_crash(key, path, value):
    """Replace any part of a good example by arbitrary JSON: the row is built, whatever it holds."""
    ex = good_dataset()["train"][7]
    node, steps = ex, [key, *path]
    for step in steps[:-1]:
        child = node[step] if isinstance(node, dict) and step in node else \
            node[step] if isinstance(node, list) and isinstance(step, int) and step < len(node) else None
        if not isinstance(child, (dict, list)):
            break
        node = child
    last = steps[-1]
    if isinstance(node, dict):
        node[last if isinstance(last, str) else "x"] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = value
    other = value if isinstance(value, dict) else {"x": value}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.jsonl"
        path.write_text(json.dumps(ex) + "\n" + json.dumps(other) + "\n", encoding="utf-8")
        rows = rows_module.read_rows(path)
    assert [r["where"] for r in rows] == ["train.jsonl:1", "train.jsonl:2"]


# ---- reports -----------------------------------------------------------------------------------------------


def test_reports_are_json_and_gx_data_docs(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    report = validate_to_dir(write_dataset(tmp_path / "data", DEFECTS["enum_violation"].apply()), TEST_PARAMS, out)
    summary = json.loads((out / REPORT_FILE).read_text())
    assert summary["success"] is False and summary["expectations"]["failed"] == 1
    (failure,) = summary["failures"]
    assert failure["check"] == "tools.arguments_valid" and failure["unexpected_count"] == 1
    assert failure["expectation"] == "expect_column_values_to_be_null"
    assert "'bored' is not one of" in failure["rows"][0]["reason"]
    index = out / DOCS_DIR / "index.html"
    assert index.is_file() and report.docs_index == str(index)
    pages = [p.read_text(encoding="utf-8") for p in (out / DOCS_DIR / "validations").rglob("*.html")]
    # GX's own rendering of the failed expectation, with the offending value (the reason)
    assert pages and any("args_error" in page and "&#39;bored&#39; is not one of" in page or
                         "'bored' is not one of" in page for page in pages)
    assert (out / "keep.txt").read_text() == "mine"  # only report.json and data_docs/ are replaced


def test_report_metrics_are_flat_numbers(good_dir):
    metrics = validate(good_dir, TEST_PARAMS).metrics()
    assert metrics["validate_success"] == 1.0 and metrics["rows_total"] == 48.0
    assert all(isinstance(v, float) for v in metrics.values())


# ---- the stage, the command, tracking ---------------------------------------------------------------------


def _params_file(tmp_path, data: Path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(f"paths:\n  data: {data}\n  outputs: {tmp_path / 'outputs'}\n" + TEST_PARAMS_YAML)
    return path


def test_stage_exit_codes_and_summary(tmp_path, monkeypatch, capsys):
    from tasks import validate as stage

    good = write_dataset(tmp_path / "good", good_dataset())
    monkeypatch.setenv("THINKACT_PARAMS", str(_params_file(tmp_path, good)))
    assert stage.main([]) == 0
    assert "validation passed" in capsys.readouterr().out
    bad = write_dataset(tmp_path / "bad", DEFECTS["unknown_tool"].apply())
    monkeypatch.setenv("THINKACT_PARAMS", str(_params_file(tmp_path, bad)))
    assert stage.main([]) == 1
    err = capsys.readouterr().err
    assert "tools.calls_offered" in err and "'refund_order', which is not offered" in err
    assert "Traceback" not in err
    assert json.loads((tmp_path / "outputs" / "validate" / REPORT_FILE).read_text())["success"] is False


def test_stage_logs_report_and_data_docs_to_mlflow(tmp_path, monkeypatch, good_dir):
    from tasks import validate as stage
    from thinkact.config import load_params

    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    monkeypatch.setenv("THINKACT_TRACKING", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    result = stage.run(load_params(_params_file(tmp_path, good_dir)))  # raises ValidationFailed on bad data
    assert result["expectations"] > 0 and result["rows"] > 0

    import mlflow

    client = mlflow.MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("thinkact").experiment_id])
    assert run.info.run_name == "validate" and run.info.status == "FINISHED"
    assert run.data.metrics["validate_success"] == 1.0 and run.data.params["validate.show_ids"] == "10"
    monkeypatch.chdir(tmp_path)  # the store's artifact locations are relative to its project (docs/operations.md)
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {REPORT_FILE, DOCS_DIR} <= names
    assert (tmp_path / "mlflow" / "artifacts").is_dir()  # beside the store, not in the cwd


def test_tracking_off_is_a_no_op():
    from thinkact.tracking import NullRun, stage_run, tracking_uri

    assert tracking_uri() is None
    with stage_run("validate", params={"a": 1}) as run:
        assert isinstance(run, NullRun)
        run.log_metrics({"x": 1.0})


def test_command_on_a_file_and_a_folder(tmp_path, good_dir):
    from rich.console import Console

    from thinkact.cli.validate import validate_command

    console = Console(record=True, width=200)
    assert validate_command(good_dir / "train.jsonl", None, console=console) == 0
    bad = write_dataset(tmp_path / "bad", DEFECTS["missing_required_argument"].apply())
    assert validate_command(bad, tmp_path / "report", console=console) == 1
    assert validate_command(tmp_path / "missing.jsonl", None, console=console) == 2
    text = console.export_text()
    assert "validation passed" in text and "'order_id' is a required property" in text and "not found" in text
    assert (tmp_path / "report" / REPORT_FILE).is_file()


# ---- through DVC -------------------------------------------------------------------------------------------

DOWNSTREAM = """
  downstream:
    cmd: python downstream.py
    deps:
      - outputs/validate/report.json
    outs:
      - outputs/downstream
"""
DOWNSTREAM_PY = """import pathlib, time
out = pathlib.Path("outputs/downstream")
out.mkdir(parents=True, exist_ok=True)
(out / "ran.txt").write_text(str(time.time_ns()))
with open("downstream_runs.log", "a") as log:  # outside DVC's outputs: counts every run
    log.write("ran\\n")
"""


def _dvc_project(root: Path) -> dict[str, str]:
    """A copy of the project (package, stages, dvc.yaml + a downstream stage) with the test bounds."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(PROJECT_ROOT / "thinkact", root / "thinkact", ignore=ignore)
    shutil.copytree(PROJECT_ROOT / "tasks", root / "tasks", ignore=ignore)
    import yaml  # the project's own validate stage, then a dummy downstream stage (the training stages need more)

    validate = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]["validate"]
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"validate": validate}}, sort_keys=False) + DOWNSTREAM)
    (root / "downstream.py").write_text(DOWNSTREAM_PY)
    (root / "params.yaml").write_text("paths:\n  data: data\n  outputs: outputs\n" + TEST_PARAMS_YAML
                                      + "episodes:\n  tools: {source: builtin}\n")   # validate's params: the gate replays calls
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", "THINKACT_TRACKING": "0",
           "DVC_NO_ANALYTICS": "1", "GX_ANALYTICS_ENABLED": "false"}
    env.pop("THINKACT_PARAMS", None)
    subprocess.run([str(VENV_BIN / "dvc"), "init", "--no-scm", "-q"], cwd=root, env=env, check=True)
    return env


def _repro(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "dvc"), "repro"], cwd=root, env=env, capture_output=True, text=True)


def _set_data(root: Path, data) -> None:
    shutil.rmtree(root / "data", ignore_errors=True)
    write_dataset(root / "data", data)


@pytest.mark.slow
def test_dvc_repro_passes_then_stops_before_downstream(tmp_path):
    env = _dvc_project(tmp_path)
    _set_data(tmp_path, good_dataset())
    ok = _repro(tmp_path, env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    ran = (tmp_path / "outputs" / "downstream" / "ran.txt").read_text()
    lock = (tmp_path / "dvc.lock").read_text()

    _set_data(tmp_path, DEFECTS["argument_wrong_type"].apply())
    bad = _repro(tmp_path, env)
    assert bad.returncode != 0
    out = bad.stdout + bad.stderr
    assert "tools.arguments_valid" in out and "'three' is not of type 'integer'" in out
    assert "Traceback" not in out
    assert (tmp_path / "downstream_runs.log").read_text() == "ran\n"  # downstream did not run again
    assert (tmp_path / "outputs" / "downstream" / "ran.txt").read_text() == ran  # its outputs stand
    assert (tmp_path / "dvc.lock").read_text() == lock  # nothing recorded for the failed run

    missing = DEFECTS["missing_split_file"]  # a defect of the data set, not of a row: the same pass-through
    _set_data(tmp_path, missing.apply())
    bad = _repro(tmp_path, env)
    out = bad.stdout + bad.stderr
    assert bad.returncode != 0 and "validation failed" in out and missing.check in out and missing.reason in out
    assert (tmp_path / "downstream_runs.log").read_text() == "ran\n" and (tmp_path / "dvc.lock").read_text() == lock


def test_the_stage_fails_with_the_summary_on_every_fixture(tmp_path, monkeypatch, capsys):
    """`python -m tasks.validate` (what dvc.yaml runs) on every bad fixture: exit 1, the failed check and its reason
    on stderr, the failed report written. In process: DVC passes the stage's exit code and output through the same
    way whatever the defect (shown on two kinds of defect, a row and a missing file, in the test above), so the
    per-defect part need not pay a `dvc repro` of ~8 s each."""
    from tasks import validate as stage

    for name, defect in sorted(DEFECTS.items()):
        data = write_dataset(tmp_path / name / "data", defect.apply())
        monkeypatch.setenv("THINKACT_PARAMS", str(_params_file(tmp_path / name, data)))
        assert stage.main([]) == 1, name
        err = capsys.readouterr().err
        assert "validation failed" in err and defect.check in err and defect.reason in err, (name, err)
        assert "Traceback" not in err, name
        report = json.loads((tmp_path / name / "outputs" / "validate" / REPORT_FILE).read_text())
        assert report["success"] is False, name
