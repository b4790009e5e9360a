"""Faults a user or a kill can cause (issue #18, items 6 and 7): each ends in one clear ThinkactError / DataError
naming the file, row or field, or is repaired on the next run, never a library traceback.

- a corrupt model folder (truncated, empty or random weights, broken config.json, missing tokenizer files);
- a kill between the two renames of the atomic folder swap, and temporary folders a killed writer left;
- a resumed SFT run keeps the whole loss curve;
- killed register runs left RUNNING in MLflow; the gate's promote tag only after the alias move;
- (malformed input — deep JSON, NaN, surrogates, empty files, BFCL records of the wrong shape: test_reliability_inputs.py);
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

from conftest import new_mlflow_store, write_params
from test_reliability_inputs import good_line
from thinkact.project import PROJECT_ROOT
from thinkact.config import load_params
from thinkact.contract import Example, read_jsonl
from thinkact.errors import ThinkactError

FIXTURES = Path(__file__).parent / "fixtures"


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
    return new_mlflow_store(tmp_path_factory.mktemp("mlflow") / "mlflow.db")


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
        run_evaluation(params, {"m": "no/such-model"}, {"test_id": [Example.from_dict(good_line())]}, out)


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
