"""Lineage that is true (issue #15 item 4): a registered version's run is the sft / grpo run that trained it (the
register run keeps the evaluation and names the versions), the training stages record that run and their train
data (md5, MLflow dataset input) in the model card and the run, and the embedded store keeps artifact locations
relative to the project, so a moved checkout (the old path gone) still loads its champion, through thinkact and
through MLflow's own tools started in the project root. The git_dirty and data-hash tags: tests/test_tracking.py.

    pytest tests/test_lineage.py              # `mlflow ui` on a moved checkout is `slow`
"""
from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from conftest import write_params
from servers import BIN, free_port, server_process
from test_registry import NAME, empty, gold, half, project, tiny_folder  # noqa: F401 - fixtures and writers
from thinkact.io import file_md5

REQUEST = {"messages": [{"role": "user", "content": "Where is my order ORD-12345?"}], "max_tokens": 4}


def _client(uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri, registry_uri=uri)


def _stamp(folder: Path, run_id: str | None) -> None:
    """What the training stage leaves: a card naming the train file's md5 and (tracking on) its MLflow run."""
    card = {"stage": folder.parent.name, "train_md5": "1" * 32, **({"mlflow_run_id": run_id} if run_id else {})}
    (folder / "thinkact-card.json").write_text(json.dumps(card))


# ---- the register stage logs each version to the run that trained it ----------------------------------------------
def test_register_logs_each_version_to_its_training_run(project):
    """grpo's card names its training run: the version is logged there. sft's card names none (trained with
    tracking off): the version falls back to the register run and says why. The gate still finds a version's stored
    predictions, which live in the register run, not in the version's run."""
    from tasks.register import run
    from thinkact.tracking import stage_run
    from thinkact.tracking.model_registry import Registry

    params, predictions = project
    with stage_run("grpo") as trained:  # the grpo stage's run, as tasks/grpo.py opens it
        pass
    _stamp(params.paths.stage_dir("grpo") / "model", trained.run_id)
    _stamp(params.paths.stage_dir("sft") / "model", None)
    predictions("base", empty)
    predictions("sft", empty)
    predictions("grpo", half)
    assert run(params) == {"promoted": True, "challenger": "2", "champion": "2"}
    registry, client = Registry(NAME), _client(Registry(NAME).uri)
    sft, grpo = registry.get("1"), registry.get("2")
    register_run = grpo.tags["thinkact.register_run_id"]
    assert client.get_run(register_run).data.tags["thinkact.stage"] == "register"

    assert grpo.run_id == trained.run_id != register_run                  # MLflow's own link: the training run
    assert grpo.tags["thinkact.source_run"] == "training" and grpo.tags["thinkact.training_run_id"] == trained.run_id
    assert "thinkact.source_run_why" not in grpo.tags and grpo.tags["thinkact.train_md5"] == "1" * 32
    assert sft.run_id == register_run == sft.tags["thinkact.register_run_id"]
    assert sft.tags["thinkact.source_run"] == "register" and "thinkact.training_run_id" not in sft.tags
    assert "names no training run" in sft.tags["thinkact.source_run_why"]

    # the register run keeps the evaluation and names the versions and their runs; the model lives in the training run
    tags = client.get_run(register_run).data.tags
    assert tags["thinkact.grpo_version"] == "2" and tags["thinkact.grpo_version_run"] == trained.run_id
    assert tags["thinkact.sft_version_run"] == register_run
    assert {a.path for a in client.list_artifacts(register_run, "evaluation")} >= {"evaluation/metrics.json",
                                                                                   "evaluation/predictions"}
    assert any(m.source_run_id == trained.run_id for m in client.search_logged_models([
        client.get_run(trained.run_id).info.experiment_id]))
    assert grpo.tags["thinkact.predictions"] == f"runs:/{register_run}/evaluation/predictions/grpo"

    predictions("grpo", gold)  # the next register run: the champion's scores come from its stored predictions
    assert run(params) == {"promoted": True, "challenger": "4", "champion": "4"}
    assert registry.get("4").tags["thinkact.gate.champion_scores"] == "stored predictions"
    assert registry.get("4").run_id == trained.run_id  # the same model folder, the same training run


def test_a_card_naming_a_run_this_store_does_not_hold_falls_back_with_the_reason(project, tmp_path):
    from thinkact.tracking import stage_run
    from thinkact.tracking.model_registry import Registry

    params, _ = project
    folder = params.paths.stage_dir("grpo") / "model"
    _stamp(folder, "0" * 32)  # trained against another store
    with stage_run("register") as registering:
        version = Registry(NAME).log_model(folder, role="grpo", run_id=registering.run_id)
    assert version.run_id == registering.run_id and version.tags["thinkact.source_run"] == "register"
    assert f"training run {'0' * 32} named by the model card is not in" in version.tags["thinkact.source_run_why"]


