"""The MLflow registry on a real sqlite store (never the repo's mlflow/): log + register a tiny saved model,
aliases, resolve_model downloads once and loads, clear errors; the register stage end to end (first champion,
promotion, rejection, rollback, regenerated scores) with the champion never missing once it exists."""
from __future__ import annotations

import os

import dataclasses
import json
import shutil

import pytest

from conftest import QUICK, write_params
from thinkact.chat_format.template import render_target
from thinkact.config import load_params

NAME = "thinkact-agent"


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """A saved tiny model folder (safetensors, tokenizer with the chat template), built once per module."""
    from thinkact.models import tiny

    corpus = ['{"name": "get_order_status", "arguments": {"order_id": "ORD-1"}} the order is on hold'] * 30
    return tiny.build_cached(tmp_path_factory.mktemp("models"), corpus=corpus, seed=0, size=QUICK["model"]["tiny"])


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv("THINKACT_TRACKING", raising=False)
    return tmp_path


def _log(folder, role="grpo", tags=None):
    from thinkact.tracking import stage_run
    from thinkact.tracking.model_registry import Registry

    registry = Registry(NAME)
    with stage_run("register") as run:
        return registry, registry.log_model(folder, role=role, run_id=run.run_id, tags=tags)


def test_round_trip_alias_resolve_and_generate(store, tiny_folder, builtin_examples):
    from thinkact.generation import generate_completions
    from thinkact.models.loading import load_model, resolve_device
    from thinkact.tracking.model_registry import resolve_model

    registry, v = _log(tiny_folder, tags={"thinkact.eval_md5": "abc"})
    assert v.version == "1" and v.role == "grpo" and v.tags["thinkact.eval_md5"] == "abc"
    assert "thinkact.git_commit" in v.tags and "thinkact.data_md5" not in v.tags
    assert v.run_id == v.tags["thinkact.register_run_id"] and v.tags["thinkact.source_run"] == "register"
    registry.set_alias("champion", v.version)
    cache = store / "cache"
    folder = resolve_model(f"models:/{NAME}@champion", cache)
    assert (folder / "model.safetensors").is_file() and (folder / "chat_template.jinja").is_file()
    assert resolve_model(f"models:/{NAME}/1", cache) == folder            # downloaded once, same folder
    assert resolve_model(str(tiny_folder), cache) == tiny_folder          # a local folder is returned as is
    model, tokenizer = load_model(str(folder), cache, device=resolve_device("cpu"))
    assert "<tool_call>" in tokenizer.chat_template
    text = generate_completions(model, tokenizer, builtin_examples["test_id"][:1], max_new_tokens=4, progress=False)
    assert isinstance(text[0], str)
    requirements = (store / "cache").rglob("requirements.txt")
    assert not list(requirements)  # only the model folder is kept in the cache


def test_registry_leaves_mlflow_global_state_as_it_found_it(store, tiny_folder, monkeypatch):
    """log_model/download need mlflow's process-wide URIs; another client in the same process must not inherit them:
    after thinkact's registry calls, mlflow's public getters and a new run answer as they did before."""
    import mlflow

    from thinkact.tracking.model_registry import resolve_model

    other = f"sqlite:///{store / 'other.db'}"
    mlflow.set_tracking_uri(other)   # the caller's own global store, as a user script would set it
    mlflow.set_experiment("callers-own")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")  # thinkact's store (set_ changed it)

    def state():
        with mlflow.start_run() as run:  # lands in the active experiment of the active store
            where = run.info.experiment_id
        mlflow.delete_run(run.info.run_id)
        return mlflow.get_tracking_uri(), mlflow.get_registry_uri(), where, os.environ["MLFLOW_TRACKING_URI"]

    before = state()
    registry, v = _log(tiny_folder)
    registry.set_alias("champion", v.version)
    resolve_model(f"models:/{NAME}@champion", store / "cache")
    assert state() == before and before[:2] == (other, other)
    # (the conftest guard puts the caller's URIs and experiment set above back after this test)


def test_missing_name_alias_version_are_clear_errors(store, tiny_folder):
    from thinkact.tracking.model_registry import RegistryError, resolve_model

    with pytest.raises(RegistryError, match=rf"no registered model '{NAME}'.*registered models: \(none\)"):
        resolve_model(f"models:/{NAME}@champion", store)
    registry, _ = _log(tiny_folder)
    registry.set_alias("challenger", "1")
    with pytest.raises(RegistryError, match=r"no alias 'champion'; aliases: @challenger -> 1; versions: 1"):
        resolve_model(f"models:/{NAME}@champion", store)
    with pytest.raises(RegistryError, match=r"no version 7; versions: 1"):
        resolve_model(f"models:/{NAME}/7", store)
    with pytest.raises(RegistryError, match=r"not a registry model URI"):
        resolve_model("models:/justaname", store)


# ---- the register stage ------------------------------------------------------------------------------------

