"""The evaluate stage and `thinkact evaluate` on the quick profile: every output is written with the layout the
registry and DVC read, MLflow gets the metrics and files, a missing model or bad setting fails before generation,
and any saved model evaluates on any contract file or BFCL category."""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from conftest import save_untrained, write_params
from thinkact.config import load_params
from thinkact.errors import ConfigError, ThinkactError


@pytest.fixture
def eval_project(quick_project):
    """The quick project with sft/grpo models; the per-turn evaluation only (episodes: tests/test_episode_stage.py)."""
    save_untrained(quick_project, "sft", "grpo")
    history = [{"step": i, "reward": 0.1 * i, "format": 0.2 * i, "tool_call": 0.0} for i in range(1, 4)]
    (quick_project.paths.stage_dir("grpo") / "rewards.json").write_text(json.dumps(history))
    evaluate = quick_project.evaluate
    return dataclasses.replace(quick_project, evaluate=dataclasses.replace(
        evaluate, episodes=dataclasses.replace(evaluate.episodes, splits=())))


def test_stage_writes_metrics_report_predictions_plots_and_logs_them(eval_project):
    from mlflow.tracking import MlflowClient

    from tasks.evaluate import run
    from thinkact.evaluation.metrics import metric_names
    from thinkact.tracking import tracking_uri

    headline = run(eval_project)
    out = eval_project.paths.stage_dir("evaluate")
    metrics = json.loads((out / "metrics.json").read_text())
    splits = ["test_id", "test_env", "test_task"]
    for model in ("base", "sft", "grpo"):
        for split in splits:
            row = metrics[model][split]
            for name in metric_names():
                assert name in row and f"{name}_ci" in row and f"{name}_n" in row
            assert row["format_n"] == 8
    assert set(metrics["deltas"]) == {"sft-base", "grpo-sft"}
    # sft and grpo are the same weights here: greedy decoding gives identical completions, so every delta is 0
    assert all(v == 0 for k, v in metrics["deltas"]["grpo-sft"]["test_id"].items()
               if not k.endswith(("_ci", "_n")) and v is not None)
    rows = [json.loads(line) for line in (out / "predictions" / "grpo" / "test_env.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and {"id", "completion", "scores", "gold_action"} <= set(rows[0])
    for name in ("metrics.png", "deltas.png", "grpo_rewards.png", "metrics.csv", "index.html"):
        assert (out / "plots" / name).stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "## Summary" in report and "test_task tool_call_exact" in report
    info = json.loads((out / "run.json").read_text())
    assert info["splits"] == dict.fromkeys(splits, 8) and set(info["eval_data_md5"]) == set(splits)
    assert set(headline) == {"seconds", *(f"grpo/{s}/tool_call_exact" for s in splits)}
    assert "episodes" not in metrics and "episodes" not in info and "Agent episodes" not in report
    # what DVC's tables show: a file per figure and model, the splits as keys, scalars in %, no lists
    head = {p.stem: json.loads(p.read_text()) for p in (out / "headline").iterdir()}
    assert set(head) == {f"exact_{m}" for m in ("base", "sft", "grpo", "sft-base", "grpo-sft")}
    exact = metrics["grpo"]["test_id"]["tool_call_exact"]
    assert head["exact_grpo"]["test_id"] == round(100 * exact, 1)
    assert head["exact_grpo"]["test_id_lo"] <= head["exact_grpo"]["test_id"] <= head["exact_grpo"]["test_id_hi"]
    assert head["exact_grpo-sft"]["test_env"] == 0 and set(head["exact_sft"]) == {
        f"{s}{k}" for s in splits for k in ("", "_lo", "_hi")}
    assert all(isinstance(v, (int, float)) for row in head.values() for v in row.values())

    client = MlflowClient(tracking_uri())
    (mlrun,) = client.search_runs([client.get_experiment_by_name("thinkact").experiment_id],
                                  "attributes.run_name = 'evaluate'")
    assert mlrun.info.status == "FINISHED"
    assert "grpo/test_id/tool_call_exact" in mlrun.data.metrics
    assert "delta/grpo-sft/test_env/format" in mlrun.data.metrics
    assert mlrun.data.tags["thinkact.eval_md5.test_id"] == info["eval_data_md5"]["test_id"]
    logged = {f.path for f in client.list_artifacts(mlrun.info.run_id)}
    assert {"metrics.json", "headline", "report.md", "run.json", "plots", "predictions"} <= logged


def test_a_failed_run_leaves_the_last_results_whole(eval_project, monkeypatch):
    """DVC leaves persisted outputs in place while the stage runs; the stage itself must not replace them until the
    new run has written everything: a run that fails at its last write (run.json) changes no file."""
    import thinkact.evaluation.runner as runner
    from tasks.evaluate import run

    run(eval_project)
    out = eval_project.paths.stage_dir("evaluate")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def disk_full(path, obj):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(runner, "atomic_write_json", disk_full)
    smaller = dataclasses.replace(eval_project, evaluate=dataclasses.replace(eval_project.evaluate, max_examples=4))
    with pytest.raises(OSError, match="No space"):
        run(smaller)  # predictions, plots, metrics.json and report.md of 4 examples were written before it failed
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []  # no staging folder left


def test_missing_grpo_model_fails_before_generation(quick_project):
    from tasks.evaluate import run

    save_untrained(quick_project, "sft")
    with pytest.raises(ThinkactError, match=r"model 'grpo': .* has no saved model; run its stage first"):
        run(quick_project)
    assert not quick_project.paths.stage_dir("evaluate").exists()


@pytest.mark.parametrize("overrides, key", [
    ({"models": ["base", "dpo"]}, "evaluate.models[1]"),
    ({"splits": ["train"]}, "evaluate.splits[0]"),
    ({"batch_size": 0}, "evaluate.batch_size"),
    ({"bootstrap": {"method": "jackknife"}}, "evaluate.bootstrap.method"),
    ({"max_tokens": 5}, "evaluate.max_tokens"),
])
def test_bad_evaluate_params_name_the_key(tmp_path, overrides, key):
    with pytest.raises(ConfigError, match=re.escape(f"key '{key}'")):
        load_params(write_params(tmp_path, {"evaluate": overrides}))


def test_cli_evaluates_a_saved_folder_on_a_file_and_a_bfcl_category(eval_project, tmp_path):
    from typer.testing import CliRunner

    from thinkact.cli import app

    folder = eval_project.paths.stage_dir("sft") / "model"
    data = Path(eval_project.paths.data) / "test_env.jsonl"
    out = tmp_path / "cli-eval"
    result = CliRunner().invoke(app, ["evaluate", "--model", f"mine={folder}", "--model", "grpo", "--data",
                                      str(data), "--bfcl", "simple_python", "--max-examples", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["mine"]) == {"test_env", "bfcl_simple_python"}
    assert metrics["mine"]["bfcl_simple_python"]["tool_call_exact_n"] == 4
    assert "grpo-mine" in metrics["deltas"]
    assert "bfcl_simple_python tool_call_exact" in result.output


def test_cli_unknown_model_folder_is_one_clear_error(eval_project, tmp_path):
    from typer.testing import CliRunner

    from thinkact.cli import app

    result = CliRunner().invoke(app, ["evaluate", "--model", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert isinstance(result.exception, ThinkactError) and "does not exist" in str(result.exception)


def test_model_labels_are_safe_for_delta_names():
    from thinkact.cli.evaluate import parse_models
    from thinkact.evaluation.runner import label_of

    assert label_of("models:/thinkact-agent@champion") == "champion"
    assert label_of("outputs/sft/model") == "sft_model"
    assert label_of("Qwen/Qwen3-1.7B") == "qwen_qwen3_1_7b"
    assert parse_models(["grpo", "q=Qwen/Qwen3-1.7B"], []) == {"grpo": "grpo", "q": "Qwen/Qwen3-1.7B"}
    assert parse_models([], ["base", "sft"]) == {"base": "base", "sft": "sft"}
    with pytest.raises(ThinkactError, match="two models are labelled 'sft'"):
        parse_models(["sft", "sft"], [])


@pytest.mark.gpu
def test_on_a_gpu_models_evaluate_in_bf16_on_cuda(eval_project):
    import torch

    from thinkact.evaluation.predict import load_for_eval, predict_splits
    from thinkact.contract import read_jsonl

    model, tokenizer = load_for_eval("sft", eval_project)
    weights = next(model.parameters())
    assert weights.device.type == "cuda" and weights.dtype == torch.bfloat16
    examples = {"test_id": read_jsonl(Path(eval_project.paths.data) / "test_id.jsonl")[:4]}
    assert len(predict_splits(model, tokenizer, examples, eval_project.evaluate)["test_id"]) == 4