# ---- the training stages record their run and their data ------------------------------------------------------------
@pytest.mark.parametrize("stage", ["sft", "grpo"])
def test_training_stage_records_its_run_and_train_data(stage, project, tiny_folder, monkeypatch):
    """The stage wiring, with the trainer replaced by one that saves the tiny model through save_final: the card
    says `train_md5` (the md5 of the train file, not a second meaning of "data md5") and the stage's run id, the run
    has the train file as a dataset input with that md5 and the card as an artifact."""
    import importlib

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from thinkact.training.checkpoints import save_final

    params, _ = project
    module = importlib.import_module(f"tasks.{stage}")
    out = params.paths.stage_dir(stage)

    def fake_train(params, train, out_dir, run, data_md5=None, **_):
        trainer = SimpleNamespace(model=AutoModelForCausalLM.from_pretrained(tiny_folder))
        save_final(trainer, AutoTokenizer.from_pretrained(tiny_folder), out_dir / "model",
                   {"stage": stage, "base": "builtin:tiny", "data_md5": data_md5, "steps": 1})
        for name in ("loss.json", "rewards.json"):
            (out_dir / name).write_text("[]")
        return SimpleNamespace(to_dict=lambda: {"steps": 1, "rewards_last": {}, "difficulty": None})

    training = importlib.import_module(f"thinkact.training.{stage}")   # the stage imports these inside run()
    monkeypatch.setattr(training, "check_params", lambda *a, **k: None)
    monkeypatch.setattr(training, f"train_{stage}", fake_train)
    module.run(params)
    card = json.loads((out / "model" / "thinkact-card.json").read_text())
    train = Path(params.paths.data) / "train.jsonl"
    assert card["train_md5"] == file_md5(train) and "data_md5" not in card
    assert "**train_md5**" in (out / "model" / "README.md").read_text()
    client = _client(f"sqlite:///{Path(params.paths.outputs).parent / 'mlflow.db'}")
    found = client.get_run(card["mlflow_run_id"])
    assert found.info.run_name == stage and found.data.tags["thinkact.train_md5"] == card["train_md5"]
    inputs = {d.dataset.name: d for d in found.inputs.dataset_inputs}   # sft: also episodes/train (sft.episode_cuts)
    assert set(inputs) == ({"train", "episodes/train"} if stage == "sft" else {"train"})
    dataset = inputs["train"]
    assert (dataset.dataset.name, dataset.dataset.digest) == ("train", card["train_md5"])
    assert json.loads(dataset.dataset.source)["uri"] == "data/train.jsonl"  # as the project names it
    assert {t.key: t.value for t in dataset.tags}["mlflow.data.context"] == "training"
    logged = json.loads(Path(client.download_artifacts(found.info.run_id, "model/thinkact-card.json",
                                                       str(out))).read_text())
    assert logged["mlflow_run_id"] == found.info.run_id  # the logged card is the stamped one


# ---- a moved checkout ------------------------------------------------------------------------------------------
def _locations(db: Path) -> list[str]:
    with sqlite3.connect(db) as con:
        return [row[0] for query in ("SELECT artifact_location FROM experiments WHERE name = 'thinkact'",
                                     "SELECT artifact_uri FROM runs", "SELECT artifact_location FROM logged_models",
                                     "SELECT storage_location FROM model_versions")
                for row in con.execute(query)]


def _registered_project(root: Path, folder: Path, monkeypatch) -> str:
    """A project at `root` with the embedded store (root/mlflow/mlflow.db, as with no MLFLOW_TRACKING_URI), one
    registered version @champion and a file attached to its register run; returns that run's id."""
    from thinkact.tracking import stage_run
    from thinkact.tracking.model_registry import Registry

    root.mkdir(parents=True)
    monkeypatch.setenv("THINKACT_PARAMS", str(write_params(root)))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("THINKACT_TRACKING", raising=False)
    (root / "notes.md").write_text("evaluation notes")
    registry = Registry(NAME)
    with stage_run("register") as run:
        version = registry.log_model(folder, role="grpo", run_id=run.run_id)
        registry.attach(run.run_id, root / "notes.md", "evaluation")
    registry.set_alias("champion", version.version)
    return run.run_id


def _move(old: Path, new: Path, monkeypatch) -> None:
    new.parent.mkdir(parents=True)
    shutil.move(str(old), str(new))
    assert not old.exists()
    monkeypatch.setenv("THINKACT_PARAMS", str(new / "params.yaml"))


