"""GRPO on agent episodes (`grpo.mode: episodes`): the prompt is the one SFT and evaluation render, two steps play
whole episodes with the tools running and log the episode rewards and TRL's tool metrics to MLflow, and the mask
TRL trains with keeps every inserted token (tool results, user replies) out of the loss."""
from __future__ import annotations

import json
import os

import pytest

from conftest import make_project, write_params
from thinkact.config import load_params
from thinkact.errors import ConfigError

EPISODE_REWARDS = ["episode_success", "episode_call_recall", "episode_valid_calls"]
TWO_EPISODE_STEPS = {
    "data": {"episode_sizes": {"train": 24, "test_id": 6, "test_env": 6, "test_task": 6}},
    "episodes": {"max_turns": 2, "max_tool_calls": 2, "max_new_tokens": 24},
    "grpo": {"mode": "episodes", "max_examples": 8, "sample_every": 1, "rewards": EPISODE_REWARDS,
             "reward_options": {}, "trainer": {
                 "max_steps": 2, "per_device_train_batch_size": 4, "num_generations": 2, "temperature": 1.0,
                 "max_completion_length": 160, "beta": 0.0, "save_steps": 1, "reward_weights": [1.0, 0.5, 0.2]}}}


@pytest.fixture
def episode_project(tmp_path, monkeypatch):
    return make_project(tmp_path, monkeypatch, TWO_EPISODE_STEPS, models=("sft",))  # GRPO starts untrained


def test_episode_prompt_is_the_prompt_sft_and_evaluation_render(episode_project):
    from transformers import AutoTokenizer

    from thinkact.data.episode_gen import gold_examples
    from thinkact.env.rollout import play_episodes
    from thinkact.env.settings import EpisodesParams
    from thinkact.env.spec import episode_path, read_episodes
    from thinkact.generation import prompt_text
    from thinkact.models.loading import load_model
    from thinkact.training.episode_rollouts import episode_rows

    folder = episode_project.paths.stage_dir("sft") / "model"
    tok = AutoTokenizer.from_pretrained(folder)
    specs = read_episodes(episode_path(episode_project.paths.data, "train"))
    kinds = {s.kind for s in specs}
    assert {"single", "chain", "parallel", "clarify", "no_tool"} <= kinds
    rows = episode_rows(specs, tok)
    for spec, row in zip(specs, rows):
        assert row["prompt"] == prompt_text(tok, gold_examples(spec)[0])  # SFT's rendering of the opening turn
        assert json.loads(row["episode"])["id"] == spec.id
    model, tok = load_model(str(folder), episode_project.paths.models_cache)
    played = play_episodes(model, tok, specs[:3], EpisodesParams(max_turns=1, max_tool_calls=1, max_new_tokens=4))
    assert [tok.decode(r.prompt_ids) for r in played] == [r["prompt"] for r in rows[:3]]  # evaluation's prompt


def test_turn_rewards_are_refused_in_episode_mode(tmp_path):
    """Refused when params load (thinkact.rewards.check_selection), before any stage starts."""
    with pytest.raises(ConfigError, match="grpo.rewards.*episode rewards.*tool_call"):
        load_params(write_params(tmp_path, {**TWO_EPISODE_STEPS, "grpo": {
            **TWO_EPISODE_STEPS["grpo"], "rewards": ["tool_call", "episode_success"],
            "trainer": {**TWO_EPISODE_STEPS["grpo"]["trainer"], "reward_weights": [1.0, 1.0]}}}))
    with pytest.raises(ConfigError, match="grpo.mode.*'dialogue' is not one of turns, episodes"):
        load_params(write_params(tmp_path, {"grpo": {"mode": "dialogue"}}))


@pytest.mark.slow
def test_two_steps_on_episodes_run_tools_log_rewards_and_mask_inserted_tokens(episode_project, monkeypatch):
    from mlflow.tracking import MlflowClient
    from trl import GRPOTrainer

    from tasks.grpo import run

    seen = []  # the batches TRL builds and trains on (its own tensors, recorded on the way into its loss)
    original = GRPOTrainer.compute_loss

    def recording(self, model, inputs, *args, **kwargs):
        seen.append({k: inputs[k].detach().clone() for k in ("completion_ids", "completion_mask", "tool_mask")
                     if k in inputs})
        return original(self, model, inputs, *args, **kwargs)

    monkeypatch.setattr(GRPOTrainer, "compute_loss", recording)
    metrics = run(episode_project)
    assert metrics["steps"] == 2
    out = episode_project.paths.stage_dir("grpo")
    card = json.loads((out / "model" / "thinkact-card.json").read_text())
    assert card["mode"] == "episodes"

    client = MlflowClient(os.environ["MLFLOW_TRACKING_URI"])
    (found,) = client.search_runs([client.get_experiment_by_name("thinkact").experiment_id])
    for key in ["tools/call_frequency", "tools/failure_frequency", "reward",
                *(f"rewards/{name}/mean" for name in EPISODE_REWARDS if name != "episode_valid_calls")]:
        assert [m.step for m in client.get_metric_history(found.info.run_id, key)] == [1, 2], key
    samples = [json.loads(s) for s in (out / "samples" / "step-00002.jsonl").read_text().splitlines()]
    assert len(samples) == 4 and all(s["id"].startswith("ep-train-") for s in samples)

    # The mask TRL trains with: a token carries loss only where the model generated it.
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out / "model")
    assert seen and all("tool_mask" in batch for batch in seen)
    inserted = generated = 0
    for batch in seen:
        for ids, keep, tool in zip(batch["completion_ids"], batch["completion_mask"], batch["tool_mask"]):
            loss_ids = [int(i) for i, k, t in zip(ids, keep, tool) if k and t]
            masked = [int(i) for i, k, t in zip(ids, keep, tool) if k and not t]
            inserted += len(masked)
            generated += len(loss_ids)
            assert "<tool_response>" not in tok.decode(loss_ids)
            if masked:
                assert "<|im_start|>" in tok.decode(masked)  # what the rollout inserted: the next turn's header
    assert inserted > 0 and generated > 0  # some episodes did get tool results or user replies, masked out
