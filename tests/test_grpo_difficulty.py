"""Difficulty-aware GRPO (issue #23, item 1): the pre-pass records each prompt's pass rate and the filter keeps
exactly the prompts inside `grpo.difficulty.band`; the share of zero-spread groups reaches MLflow, the progress
lines and metrics.json; dynamic sampling drops zero-spread groups and refills the batch; bad bands fail clearly.

The policy is the quick profile's tiny model, generating for real through TRL; its pass rates are fixed by a reward
registered for the test (`fixed_pass`: the first k of each prompt's G completions pass, k set per prompt), so which
prompts belong in a band is known in advance whatever the untrained model writes."""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
import torch

from conftest import make_project
from thinkact.contract import read_jsonl
from thinkact.errors import ConfigError
from thinkact.rewards import registered

G = 4
PASSES: dict[str, int] = {}  # example id -> how many of its G completions pass


def fixed_pass(completions, id, **_):
    """1.0 for the first PASSES[id] completions of each prompt's group (TRL scores whole groups, in order), else 0."""
    seen: Counter = Counter()
    out = []
    for prompt_id in id:
        out.append(1.0 if seen[prompt_id] < PASSES[prompt_id] else 0.0)
        seen[prompt_id] += 1
    return out


def overrides(**grpo):
    return {"grpo": {"rewards": ["fixed_pass"], "max_examples": 15, "sample_every": 1, **grpo, "trainer": {
        "max_steps": 2, "per_device_train_batch_size": 8, "num_generations": G, "max_completion_length": 8,
        "reward_weights": [1.0], "save_steps": 2, **grpo.get("trainer", {})}}}


@pytest.fixture
def fixed_policy():
    with registered(fixed_pass):
        yield PASSES
    PASSES.clear()


def project(tmp_path, monkeypatch, passes, **grpo):
    """A quick project whose first 15 train prompts pass `passes(i)` times out of G (i: the prompt's position)."""
    params = make_project(tmp_path, monkeypatch, overrides(**grpo), models=("sft",))
    ids = [ex.id for ex in read_jsonl(Path(params.paths.data) / "train.jsonl")[:15]]
    PASSES.update({prompt_id: passes(i) for i, prompt_id in enumerate(ids)})
    return params, ids


def test_group_records_and_band_keep_exactly_the_prompts_inside(tmp_path):
    from thinkact.training.difficulty import group_records, histogram, in_band

    passes = [0, 1, 2, 3, 4, 2]
    scores = torch.tensor([[1.0 if j < k else 0.0, float("nan")] for k in passes for j in range(G)])
    records = group_records(scores, torch.tensor([1.0, 0.3]), [f"p{i}" for i in range(6)], G, [0], 1.0)
    assert [r["pass_rate"] for r in records] == [0.0, 0.25, 0.5, 0.75, 1.0, 0.5]
    assert [r["zero_spread"] for r in records] == [True, False, False, False, True, False]
    kept = [r["id"] for r in in_band(records, (0.25, 0.5)) if r["kept"]]
    assert kept == ["p1", "p2", "p5"]  # both ends included
    assert histogram(records) == {"0.00": 1, "0.25": 1, "0.50": 2, "0.75": 1, "1.00": 1}


