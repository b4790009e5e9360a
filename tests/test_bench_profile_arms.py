"""benchmarks/bench_profile.py's arms without running a stage: which arms `--arms` selects, each arm's params (the
profile's with the overlay, its own outputs and its one model) checked so a bad overlay is one line naming the arm,
and the Markdown of a record with arms (per-split table, paired deltas in points)."""
from __future__ import annotations

import importlib.util

import pytest

from thinkact import profiles
from thinkact.project import PROJECT_ROOT

_spec = importlib.util.spec_from_file_location("bench_profile", PROJECT_ROOT / "benchmarks" / "bench_profile.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_arms_are_selected_in_the_order_given_and_an_unknown_one_stops_at_once():
    assert bench.select_arms(",".join(bench.ARMS)) == ["base_grpo", "think", "sft_reasoning"]
    assert bench.select_arms("") == []
    assert bench.select_arms("think, base_grpo,think") == ["think", "base_grpo"]
    with pytest.raises(SystemExit, match="unknown arm.*bogus; arms: base_grpo, think, sft_reasoning"):
        bench.select_arms("think,bogus")


def test_every_arm_loads_on_the_quick_profile_with_its_own_outputs_and_model():
    raw = profiles.profile_raw("quick")
    for arm, spec in bench.ARMS.items():
        full = bench.arm_raw(raw, arm, "outputs/profiles/quick")
        bench.check_arm(full, "quick", arm)
        assert full["paths"]["outputs"] == f"outputs/profiles/quick/arms/{arm}"
        assert full["evaluate"]["models"] == [spec.trains]
    assert raw["evaluate"]["models"] == ["base", "sft", "grpo"]  # the profile's own params are left as they were
    assert bench.arm_raw(raw, "think", "o")["prompt"]["think_start"] == "The user wants"
    assert bench.arm_raw(raw, "base_grpo", "o")["grpo"]["init"] == "base"


def test_a_bad_overlay_is_one_line_naming_the_arm_and_the_key(monkeypatch):
    monkeypatch.setitem(bench.ARMS, "bad", bench.Arm({"grpo": {"inti": "base"}}, "grpo", ("sft",)))
    with pytest.raises(SystemExit) as e:
        bench.check_arm(bench.arm_raw(profiles.profile_raw("quick"), "bad", "o"), "quick", "bad")
    assert str(e.value).startswith("arm bad: ") and "grpo.inti" in str(e.value) and "\n" not in str(e.value)


def test_markdown_shows_each_arm_with_its_paired_deltas_in_points():
    m = {"exact": {"value": 0.5, "ci": [0.25, 0.75], "n": 8}, "reasoning_words": {"value": 12.25, "n": 8}}
    delta = {"arm": 0.5, "other": 0.25, "delta": 0.25, "low": -0.125, "high": 0.5, "n": 8}
    record = {"models": {"sft": {"test_id": m}, "base": {"test_id": m}},
              "arms": {"think": {"overlay": {"prompt": {"open_think": True}}, "trains": "grpo",
                                 "seconds": {"evaluate": 3.0, "grpo": 12.0}, "models": {"grpo": {"test_id": m}},
                                 "episodes": {}, "vs": {"sft": {"test_id": {"exact": delta}}}}}}
    text = bench.markdown(record)
    assert text.index("| base |") < text.index("| sft |")
    assert "### arm think: overlay {\"prompt\": {\"open_think\": true}}, trains grpo (grpo 12 s, evaluate 3 s)" in text
    assert "| think (grpo) | 50.0 [25, 75] |" in text and "| 12.2 |" in text   # words as is, not in %
    assert "think − sft: paired delta in points" in text
    assert "| test_id | +25.0 [-12.5, +50.0] | – |" in text


def test_each_smollm2_arm_reaches_the_stage_as_written(tmp_path):
    """The published profile's arms, checked where the stages read them (no model loads): GRPO's TRL config is the
    profile's grpo.trainer unchanged, base_grpo starts from no folder (the base model), think's rows end inside the
    think block, sft_reasoning's SFT keeps the reasoning."""
    from thinkact.chat_format.template import chat_template
    from thinkact.config import params_from_raw
    from thinkact.errors import ThinkactError
    from thinkact.training.grpo import grpo_config, start_folder

    raw = profiles.profile_raw("smollm2")
    for arm in bench.ARMS:
        params = params_from_raw(bench.arm_raw(raw, arm, str(tmp_path)), f"arm {arm}")
        config = grpo_config(params, tmp_path / arm)
        fields = {k: v for k, v in params.grpo.trainer.items() if k != "report_to"}  # TRL turns "none" into []
        assert {k: getattr(config, k) for k in fields} == fields, arm
        assert params.model.cpu_dtype == "bfloat16"
        if arm == "base_grpo":
            assert start_folder(params) is None
        else:  # the sft stage's model: not trained here, so named as missing
            with pytest.raises(ThinkactError, match=f"arms/{arm}/sft/model has no saved model"):
                start_folder(params)
        assert ("The user wants" in chat_template(params.prompt)) == (arm == "think")
        assert params.sft.with_reasoning == (arm == "sft_reasoning")
