"""Faults a user or a kill can cause (issue #18, items 6 and 7): each ends in one clear ThinkactError / DataError
naming the file, row or field, or is repaired on the next run, never a library traceback.

- a corrupt model folder (truncated, empty or random weights, broken config.json, missing tokenizer files);
- a kill between the two renames of the atomic folder swap, and temporary folders a killed writer left;
- a resumed SFT run keeps the whole loss curve;
- killed register runs left RUNNING in MLflow; the gate's promote tag only after the alias move;
- deeply nested JSON, NaN / Infinity, lone surrogates, empty data files, BFCL records of the wrong shape;
- an output path that is a folder; two runs of the same stage at once (the stage lock)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import write_params
from thinkact.project import PROJECT_ROOT
from thinkact.config import load_params
from thinkact.contract import Example, read_jsonl, write_jsonl
from thinkact.errors import DataError, ThinkactError

FIXTURES = Path(__file__).parent / "fixtures"
DEEP = "[" * 100_000 + "]" * 100_000  # RecursionError in json.loads
MID = "[" * 70 + "]" * 70            # parses, but deeper than contract.MAX_DEPTH


def _good_line() -> dict:
    return {"id": "ex-1", "domain": "orders", "split": "test_id",
            "tools": [{"type": "function", "function": {"name": "get_order", "parameters": {
                "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}],
            "messages": [{"role": "user", "content": "Where is ORD-1?"}],
            "target": {"tool_calls": [{"name": "get_order", "arguments": {"order_id": "ORD-1"}}]}}


# ------------------------------------------------------------------------------------ 6. a corrupt model folder
@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    from thinkact.models import tiny

    size = tiny.TinySize(hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2, num_kv_heads=1,
                         vocab_size=600, warmup_steps=0)
    return tiny.build_cached(tmp_path_factory.mktemp("models"), corpus=None, seed=0, size=size)


def _truncate(folder):
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])


FAULTS = {
    "truncated weights": (_truncate, "model.safetensors"),
    "empty weights": (lambda f: (f / "model.safetensors").write_bytes(b""), "model.safetensors"),
    "random weights": (lambda f: (f / "model.safetensors").write_bytes(os.urandom(4096)), "model.safetensors"),
    "missing weights": (lambda f: (f / "model.safetensors").unlink(), "model.safetensors"),
    "broken config.json": (lambda f: (f / "config.json").write_text("{not json"), "config.json"),
    "config.json without model_type": (lambda f: (f / "config.json").write_text("{}"), "config.json"),
    "missing tokenizer files": (lambda f: [(f / n).unlink() for n in ("tokenizer.json", "tokenizer_config.json")],
                                "tokenizer.json"),
    "broken tokenizer_config.json": (lambda f: (f / "tokenizer_config.json").write_text("{"), "tokenizer_config.json"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_corrupt_model_folder_is_one_error_naming_folder_and_file(fault, tiny_folder, tmp_path):
    from thinkact.models.loading import load_model, load_tokenizer, resolve_device

    folder = tmp_path / "model"
    shutil.copytree(tiny_folder, folder)
    (folder / "thinkact-model.json").unlink()  # a saved model, not a built-in's cache folder
    damage, broken_file = FAULTS[fault]
    damage(folder)
    for load in (lambda: load_model(str(folder), tmp_path, device=resolve_device("cpu")),
                 lambda: load_tokenizer(str(folder), tmp_path)):
        with pytest.raises(ThinkactError) as err:
            load()
        message = str(err.value)
        assert f"model folder '{folder}'" in message and broken_file in message, message
        assert "not found offline" not in message and "hf download" not in message
        assert "\n" not in message


def test_chat_with_a_corrupt_model_is_one_line_not_a_traceback(tiny_folder, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from thinkact.cli import app

    monkeypatch.setenv("THINKACT_PARAMS", str(write_params(tmp_path)))
    folder = tmp_path / "model"
    shutil.copytree(tiny_folder, folder)
    _truncate(folder)
    result = CliRunner().invoke(app, ["chat", "--model", str(folder), "--message", "hi"])
    assert isinstance(result.exception, ThinkactError), result.exception
    assert "model.safetensors is truncated" in str(result.exception)
    assert "delete the folder" in str(result.exception)  # a built-in's cache folder is rebuilt


# --------------------------------------------------------------- 7. the atomic folder swap after a kill
KILL_BETWEEN_RENAMES = textwrap.dedent("""
    import os, signal, sys
    import thinkact.io as io
    real = os.replace
    def replace(src, dst):
        real(src, dst)
        if str(dst).endswith(".model.old"):  # the first rename of the swap is done: killed now
            os.kill(os.getpid(), signal.SIGKILL)
    io.os.replace = replace
    with io.atomic_dir(sys.argv[1]) as tmp:
        (tmp / "weights").write_text("new")
