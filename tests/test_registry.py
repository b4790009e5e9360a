"""The MLflow registry on a real sqlite store (never the repo's mlflow/): log + register a tiny saved model,
aliases, resolve_model downloads once and loads, clear errors; the register stage end to end (the first champion:
GRPO when it beats SFT and base, else SFT when it beats base, else none; promotion over a champion, rejection,
rollback, regenerated scores) with the champion never missing once it exists."""
from __future__ import annotations

import os

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from conftest import QUICK, new_mlflow_store, write_params
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
    monkeypatch.setenv("MLFLOW_TRACKING_URI", new_mlflow_store(tmp_path / "mlflow.db"))
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
    monkeypatch.setenv("MLFLOW_TRACKING_URI", new_mlflow_store(tmp_path / "mlflow.db"))
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
    """The best model the evidence supports: nothing while neither GRPO beats SFT nor SFT beats base; SFT when GRPO
    only ties it (and it serves as a chat model); then a GRPO version that beats that champion; a worse run keeps
    it; a rollback by hand."""
    import mlflow

    from flows.summary import summarize
    from tasks.register import run
    from thinkact.promotion.champion import promote_challenger, promote_version
    from thinkact.tracking.model_registry import Registry, RegistryError

    params, predictions = project
    out = params.paths.stage_dir("register")
    registry = Registry(NAME)

    predictions("base", half)
    predictions("sft", half)
    predictions("grpo", half)                        # 0: GRPO ties SFT, SFT ties base: no champion
    assert run(params) == {"promoted": False, "challenger": "2", "champion": None}
    tags = registry.get("2").tags
    assert tags["thinkact.gate.rule"] == "first_champion" and tags["thinkact.gate.vs.sft"].endswith("fail")
    assert "does not beat" in tags["thinkact.gate.reason"] and tags["thinkact.gate.model"] == "grpo"
    assert tags["thinkact.gate.sft.vs.base"].endswith("fail") and tags["thinkact.gate.base_scores"] == "evaluate stage"
    assert registry.get("1").tags["thinkact.gate.promote"] == "false" and registry.alias("champion") is None
    decision = json.loads((out / "decision.json").read_text())
    assert decision["model"] == "grpo" and decision["reason"].startswith("no model of this run becomes @champion")
    assert [(c["model"], c["against"], c["passed"]) for c in decision["comparisons"]] == [
        ("grpo", "base", False), ("grpo", "sft", False), ("sft", "base", False)]
    assert registry.aliases() == {"challenger": "2"}

    predictions("base", empty)                       # 1: GRPO ties SFT, SFT beats base: SFT becomes champion
    assert run(params) == {"promoted": True, "challenger": "3", "champion": "3"}
    assert registry.get("3").role == "sft" and registry.get("4").role == "grpo"
    assert registry.aliases() == {"champion": "3", "challenger": "3"}
    tags = registry.get("3").tags
    assert tags["thinkact.gate.model"] == "sft" and tags["thinkact.gate.promote"] == "true"
    assert tags["thinkact.gate.vs.base"].endswith("pass") and tags["thinkact.gate.grpo.vs.sft"].endswith("fail")
    assert "thinkact.gate.vs.sft" not in tags                          # SFT's baseline is the base model alone
    assert registry.get("4").tags["thinkact.gate.promote"] == "false"
    decision = json.loads((out / "decision.json").read_text())
    assert decision["promoted"] == 1 and decision["model"] == "sft" and decision["versions"] == {"sft": "3", "grpo": "4"}
    assert decision["reason"].startswith("sft (version 3) becomes @champion — grpo (version 4) fails: ")
    assert [(c["model"], c["against"], c["passed"]) for c in decision["comparisons"]] == [
        ("grpo", "base", True), ("grpo", "sft", False), ("sft", "base", True)]
    assert "**promote** sft (version 3)" in (out / "decision.md").read_text()
    md = summarize(Path(params.paths.outputs).parent, []).markdown()
    assert "**Decision:** version 3 (sft) is the new @champion — grpo (version " in md   # why, once
    assert "becomes @champion" not in md and "becomes @champion" in (out / "decision.json").read_text()
    assert "grpo − sft +0 [+0, +0] fail; sft − base +0." in md and "models:/thinkact-agent@champion" in md
    mlflow.set_tracking_uri(registry.uri)  # MLflow's own loader, as `mlflow models serve` loads it
    mlflow.set_registry_uri(registry.uri)
    reply = mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(
        {"messages": [{"role": "user", "content": "Where is my order ORD-12345?"}], "max_tokens": 4})
    assert reply["object"] == "chat.completion" and reply["choices"][0]["message"]["role"] == "assistant"

    predictions("grpo", gold)                        # 2: better than the (SFT) champion on the same examples
    assert run(params) == {"promoted": True, "challenger": "6", "champion": "6"}
    tags = registry.get("6").tags
    assert tags["thinkact.gate.champion"] == "3" and float(tags["thinkact.gate.delta_low"]) > 0
    assert tags["thinkact.gate.champion_scores"] == "stored predictions" and tags["thinkact.previous_champion"] == "3"
    assert tags["thinkact.gate.rule"] == "paired_bootstrap" and "thinkact.gate.vs.base" not in tags
    assert json.loads((out / "decision.json").read_text())["model"] == "grpo"
    assert "version 6 (grpo) is the new @champion" in summarize(Path(params.paths.outputs).parent, []).markdown()

    predictions("grpo", empty)                       # 3: GRPO and SFT both worse than the champion: it stays
    predictions("sft", empty)
    assert run(params) == {"promoted": False, "challenger": "8", "champion": "6"}
    assert registry.aliases() == {"champion": "6", "challenger": "8"}
    assert registry.get("8").tags["thinkact.gate.promote"] == "false"
    assert registry.get("7").tags["thinkact.gate.rule"] == "paired_bootstrap"   # SFT tried against the champion
    decision = json.loads((out / "decision.json").read_text())
    assert [(c["model"], c["against"], c["passed"]) for c in decision["comparisons"]] == [
        ("grpo", "champion", False), ("sft", "champion", False)]

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


