"""BFCL in the evaluate stage (`evaluate.bfcl`): each category is one more split, bfcl_<category> (named as `thinkact
evaluate --bfcl` names it), evaluated for every model with the same metrics, in metrics.json, report.md (labelled
as the external benchmark), headline/, run.json and MLflow; the promotion gate never reads it; a bad category name
fails when params.yaml loads, naming the key."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest

from conftest import make_project, write_params
from thinkact.config import load_params
from thinkact.errors import ConfigError

MODELS = ("base", "sft", "grpo")
SPLIT = "bfcl_simple_python"


@pytest.mark.parametrize("categories, index, problem", [
    (["simple_python", "simple_pyton"], 1, "unknown BFCL category 'simple_pyton'; known: "),
    (["nope"], 0, "unknown BFCL category 'nope'; known: "),
    (["simple", "simple_python"], 1, "'simple_python' is 'simple'"),   # an alias and its category: one split twice
])
def test_bad_bfcl_category_names_the_key(tmp_path, categories, index, problem):
    with pytest.raises(ConfigError) as caught:
        load_params(write_params(tmp_path, {"evaluate": {"bfcl": {"categories": categories}}}))
    err = caught.value
    assert err.key == f"evaluate.bfcl.categories[{index}]"
    assert f"key 'evaluate.bfcl.categories[{index}]'" in str(err) and problem in str(err)
    if "known" in problem:
        assert re.search(r"known: .*\bsimple_python\b.*", str(err)) and "parallel" in str(err)


def test_good_bfcl_categories_load_and_name_their_splits_as_the_cli(tmp_path):
    from thinkact.cli.evaluate import load_sets
    from thinkact.evaluation.runner import bfcl_split, bfcl_splits

    params = load_params(write_params(tmp_path, {"evaluate": {"bfcl": {"categories": ["simple", "parallel"],
                                                                       "max_examples": 2}}}))
    assert params.evaluate.bfcl.categories == ("simple", "parallel")
    assert bfcl_split("simple") == bfcl_split("simple_python") == SPLIT
    stage = bfcl_splits(params)
    cli = load_sets([], ["simple", "parallel"], tmp_path, [], limit=2)
    assert list(stage) == list(cli) == [SPLIT, "bfcl_parallel"]
    assert [ex.id for ex in stage[SPLIT]] == [ex.id for ex in cli[SPLIT]] == ["simple_python_0", "simple_python_1"]
    assert bfcl_splits(dataclasses.replace(params, evaluate=dataclasses.replace(
        params.evaluate, bfcl=dataclasses.replace(params.evaluate.bfcl, categories=())))) == {}


def test_stage_evaluates_a_bfcl_category_for_every_model_outside_the_gate(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from tasks.evaluate import run
    from thinkact.promotion.champion import eval_examples, eval_md5
    from thinkact.tracking import tracking_uri

    overrides = {"evaluate": {"episodes": {"splits": []},
                              "bfcl": {"categories": ["simple_python"], "max_examples": 3}}}
    params = make_project(tmp_path, monkeypatch, overrides, models=("sft", "grpo"))
    headline = run(params)
    out = params.paths.stage_dir("evaluate")

    metrics = json.loads((out / "metrics.json").read_text())
    for model in MODELS:
        row = metrics[model][SPLIT]
        assert row["tool_call_exact_n"] == 3 and row["format_n"] == 3 and "tool_call_exact_ci" in row
        assert metrics[model]["test_id"]["format_n"] == 8   # the project's own splits as before
        rows = (out / "predictions" / model / f"{SPLIT}.jsonl").read_text().splitlines()
        assert [json.loads(r)["id"] for r in rows] == [f"simple_python_{i}" for i in range(3)]
    assert SPLIT in metrics["deltas"]["grpo-sft"]
    info = json.loads((out / "run.json").read_text())
    assert info["splits"] == {"test_id": 8, "test_env": 8, "test_task": 8, SPLIT: 3} and SPLIT in info["eval_data_md5"]
    assert f"grpo/{SPLIT}/tool_call_exact" in headline

    report = (out / "report.md").read_text()
    assert f"{SPLIT} (3 examples; external benchmark: BFCL simple_python)" in report
    assert "External benchmark: the Berkeley Function Calling Leaderboard" in report
    section = report.split(f"## {SPLIT} (external benchmark: BFCL simple_python)\n", 1)[1].split("\n## ", 1)[0]
    assert "not in the promotion gate" in section and "tool_call_exact (n=3)" in section
    assert {line.split(" | ")[0].lstrip("| ") for line in section.splitlines()
            if line.startswith("| ") and "---" not in line and "(n=" not in line} == set(MODELS)

    exact = json.loads((out / "headline" / "exact_grpo.json").read_text())
    assert exact[SPLIT] == round(100 * metrics["grpo"][SPLIT]["tool_call_exact"], 1) and f"{SPLIT}_lo" in exact

    client = MlflowClient(tracking_uri())
    (mlrun,) = client.search_runs([client.get_experiment_by_name("thinkact").experiment_id],
                                  "attributes.run_name = 'evaluate'")
    assert f"grpo/{SPLIT}/tool_call_exact" in mlrun.data.metrics
    assert f"delta/grpo-sft/{SPLIT}/format" in mlrun.data.metrics
    assert mlrun.data.tags[f"thinkact.eval_md5.{SPLIT}"] == info["eval_data_md5"][SPLIT]
    assert SPLIT in {d.dataset.name for d in mlrun.inputs.dataset_inputs}

    # the promotion gate: register.splits only, the same data and fingerprint as without BFCL
    without = dataclasses.replace(params, evaluate=dataclasses.replace(params.evaluate, bfcl=dataclasses.replace(
        params.evaluate.bfcl, categories=())))
    assert list(eval_examples(params)) == list(params.register.splits) and SPLIT not in params.register.splits
    assert eval_md5(params) == eval_md5(without)