""")


def test_kill_between_the_swap_renames_is_repaired_from_old(tmp_path):
    from thinkact.io import atomic_dir, recover_dirs, stage_lock

    model = tmp_path / "sft" / "model"
    model.mkdir(parents=True)
    (model / "weights").write_text("previous")
    killed = subprocess.run([sys.executable, "-c", KILL_BETWEEN_RENAMES, str(model)], cwd=PROJECT_ROOT)
    assert killed.returncode == -signal.SIGKILL
    assert not model.exists() and (model.parent / ".model.old" / "weights").read_text() == "previous"
    orphans = list(model.parent.glob(".model.*.tmp"))
    assert len(orphans) == 1 and (orphans[0] / "weights").read_text() == "new"
    legacy = model.parent / ".model.abcd1234.tmp"  # what older versions left (no pid in the name)
    legacy.mkdir()
    live = model.parent / f".model.p{os.getpid()}-abcd1234.tmp"  # a writer that still runs: kept
    live.mkdir()

    with stage_lock("sft", model.parent):  # the next run of the stage repairs before it works
        assert (model / "weights").read_text() == "previous"
        assert not (model.parent / ".model.old").exists() and not orphans[0].exists() and not legacy.exists()
        assert live.is_dir()
    shutil.rmtree(live)

    # the same repair where no stage lock is held: the next atomic_dir of the folder, or recover_dirs
    shutil.move(str(model), str(model.parent / ".model.old"))
    assert recover_dirs(model.parent) == [model] and (model / "weights").read_text() == "previous"
    shutil.move(str(model), str(model.parent / ".model.old"))
    with atomic_dir(model) as tmp:
        assert (model / "weights").read_text() == "previous"  # back before the new one is written
        (tmp / "weights").write_text("newer")
    assert (model / "weights").read_text() == "newer" and not list(model.parent.glob(".model.*"))


def test_orphan_temporary_files_are_removed_on_the_next_write(tmp_path):
    from thinkact.io import atomic_write_text

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = tmp_path / f".report.json.p{int(dead.stdout)}-abcd1234.tmp"  # its writer has exited
    orphan.write_text("half")
    atomic_write_text(tmp_path / "report.json", "{}")
    assert not orphan.exists() and (tmp_path / "report.json").read_text() == "{}"


# ----------------------------------------------------------------------- 7. the loss curve across a resume
def test_resumed_sft_keeps_the_whole_loss_curve(quick_project):
    from transformers import TrainerCallback

    from thinkact.tracking import NullRun
    from thinkact.training.sft import train_sft

    class Killed(Exception):
        pass

    class KillAfterSave(TrainerCallback):  # as a kill right after checkpoint-4 is complete
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 4:
                raise Killed

    train = read_jsonl(Path(quick_project.paths.data) / "train.jsonl")
    out = quick_project.paths.stage_dir("sft")
    with pytest.raises(Killed):
        train_sft(quick_project, train, out, NullRun(), data_md5="x", callbacks=[KillAfterSave()])
    result = train_sft(quick_project, train, out, NullRun(), data_md5="x")
    assert result.resumed_from.endswith("checkpoint-4") and result.steps == 6
    curve = json.loads((out / "loss.json").read_text())
    assert [row["step"] for row in curve] == [1, 2, 3, 4, 5, 6]
    assert all(isinstance(row["loss"], float) for row in curve)


# -------------------------------------------------------------------- 7. the register stage and MLflow
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One sqlite MLflow store for this module's registry tests (creating one takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def registry(store, request):
    from thinkact.tracking.model_registry import Registry

    return Registry(f"agent-{request.node.name[:40]}", uri=store)


def test_killed_register_runs_are_marked_killed_on_the_next_start(registry, tmp_path):
    from thinkact.io import stage_lock
    from thinkact.tracking import EXPERIMENT
    from thinkact.tracking.model_registry import LOCK_TAG

    client = registry.client
    folder = tmp_path / "outputs" / "register"
    found = client.get_experiment_by_name(EXPERIMENT)
    experiment = found.experiment_id if found else client.create_experiment(EXPERIMENT)
    with stage_lock("register", folder) as lock:  # a register run that was killed: its run never ended
        killed = client.create_run(experiment, tags={"thinkact.stage": "register", LOCK_TAG: lock}).info.run_id
    elsewhere = client.create_run(experiment, tags={"thinkact.stage": "register", LOCK_TAG: "other-host:/x/.lock"})
    untagged = client.create_run(experiment, tags={"thinkact.stage": "register"})
    with stage_lock("register", folder) as lock:
        assert registry.close_stale_runs("register", lock) == [killed]
    assert client.get_run(killed).info.status == "KILLED"
    assert client.get_run(elsewhere.info.run_id).info.status == "RUNNING"  # another project or machine's
    assert client.get_run(untagged.info.run_id).info.status == "RUNNING"


def test_promote_tag_is_written_only_after_the_alias_move(registry, monkeypatch):
    from thinkact.promotion.champion import apply
    from thinkact.promotion.gate import forced

    registry.client.create_registered_model(registry.name)
    version = str(registry.client.create_model_version(registry.name, source="file:///nowhere").version)
    decision = forced(version, None, metric="tool_call", who="test", why="a kill during the alias move")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as a kill between the tags and the alias move

    monkeypatch.setattr(registry, "set_alias", killed)
    with pytest.raises(KeyboardInterrupt):
        apply(registry, decision, version)
    tags = registry.get(version).tags
    assert "thinkact.gate.promote" not in tags and tags["thinkact.gate.rule"]  # the decision, not its outcome
    assert registry.alias("champion") is None
    monkeypatch.undo()
    apply(registry, decision, version)
    assert registry.get(version).tags["thinkact.gate.promote"] == "true"
    assert registry.alias("champion").version == version


def test_promote_finishes_a_record_killed_after_the_alias_move(registry):
    """Killed after @champion moved but before the outcome tag: `thinkact promote` (the gate again) finds the
    version already champion and writes the missing `thinkact.gate.promote`."""
    from thinkact.config import load_params
    from thinkact.promotion.champion import promote

    registry.client.create_registered_model(registry.name)
    version = str(registry.client.create_model_version(registry.name, source="file:///nowhere").version)
    registry.set_alias("champion", version)             # the move happened, the tag did not
    decision = promote(registry, registry.get(version), load_params())
    assert decision.rule == "none" and registry.get(version).tags["thinkact.gate.promote"] == "true"


# ---------------------------------------------------- 7. deep nesting, NaN, surrogates, empty files (data)
@pytest.mark.parametrize("bad, words", [
    (DEEP, "nested more than 64 levels"),
    (MID, "nested more than 64 levels"),
    ("NaN", "NaN is not a JSON value"),
    ("-Infinity", "-Infinity is not a JSON value"),
    ("1e999", "out of range"),
    ('"\\ud800"', "lone surrogate"),
])
def test_validate_refuses_deep_nesting_nan_and_surrogates_naming_file_and_line(tmp_path, bad, words):
    from thinkact.validation.rows import read_rows

    good = json.dumps(_good_line())
    path = tmp_path / "data.jsonl"
    path.write_text(good + "\n" + good[:-1] + f', "source": {{"x": {bad}}}}}\n', encoding="utf-8")
    rows = read_rows(path)
    assert [r["read_error"] is None for r in rows] == [True, False]
    assert rows[1]["where"] == "data.jsonl:2" and words in rows[1]["read_error"]
    with pytest.raises(DataError, match=rf"data.jsonl:2: .*{words}"):
        read_jsonl(path)


@pytest.mark.parametrize("content", ["", "\n  \n\t\n"])
def test_validate_fails_on_an_empty_or_blank_file_naming_it(tmp_path, content):
    from thinkact.validation import validate

    (tmp_path / "train.jsonl").write_text(content)
    report = validate(tmp_path / "train.jsonl")
    assert not report.success
    assert "train.jsonl: no examples: the file is empty or holds only blank lines" in report.summary()
    episodes = tmp_path / "episodes"  # an episode file of a data folder too
    episodes.mkdir()
    (episodes / "test_id.jsonl").write_text(content)
    (tmp_path / "train.jsonl").write_text(json.dumps(_good_line()).replace('"test_id"', '"train"') + "\n")
    report = validate(tmp_path, shape=False)
    assert not report.success and "episodes/test_id.jsonl: no examples" in report.summary()


def test_score_refuses_a_deeply_nested_prediction_line_and_scores_a_deep_completion_zero(tmp_path):
    from thinkact.evaluation.score import score_file

    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(_good_line()) + "\n")
    preds = tmp_path / "preds.jsonl"
    preds.write_text(f'{{"id": "ex-1", "completion": "x", "extra": {DEEP}}}\n')
    with pytest.raises(DataError, match=r"preds.jsonl:1: nested more than 64 levels"):
        score_file(data, preds, tmp_path / "scores.jsonl")
    for depth in (900, 5000):  # deep arguments in the completion: not a valid call, so 0, never a crash
        nested = "[" * depth + "]" * depth
        completion = ('<think>\nx\n</think>\n\n<tool_call>\n{"name": "get_order", "arguments": {"order_id": '
                      + nested + "}}\n</tool_call>")
        preds.write_text(json.dumps({"id": "ex-1", "completion": completion}) + "\n")
        summary = score_file(data, preds, tmp_path / "scores.jsonl")
        assert summary["test_id"]["tool_call_exact"] == 0.0


@pytest.mark.parametrize("line, field, words", [
    ('{"messages": [{"role": "user", "content": "hi"}], "extra": ' + DEEP + "}", None, "nested more than 64"),
    ('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"type": "function", '
     '"function": {"name": "f", "arguments": {"a": NaN}}}]}]}', None, "NaN is not a JSON value"),
    ('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"type": "function", '
     '"function": {"name": "f", "arguments": "{\\"a\\": Infinity}"}}]}]}',
     "messages.1.tool_calls.0.function.arguments", "Infinity is not a JSON value"),
    ('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [{"type": "function", '
     '"function": {"name": "f", "arguments": ' + json.dumps('{"a": ' + MID + "}") + '}}]}]}',
     "messages.1.tool_calls.0.function.arguments", "nested more than 64"),
    ('{"id": "x\\ud800", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}',
     "id", "lone surrogate"),
])
def test_openai_import_refuses_deep_nan_and_surrogates_naming_line_and_field(tmp_path, line, field, words):
    from thinkact.importers import import_to_file

    source = tmp_path / "chats.jsonl"
    source.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        import_to_file("openai", tmp_path / "out.jsonl", source=source)
    assert err.value.line == 1 and err.value.field == field and words in str(err.value)
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("change, field, words", [
    (lambda d: d.update(id="x\ud800"), "id", "lone surrogate"),
    (lambda d: d["target"]["tool_calls"][0]["arguments"].update(order_id=float("nan")),
     "target.tool_calls.0.arguments.order_id", "nan is not a JSON number"),
    (lambda d: d["target"]["tool_calls"][0]["arguments"].update(order_id=json.loads(MID)), None, "nested more than"),
])
def test_write_jsonl_refuses_what_could_not_be_read_back_naming_the_row(tmp_path, change, field, words):
    good = _good_line()
    bad = _good_line()
    change(bad)
    out = tmp_path / "out.jsonl"
    with pytest.raises(DataError) as err:
        write_jsonl(out, [Example.from_dict(good), Example.from_dict(bad)])
    assert err.value.field == field and words in str(err.value) and "example 2 (id " in str(err.value)
    assert not out.exists()
    str(err.value).encode("utf-8")  # the message itself is printable


# ---------------------------------------------------------------------------- 7. BFCL records of the wrong shape
@pytest.fixture
def bfcl_files(tmp_path, monkeypatch):
    """A fake simple_python category: the question file and its possible answers, written by each test."""
    import thinkact.importers.bfcl as bfcl

    path = tmp_path / "BFCL_v4_simple_python.json"
    (tmp_path / "possible_answer").mkdir()
    monkeypatch.setattr(bfcl, "_files", lambda: {"simple_python": path})

    def write(record: dict | str, answer: dict | str):
        for p, obj in ((path, record), (tmp_path / "possible_answer" / path.name, answer)):
            p.write_text((obj if isinstance(obj, str) else json.dumps(obj)) + "\n", encoding="utf-8")
        return path
    return write


RECORD = {"id": "simple_python_0", "question": [[{"role": "user", "content": "Area of a 10 by 5 triangle?"}]],
          "function": [{"name": "area", "description": "Area.", "parameters": {
              "type": "dict", "properties": {"base": {"type": "integer"}, "height": {"type": "integer"}},
              "required": ["base", "height"]}}]}
ANSWER = {"id": "simple_python_0", "ground_truth": [{"area": {"base": [10], "height": [5]}}]}


def _with(base: dict, path: str, value) -> dict:
    out = json.loads(json.dumps(base))
    keys = path.split(".")
    target = out
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[int(keys[-1]) if isinstance(target, list) else keys[-1]] = value
    return out


@pytest.mark.parametrize("record, answer, in_answers, field", [
    ('["not", "an", "object"]', ANSWER, False, None),
    (_with(RECORD, "question", []), ANSWER, False, "question"),
    (_with(RECORD, "function", "area"), ANSWER, False, "function"),
    (_with(RECORD, "function.0", "area"), ANSWER, False, "function.0"),
    (_with(RECORD, "function.0.parameters", []), ANSWER, False, "function.0.parameters"),
    (_with(RECORD, "function.0.parameters.properties.base", "integer"), ANSWER, False,
     "function.0.parameters.properties.base"),
    (RECORD, {"ground_truth": []}, True, "id"),
    (RECORD, _with(ANSWER, "ground_truth", {"area": {}}), True, "ground_truth"),
    (RECORD, _with(ANSWER, "ground_truth.0", ["area"]), True, "ground_truth.0"),
    (RECORD, _with(ANSWER, "ground_truth.0.area", [10, 5]), True, "ground_truth.0.area"),
    (RECORD, _with(ANSWER, "ground_truth.0.area.base", 10), True, "ground_truth.0.area.base"),
    (RECORD, '{"id": "simple_python_0", "ground_truth": [{"area": {"base": [NaN], "height": [5]}}]}', True, None),
])
def test_bfcl_records_of_the_wrong_shape_name_line_and_field(bfcl_files, record, answer, in_answers, field):
    from thinkact.importers.bfcl import import_bfcl

    path = bfcl_files(record, answer)
    with pytest.raises(DataError) as err:
        import_bfcl("simple_python")
    expected = path.parent / "possible_answer" / path.name if in_answers else path
    assert err.value.path == str(expected) and err.value.line == 1 and err.value.field == field, str(err.value)


def test_bfcl_good_fake_record_imports(bfcl_files):
    from thinkact.importers.bfcl import import_bfcl

    bfcl_files(RECORD, ANSWER)
    (example,) = import_bfcl("simple_python")
    assert example.target.tool_calls[0].arguments == {"base": 10, "height": 5}


# ----------------------------------------------------------------------------- 7. output paths that are folders
def test_output_path_that_is_a_folder_is_a_clear_error(tmp_path):
    from thinkact.importers import import_to_file
    from thinkact.io import atomic_dir, atomic_write_json

    folder = tmp_path / "somefolder"
    folder.mkdir()
    with pytest.raises(ThinkactError, match="somefolder: is a folder"):
        import_to_file("openai", folder, source=FIXTURES / "openai_sample.jsonl")
    with pytest.raises(ThinkactError, match="somefolder: is a folder"):
        atomic_write_json(folder, {})
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ThinkactError, match="afile is a file"):
        atomic_write_json(tmp_path / "afile" / "metrics.json", {})
    with pytest.raises(ThinkactError, match="afile: is a file"):
        with atomic_dir(tmp_path / "afile"):
            pass


def test_evaluate_output_file_that_is_a_folder_fails_before_any_model_loads(tmp_path):
    from thinkact.evaluation.runner import run_evaluation

    params = load_params(write_params(tmp_path))
    out = tmp_path / "eval"
    (out / "metrics.json").mkdir(parents=True)
    with pytest.raises(ThinkactError, match=r"metrics.json: is a folder"):
        run_evaluation(params, {"m": "no/such-model"}, {"test_id": [Example.from_dict(_good_line())]}, out)


# ------------------------------------------------------------------------------------------- 7. the stage lock
HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from thinkact.io import stage_lock
    with stage_lock("sft", sys.argv[1]):
        print("held", flush=True)
        time.sleep(60)
""")


def test_a_second_run_of_a_stage_fails_at_once_naming_the_stage_and_lock(tmp_path, monkeypatch, capsys):
    from tasks import stage_main

    monkeypatch.setenv("THINKACT_PARAMS", str(write_params(tmp_path)))
    folder = load_params().paths.stage_dir("sft")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(folder)], cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        ran = []
        assert stage_main("sft", ran.append, "doc", []) == 1 and not ran
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("sft: stage 'sft' is already running (pid ") and f"{folder.parent / '.sft.lock'}" in line
    finally:
        holder.kill()
        holder.wait()
    assert stage_main("sft", ran.append, "doc", []) == 0 and len(ran) == 1  # a killed holder never blocks
