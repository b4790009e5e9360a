"""The dev split (issue #23, item 6: recipes are chosen on a dev split cut from train, never on the test splits):
the cut is deterministic, stratified and disjoint; sft and grpo (turns, episodes, the difficulty pre-pass) never
receive a held-out row or episode; the evaluate stage writes predictions and metrics under `dev` and the promotion
gate reads the very same rows; off (the default) holds nothing out; bad settings are one ConfigError naming the key,
before any model loads. Small data from the quick profile (tests/conftest.py)."""
from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import pytest

from conftest import make_project, write_params
from thinkact.config import load_params
from thinkact.contract import TURN_TYPES, read_jsonl
from thinkact.data.dev import DevParams, episode_cut, held_episodes, held_rows, kept_rows, row_cut
from thinkact.env.spec import EPISODE_KINDS, episode_path, read_episodes
from thinkact.errors import ConfigError

# 240 train rows (the tests' quick data set) and 30 train episodes
SMALL = {"data": {"episode_sizes": {"train": 30, "test_id": 6, "test_env": 6, "test_task": 6}}}


def project(tmp_path, monkeypatch, models: tuple[str, ...] = (), **sections):
    return make_project(tmp_path, monkeypatch, {**SMALL, **sections}, models=models)


def train_of(params):
    return (read_jsonl(Path(params.paths.data) / "train.jsonl"),
            read_episodes(episode_path(params.paths.data, "train")))


def ids(items) -> list[str]:
    return [x.id for x in items]


def with_dev(params, **dev):
    return dataclasses.replace(params, dev=DevParams(**dev))


def test_the_cut_is_deterministic_stratified_and_disjoint(tmp_path, monkeypatch):
    params = project(tmp_path, monkeypatch)
    assert params.dev == DevParams()   # off by default
    rows, episodes = train_of(params)
    settings = DevParams(examples=24, episodes=10, seed=3)
    kept, held = row_cut(settings, rows)
    assert len(held) == 24 and len(kept) == len(rows) - 24
    assert not set(ids(kept)) & set(ids(held)) and set(ids(kept)) | set(ids(held)) == set(ids(rows))
    assert ids(held) == [r.id for r in rows if r.id in set(ids(held))]   # both halves keep the file's order
    assert row_cut(settings, rows) == (kept, held)                        # pure
    assert set(ids(row_cut(settings, rows[::-1])[1])) == set(ids(held))  # whatever the file's order
    assert set(ids(row_cut(dataclasses.replace(settings, seed=4), rows)[1])) != set(ids(held))
    # stratified: each turn type in proportion (within one row), every one of them present
    total, got = Counter(r.turn_type for r in rows), Counter(r.turn_type for r in held)
    assert set(got) == set(total) == set(TURN_TYPES)
    assert all(abs(got[t] - 24 * total[t] / len(rows)) <= 1.5 for t in total), (got, total)

    kept_e, held_e = episode_cut(settings, episodes)
    assert len(held_e) == 10 and not set(ids(kept_e)) & set(ids(held_e))
    assert {e.kind for e in held_e} == set(EPISODE_KINDS)
    assert Counter(e.kind for e in episode_cut(DevParams(episodes=5), episodes)[1]) == Counter(EPISODE_KINDS)
    # off (the default): nothing held out, everything kept as it was
    assert row_cut(DevParams(), rows) == (rows, []) and episode_cut(DevParams(), episodes) == (episodes, [])


def test_a_cut_larger_than_train_or_asked_for_while_off_names_the_key(tmp_path, monkeypatch):
    rows, episodes = train_of(project(tmp_path, monkeypatch))
    with pytest.raises(ConfigError) as err:
        kept_rows(DevParams(examples=len(rows) + 1), rows)
    assert err.value.key == "dev.examples" and f"holds {len(rows)} examples" in str(err.value)
    with pytest.raises(ConfigError) as err:
        held_episodes(DevParams(episodes=31), episodes)
    assert err.value.key == "dev.episodes" and "holds 30 episodes" in str(err.value)
    with pytest.raises(ConfigError) as err:
        held_rows(DevParams(episodes=3), rows, "--splits")
    assert err.value.key == "--splits" and "dev.examples: 0" in str(err.value)


@pytest.mark.parametrize("overrides, key", [
    ({"dev": {"examples": -1}}, "dev.examples"),
    ({"dev": {"episodes": -2}}, "dev.episodes"),
    ({"dev": {"seed": -1}}, "dev.seed"),
    ({"dev": {"examples": 1.5}}, "dev.examples"),
    ({"evaluate": {"splits": ["test_id", "dev"]}}, "evaluate.splits[1]"),
    ({"dev": {"examples": 5}, "evaluate": {"episodes": {"splits": ["dev"]}}}, "evaluate.episodes.splits[0]"),
    ({"register": {"splits": ["dev"]}}, "register.splits[0]"),
])
def test_bad_dev_settings_fail_when_params_load(tmp_path, overrides, key):
    with pytest.raises(ConfigError) as err:
        load_params(write_params(tmp_path, overrides))
    assert err.value.key == key and str(tmp_path / "params.yaml") in str(err.value)


def test_dev_may_be_named_once_the_cut_is_on(tmp_path):
    params = load_params(write_params(tmp_path, {"dev": {"examples": 5, "episodes": 2}, "evaluate": {
        "splits": ["dev", "test_id"], "episodes": {"splits": ["dev"]}}, "register": {"splits": ["dev"]}}))
    assert params.evaluate.splits == ("dev", "test_id") and params.register.splits == ("dev",)