@pytest.fixture
def project(tmp_path, monkeypatch, tiny_folder):
    """A quick project with sft/grpo models (the tiny folder) and a writer for evaluate's predictions."""
    from thinkact.data.writer import write_dataset

    path = write_params(tmp_path, {
        "evaluate": {"max_examples": 8, "max_new_tokens": 8, "batch_size": 8,
                     "bootstrap": {"n_resamples": 500, "method": "percentile"}},
        "register": {"thresholds": {"format": 0.3}}})
    monkeypatch.setenv("THINKACT_PARAMS", str(path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    params = load_params(path)
    write_dataset(params.paths.data, params.data)
    for role in ("sft", "grpo"):
        shutil.copytree(tiny_folder, params.paths.stage_dir(role) / "model")
    evaluate = params.paths.stage_dir("evaluate")
    evaluate.mkdir(parents=True)
    (evaluate / "metrics.json").write_text(json.dumps({"grpo": {}, "sft": {}}))

    def predictions(role, completion):
        from thinkact.promotion.champion import eval_examples

        for split, exs in eval_examples(params).items():
            out = evaluate / "predictions" / role / f"{split}.jsonl"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text("".join(json.dumps({"id": ex.id, "model": role, "split": split,
                                               "completion": completion(i, ex)}) + "\n" for i, ex in enumerate(exs)))
    return params, predictions


def gold(i, ex):
    return render_target(ex.target.to_dict(), ex.reasoning or "thinking")


def half(i, ex):
    return gold(i, ex) if i % 2 == 0 else ""


def empty(i, ex):
    return ""


def test_register_stage_promotes_rejects_and_rolls_back(project):
    from tasks.register import run
    from thinkact.promotion.champion import promote_challenger, promote_version
    from thinkact.tracking.model_registry import Registry, RegistryError

    params, predictions = project
    out = params.paths.stage_dir("register")
    registry = Registry(NAME)

    predictions("base", empty)
    predictions("sft", half)
    predictions("grpo", half)                        # 0: no champion yet; as good as SFT only: not promoted
    assert run(params) == {"promoted": False, "challenger": "2", "champion": None}
    tags = registry.get("2").tags
    assert tags["thinkact.gate.rule"] == "first_champion" and tags["thinkact.gate.vs.sft"].endswith("fail")
    assert "does not beat sft" in tags["thinkact.gate.reason"] and tags["thinkact.gate.vs.base"].endswith("pass")
    assert tags["thinkact.gate.base_scores"] == "evaluate stage" and registry.alias("champion") is None

    predictions("sft", empty)                        # 1: beats the base model and the SFT baseline, format >= 0.3
    first = run(params)
    assert first == {"promoted": True, "challenger": "4", "champion": "4"}
    assert registry.get("3").role == "sft" and registry.get("4").role == "grpo"
    tags = registry.get("4").tags
    assert tags["thinkact.gate.rule"] == "first_champion" and tags["thinkact.gate.promote"] == "true"
    assert "beats base and sft" in tags["thinkact.gate.reason"]
    # the predictions live in the register run; the tag names it (the version's own run is the training run when
    # known; these folders' cards name none, so it is the register run here, and the version says why)
    register_run = tags["thinkact.register_run_id"]
    assert tags["thinkact.predictions"] == f"runs:/{register_run}/evaluation/predictions/grpo"
    assert len(tags["thinkact.eval_md5"]) == 32 and registry.get("4").run_id == register_run
    assert tags["thinkact.source_run"] == "register" and "names no training run" in tags["thinkact.source_run_why"]
    decision = json.loads((out / "decision.json").read_text())
    assert decision["promoted"] == 1 and decision["versions"] == {"sft": "3", "grpo": "4"}
    assert [c["against"] for c in decision["comparisons"]] == ["base", "sft"]
    assert "Promotion decision" in (out / "decision.md").read_text()

    predictions("grpo", gold)                        # 2: better than the champion on the same examples
    assert run(params) == {"promoted": True, "challenger": "6", "champion": "6"}
    tags = registry.get("6").tags
    assert tags["thinkact.gate.champion"] == "4" and float(tags["thinkact.gate.delta_low"]) > 0
    assert tags["thinkact.gate.champion_scores"] == "stored predictions" and tags["thinkact.previous_champion"] == "4"
    assert tags["thinkact.gate.rule"] == "paired_bootstrap" and "thinkact.gate.vs.base" not in tags

    predictions("grpo", empty)                       # 3: worse: rejected, the champion stays
    assert run(params) == {"promoted": False, "challenger": "8", "champion": "6"}
    assert registry.aliases() == {"champion": "6", "challenger": "8"}
    assert registry.get("8").tags["thinkact.gate.promote"] == "false"

    rollback = promote_version(params, "4", who="tester", why="regression seen in production")
    assert rollback.promote and registry.aliases()["champion"] == "4"
    tags = registry.get("4").tags
    assert tags["thinkact.gate.by"] == "tester" and tags["thinkact.gate.previous"] == "6"
    assert tags["thinkact.gate.why"] == "regression seen in production"
    with pytest.raises(RegistryError, match="no version 99; versions: 1, 2, 3, 4, 5, 6, 7, 8"):
        promote_version(params, "99")
    assert registry.aliases()["champion"] == "4"     # a failed rollback leaves the champion where it was

    # Other evaluation data (fewer examples): neither stored evaluation fits, both are generated again.
    fewer = dataclasses.replace(params, evaluate=dataclasses.replace(params.evaluate, max_examples=3))
    again = promote_challenger(fewer)
    assert again.extra["challenger_scores"].startswith("generated again")
    assert again.extra["champion_scores"].startswith("generated again")
    assert not again.promote and again.delta == 0.0   # same weights, greedy: identical completions
    assert registry.aliases()["champion"] == "4"


def test_register_needs_the_evaluation(project):
    from tasks.register import run
    from thinkact.errors import ThinkactError

    params, _ = project
    with pytest.raises(ThinkactError, match=r"test_id.jsonl: missing; run the evaluate stage first"):
        run(params)