def test_register_promotes_grpo_when_it_wins_and_without_sft_predictions_keeps_the_grpo_gate(project):
    """No champion yet. Without the evaluate stage's SFT predictions only GRPO is gated (its SFT baseline generated
    again from the SFT version) and the decision says why SFT was not considered; with them, a GRPO model that
    beats SFT and base becomes the first champion."""
    from tasks.register import run
    from thinkact.tracking.model_registry import Registry

    params, predictions = project
    out = params.paths.stage_dir("register")
    registry = Registry(NAME)
    predictions("base", empty)
    predictions("grpo", empty)                       # no predictions/sft: GRPO ties base, SFT is not tried
    assert run(params) == {"promoted": False, "challenger": "2", "champion": None}
    decision = json.loads((out / "decision.json").read_text())
    assert decision["model"] == "grpo" and "sft is not considered: the evaluate stage has no predictions" in (
        decision["reason"])
    assert "add sft to evaluate.models" in decision["extra"]["not_tried.sft"]
    assert decision["extra"]["sft_scores"] == "generated again (its evaluation used other data)"
    assert "thinkact.gate.promote" not in registry.get("1").tags   # SFT was not decided on

    predictions("sft", empty)
    predictions("grpo", half)                        # GRPO beats SFT and base: the first champion
    assert run(params) == {"promoted": True, "challenger": "4", "champion": "4"}
    decision = json.loads((out / "decision.json").read_text())
    assert decision["model"] == "grpo" and "beats base and sft" in decision["reason"]
    assert [(c["model"], c["against"], c["passed"]) for c in decision["comparisons"]] == [
        ("grpo", "base", True), ("grpo", "sft", True)]
    assert registry.aliases() == {"champion": "4", "challenger": "4"}


def test_register_needs_the_evaluation(project):
    from tasks.register import run
    from thinkact.errors import ThinkactError

    params, _ = project
    with pytest.raises(ThinkactError, match=r"test_id.jsonl: missing; run the evaluate stage first"):
        run(params)