def _spy(monkeypatch, module, name: str) -> list:
    """Record the examples (or episodes) a trainer's row builder receives, and build the rows as it would."""
    seen: list = []
    original = getattr(module, name)

    def spy(examples, *args, **kwargs):
        seen.extend(examples)
        return original(examples, *args, **kwargs)
    monkeypatch.setattr(module, name, spy)
    return seen


@pytest.mark.slow
def test_sft_trains_only_on_what_the_dev_split_leaves(tmp_path, monkeypatch):
    from tasks.sft import run
    from thinkact.data.episode_gen import gold_examples
    from thinkact.training import sft

    params = project(tmp_path, monkeypatch, dev={"examples": 24, "episodes": 6, "seed": 1},
                     sft={"max_examples": 0, "trainer": {"max_steps": 1}})
    rows, episodes = train_of(params)
    for bad, key, n in (({"examples": 241}, "dev.examples", 240), ({"episodes": 31}, "dev.episodes", 30)):
        with pytest.raises(ConfigError) as err:   # before any model loads
            run(with_dev(params, **bad))
        assert err.value.key == key and f"holds {n}" in str(err.value)
    assert not (params.paths.stage_dir("sft") / "model").exists()

    seen = _spy(monkeypatch, sft, "sft_rows")
    metrics = run(params)
    kept, held = row_cut(params.dev, rows)
    kept_e, held_e = episode_cut(params.dev, episodes)
    cuts = [cut for spec in kept_e for cut in gold_examples(spec)]
    assert ids(seen) == ids(kept) + ids(cuts)
    assert (metrics["examples"], metrics["episode_cuts"]) == (len(rows) - 24 + len(cuts), len(cuts))
    assert not set(ids(seen)) & set(ids(held))
    assert not {i.rsplit(".t", 1)[0] for i in ids(seen) if ".t" in i} & set(ids(held_e))


@pytest.mark.slow
def test_grpo_turns_and_its_difficulty_prepass_see_only_what_the_dev_split_leaves(tmp_path, monkeypatch):
    from tasks.grpo import run
    from thinkact.training import grpo

    params = project(tmp_path, monkeypatch, models=("sft",), dev={"examples": 232, "seed": 2},
                     grpo={"max_examples": 0, "difficulty": {"band": [0.0, 1.0]}})
    rows, _ = train_of(params)
    seen = _spy(monkeypatch, grpo, "grpo_rows")
    metrics = run(params)
    kept, held = row_cut(params.dev, rows)
    assert len(kept) == 8 and ids(seen) == ids(kept) and metrics["examples"] == 8
    lines = (params.paths.stage_dir("grpo") / "difficulty.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(ids(kept))
    assert not set(ids(seen)) & set(ids(held))


@pytest.mark.slow
def test_grpo_episodes_see_only_what_the_dev_split_leaves(tmp_path, monkeypatch):
    from tasks.grpo import run
    from thinkact.training import grpo

    params = project(tmp_path, monkeypatch, models=("sft",), dev={"episodes": 26},
                     episodes={"max_turns": 2, "max_tool_calls": 2, "max_new_tokens": 16},
                     grpo={"mode": "episodes", "max_examples": 0, "reward_options": {},
                           "rewards": ["episode_success", "episode_call_recall"], "trainer": {
                               "max_steps": 1, "per_device_train_batch_size": 4, "num_generations": 2,
                               "max_completion_length": 64, "reward_weights": [1.0, 0.5]}})
    _, episodes = train_of(params)
    seen = _spy(monkeypatch, grpo, "episode_rows")
    metrics = run(params)
    kept, held = episode_cut(params.dev, episodes)
    assert len(kept) == 4 and ids(seen) == ids(kept) and metrics["examples"] == 4
    assert not set(ids(seen)) & set(ids(held))


@pytest.mark.slow
def test_evaluate_writes_dev_like_any_split_and_the_gate_reads_the_same_rows(tmp_path, monkeypatch):
    from tasks.evaluate import run
    from thinkact.evaluation.runner import eval_splits
    from thinkact.promotion.champion import eval_examples, eval_md5

    params = project(tmp_path, monkeypatch, models=("sft",), dev={"examples": 12, "episodes": 6},
                     evaluate={"models": ["base", "sft"], "splits": ["dev", "test_id"], "max_examples": 4,
                               "episodes": {"splits": ["dev"], "max_examples": 3, "k": 1}},
                     register={"splits": ["dev"]})
    rows, episodes = train_of(params)
    held, held_e = row_cut(params.dev, rows)[1], episode_cut(params.dev, episodes)[1]
    headline = run(params)
    out = params.paths.stage_dir("evaluate")
    metrics = json.loads((out / "metrics.json").read_text())
    for model in ("base", "sft"):
        predicted = [json.loads(x)["id"] for x in (out / "predictions" / model / "dev.jsonl").read_text().splitlines()]
        assert predicted == ids(held)[:4]
        played = (out / "predictions" / "episodes" / model / "dev.jsonl").read_text().splitlines()
        assert [json.loads(x)["id"] for x in played] == ids(held_e)[:3]
        assert metrics[model]["dev"]["format_n"] == 4
        assert metrics["episodes"][model]["dev"]["episode_success_n"] == 3
    assert "sft/dev/tool_call_exact" in headline and "episodes/sft/dev/episode_success" in headline
    assert json.loads((out / "run.json").read_text())["splits"] == {"dev": 4, "test_id": 4}
    # register.splits: dev is read by the same function, so the gate compares exactly the rows evaluated
    assert ids(eval_examples(params)["dev"]) == ids(eval_splits(params, ["dev"])["dev"]) == ids(held)[:4]
    assert eval_md5(params) != eval_md5(with_dev(params, examples=12, episodes=6, seed=1))