def _loads_champion_there(new: Path, monkeypatch, store: str) -> None:
    """thinkact's resolve_model from another working directory, and MLflow's own pyfunc loader started in the
    project root (`store`: the store URI it is given)."""
    import mlflow

    from thinkact.tracking.model_registry import resolve_model

    monkeypatch.chdir(new.parent)
    folder = resolve_model(f"models:/{NAME}@champion", new / ".cache" / "registry")
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    monkeypatch.chdir(new)
    mlflow.set_tracking_uri(store)  # the conftest guard puts mlflow's globals back
    mlflow.set_registry_uri(store)
    response = mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(REQUEST)
    assert response["object"] == "chat.completion" and response["choices"][0]["message"]["role"] == "assistant"


def test_moved_project_loads_its_champion(tmp_path, tiny_folder, monkeypatch):
    """Artifact locations in the embedded store are relative to the project: after the whole project folder moves
    (the old path gone), the champion still loads, and every stored location is the relative one."""
    old, new = tmp_path / "a" / "proj", tmp_path / "b" / "moved"
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")   # a working directory of its own: the checkout may hold a pipeline's store
    _registered_project(old, tiny_folder, monkeypatch)
    assert (old / "mlflow" / "artifacts").is_dir() and not (Path.cwd() / "mlflow").exists()  # nothing beside cwd
    _move(old, new, monkeypatch)
    _loads_champion_there(new, monkeypatch, "sqlite:///mlflow/mlflow.db")  # the relative URI the docs give mlflow ui
    locations = _locations(new / "mlflow" / "mlflow.db")
    assert len(locations) >= 4 and all(loc.startswith("mlflow/artifacts/") or loc == "mlflow/artifacts"
                                       for loc in locations), locations


def test_a_store_written_with_absolute_paths_is_made_relative(tmp_path, tiny_folder, monkeypatch):
    """A store from before (absolute artifact paths into the old checkout) is rewritten to relative locations the
    first time thinkact opens it in its new place, so the champion registered there loads too."""
    from thinkact.tracking import model_registry, runs

    old, new = tmp_path / "a" / "proj", tmp_path / "b" / "moved"
    with monkeypatch.context() as before:  # thinkact as it was: locations left absolute
        before.setattr(runs, "portable_store", lambda uri: 0, raising=False)
        before.setattr(model_registry, "portable_store", lambda uri: 0, raising=False)
        _registered_project(old, tiny_folder, monkeypatch)
    assert all(loc.startswith(f"file://{old}/mlflow/artifacts") for loc in _locations(old / "mlflow" / "mlflow.db"))
    _move(old, new, monkeypatch)
    # an absolute store URI: MLflow keeps one store per URI string in a process, and the relative one above would
    # still open the previous test's database
    _loads_champion_there(new, monkeypatch, f"sqlite:///{new / 'mlflow' / 'mlflow.db'}")
    assert all(loc.startswith("mlflow/artifacts") for loc in _locations(new / "mlflow" / "mlflow.db"))


@pytest.mark.slow
def test_mlflow_ui_started_in_a_moved_project_shows_its_artifacts(tmp_path, tiny_folder, monkeypatch):
    """`mlflow ui --backend-store-uri sqlite:///mlflow/mlflow.db` started in the moved project's root (the command
    docs/operations.md gives) lists a run's artifacts and serves a registered version's files."""
    old, new = tmp_path / "a" / "proj", tmp_path / "b" / "moved"
    register_run = _registered_project(old, tiny_folder, monkeypatch)
    _move(old, new, monkeypatch)
    monkeypatch.chdir(new)  # the server's working directory
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(BIN / "mlflow"), "ui", "--backend-store-uri", "sqlite:///mlflow/mlflow.db", "--host", "127.0.0.1",
           "--port", str(port), "--workers", "1"]
    with server_process(cmd, url, f"{url}/health", tmp_path / "mlflow-ui.log",
                        env={"MLFLOW_DISABLE_TELEMETRY": "true"}) as server:
        server.wait()
        listed = httpx.get(f"{url}/ajax-api/2.0/mlflow/artifacts/list",
                           params={"run_id": register_run, "path": "evaluation"}, timeout=30)
        assert listed.status_code == 200, listed.text
        assert [f["path"] for f in listed.json()["files"]] == ["evaluation/notes.md"]
        note = httpx.get(f"{url}/get-artifact", params={"run_uuid": register_run, "path": "evaluation/notes.md"},
                         timeout=30)
        assert note.status_code == 200 and note.text == "evaluation notes"
        mlmodel = httpx.get(f"{url}/model-versions/get-artifact", params={"name": NAME, "version": "1",
                                                                          "path": "MLmodel"}, timeout=30)
        assert mlmodel.status_code == 200 and "python_function" in mlmodel.text, mlmodel.text