@pytest.mark.slow
def test_prepass_filters_to_the_band_and_every_trained_group_has_spread(fixed_policy, tmp_path, monkeypatch, capsys):
    from mlflow.tracking import MlflowClient

    from tasks.grpo import run

    params, ids = project(tmp_path, monkeypatch, lambda i: i % (G + 1), difficulty={"band": [0.25, 0.75]})
    metrics = run(params)
    out = params.paths.stage_dir("grpo")
    records = [json.loads(line) for line in (out / "difficulty.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ids
    assert [r["pass_rate"] for r in records] == [(i % (G + 1)) / G for i in range(15)]
    inside = {i for i in ids if 1 <= PASSES[i] <= 3}
    assert {r["id"] for r in records if r["kept"]} == inside
    trained = {json.loads(line)["id"] for f in (out / "samples").iterdir() for line in f.read_text().splitlines()}
    assert trained and trained <= inside
    summary = metrics["difficulty"]
    assert summary["candidates"] == 15 and summary["kept"] == 9 and summary["seconds"] > 0
    assert summary["pass_rates"] == {"0.00": 3, "0.25": 3, "0.50": 3, "0.75": 3, "1.00": 3}
    assert metrics["zero_spread_first"] == metrics["zero_spread_last"] == 0.0  # every group in the band has spread
    assert all(isinstance(metrics[k], float) and metrics[k] >= 0 for k in ("entropy_first", "entropy_last"))
    assert "difficulty: 9 of 15 prompts" in capsys.readouterr().out
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    (found,) = client.search_runs([client.get_experiment_by_name("thinkact").experiment_id])
    logged = found.data.metrics
    assert logged["difficulty/kept"] == 9 and logged["difficulty/pass_rate_1.00"] == 3
    assert [m.step for m in client.get_metric_history(found.info.run_id, "frac_reward_zero_std")] == [1, 2]
    assert "difficulty.jsonl" in [a.path for a in client.list_artifacts(found.info.run_id)]


@pytest.mark.slow
def test_without_difficulty_zero_spread_is_counted_and_shown(fixed_policy, tmp_path, monkeypatch, capsys):
    from tasks.grpo import run

    params, _ = project(tmp_path, monkeypatch, lambda i: 0)  # every prompt fails every time: no gradient at all
    monkeypatch.setenv("THINKACT_TRACKING", "0")
    metrics = run(params)
    assert metrics["difficulty"] is None and metrics["zero_spread_last"] == 1.0
    assert (params.paths.stage_dir("grpo") / "difficulty.jsonl").read_text() == ""  # the DVC out, empty when off
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("[grpo] step ") and " reward=" in ln]
    assert lines and all("frac_reward_zero_std=1 " in ln for ln in lines)


@pytest.mark.slow
def test_dynamic_sampling_drops_zero_spread_groups_and_refills(fixed_policy, tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    from tasks.grpo import run

    params, _ = project(tmp_path, monkeypatch, lambda i: 2 if i % 3 == 0 else 0,  # a third of the prompts: spread
                        dynamic_sampling={"max_rounds": 8})
    metrics = run(params)
    assert metrics["steps"] == 2
    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    (found,) = client.search_runs([client.get_experiment_by_name("thinkact").experiment_id])

    def history(key):
        return [m.value for m in client.get_metric_history(found.info.run_id, key)]

    assert history("dynamic_sampling/frac_zero_std_trained") == [0.0, 0.0]  # refilled with informative groups
    assert all(v >= 1 for v in history("dynamic_sampling/rounds"))          # which took extra rounds
    assert all(v > 0 for v in history("frac_reward_zero_std"))              # of sampled groups, before dropping


def test_merge_keeps_informative_groups_first_and_repads():
    from thinkact.training.dynamic_sampling import informative, merge

    def batch(widths, advantages):
        n = len(widths)
        return {"prompt_ids": torch.full((n, 3), 7), "prompt_mask": torch.ones(n, 3, dtype=torch.long),
                "completion_ids": torch.tensor([[5] * w + [0] * (max(widths) - w) for w in widths]),
                "completion_mask": torch.tensor([[1] * w + [0] * (max(widths) - w) for w in widths]),
                "advantages": torch.tensor(advantages), "num_items_in_batch": torch.tensor(sum(widths))}

    weights = torch.tensor([1.0])
    first = batch([2, 2, 1, 3], [0.0, 0.0, 1.0, -1.0])           # group 0 equal rewards, group 1 spread
    keep1 = informative(torch.tensor([[1.0], [1.0], [1.0], [0.0]]), weights, 2)
    second = batch([4, 1, 1, 1], [1.0, -1.0, 0.0, 0.0])          # group 0 spread, group 1 equal
    keep2 = informative(torch.tensor([[1.0], [0.0], [0.5], [0.5]]), weights, 2)
    assert keep1.tolist() == [False, True] and keep2.tolist() == [True, False]
    merged, zero = merge([(first, keep1), (second, keep2)], groups=2, group=2, pad_id=0)
    assert zero == 0 and merged["advantages"].tolist() == [1.0, -1.0, 1.0, -1.0]
    assert merged["completion_mask"].tolist() == [[1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]]
    assert int(merged["num_items_in_batch"]) == 1 + 3 + 4 + 1
    short, zero = merge([(first, keep1)], groups=2, group=2, pad_id=0)  # nothing to refill from: dropped ones fill
    assert zero == 1 and short["advantages"].tolist() == [1.0, -1.0, 0.0, 0.0]


@pytest.mark.slow
def test_band_that_keeps_no_prompt_is_one_error_with_the_histogram(fixed_policy, tmp_path, monkeypatch):
    from tasks.grpo import run

    params, _ = project(tmp_path, monkeypatch, lambda i: G, difficulty={"band": [0.0, 0.5]})  # all always pass
    monkeypatch.setenv("THINKACT_TRACKING", "0")
    with pytest.raises(ConfigError) as err:
        run(params)
    assert err.value.key == "grpo.difficulty.band"
    assert "keeps none of the 15 prompts" in err.value.problem and "1.00: 15" in err.value.problem
    out = params.paths.stage_dir("grpo")
    assert not any((out / name).exists() for name in ("model", "samples", "difficulty.jsonl", "metrics.json"))


@pytest.mark.slow
def test_prepass_plays_episodes_in_episode_mode(tmp_path, monkeypatch):
    """grpo.mode: episodes: the pre-pass plays whole episodes through the trainer's rollout_func, and the episode
    rewards see each episode's result (without it they would be None: no mean reward)."""
    from test_grpo_episodes import TWO_EPISODE_STEPS

    from tasks.grpo import run

    grpo = {**TWO_EPISODE_STEPS["grpo"], "difficulty": {"band": [0.0, 1.0]}}
    params = make_project(tmp_path, monkeypatch, {**TWO_EPISODE_STEPS, "grpo": grpo}, models=("sft",))
    monkeypatch.setenv("THINKACT_TRACKING", "0")
    metrics = run(params)
    records = [json.loads(line) for line in
               (params.paths.stage_dir("grpo") / "difficulty.jsonl").read_text().splitlines()]
    assert metrics["difficulty"]["pass_rewards"] == ["episode_success"]  # the largest weight
    assert len(records) == metrics["difficulty"]["kept"] == 8 and all(r["samples"] == 2 for r in records)
    assert all(r["mean_reward"] is not None and r["pass_rate"] in (0.0, 0.5, 1.0) for r in records)
