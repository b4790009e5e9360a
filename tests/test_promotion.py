"""The promotion gate on constructed metric sets: promote, reject, first champion, rollback, pairing rules."""
from __future__ import annotations

import json

from thinkact.evaluation.params import BootstrapParams
from thinkact.promotion.gate import RULE_BOOTSTRAP, RULE_FIRST, RULE_MANUAL, RULE_THRESHOLDS, best, forced, gate

BOOT = BootstrapParams(n_resamples=500, confidence=0.95, seed=0, method="BCa")


def scores(values, metric="tool_call", split="test_id", **other):
    """{split/ex-i: {metric: v, **other metrics}} from a list of values (None = not applicable)."""
    return {f"{split}/ex-{i}": {metric: v, **{k: vs[i] for k, vs in other.items()}} for i, v in enumerate(values)}


def run(challenger, champion, min_improvement=0.0, thresholds=None):
    return gate(challenger, champion, metric="tool_call", bootstrap=BOOT, min_improvement=min_improvement,
                thresholds=thresholds or {}, challenger="2", champion=None if champion is None else "1")


def test_clear_improvement_promotes():
    champ = scores([0.0, 0.2, 0.1, 0.0, 0.3] * 20)
    chall = scores([0.6, 0.9, 0.7, 0.5, 0.8] * 20)
    d = run(chall, champ)
    assert d.promote and d.rule == RULE_BOOTSTRAP and d.n == 100
    assert d.delta_low > 0 and abs(d.delta - 0.58) < 1e-9 and d.delta_low <= d.delta <= d.delta_high


def test_noise_is_rejected_and_margin_matters():
    champ = scores([0.0, 1.0] * 40)
    noisy = scores([1.0, 0.0] * 20 + [0.0, 1.0] * 20)   # same mean, pairs disagree
    d = run(noisy, champ)
    assert not d.promote and d.delta_low < 0 < d.delta_high and "champion stays" in d.reason
    better = scores([0.5, 1.0] * 40)                      # +0.25 on every other example
    assert run(better, champ).promote
    assert not run(better, champ, min_improvement=0.5).promote   # lower bound 0.25-ish is not above 0.5


def test_worse_challenger_is_rejected():
    d = run(scores([0.0] * 30 + [0.5] * 30), scores([1.0] * 60))
    assert not d.promote and d.delta < 0


def test_pairs_by_key_and_drops_none_pairwise():
    champ = {"test_id/a": {"tool_call": 0.0}, "test_id/b": {"tool_call": None}, "test_env/c": {"tool_call": 0.0},
             "test_env/only-champ": {"tool_call": 1.0}}
    chall = {"test_id/a": {"tool_call": 1.0}, "test_id/b": {"tool_call": 1.0}, "test_env/c": {"tool_call": None},
             "test_task/only-chall": {"tool_call": 0.0}}
    d = run(chall, champ)
    assert d.n == 1 and not d.promote and "too few" in d.reason   # only test_id/a has both


def test_identical_models_never_promote():
    same = scores([0.0, 0.5, 1.0] * 30)
    d = run(same, same)
    assert not d.promote and d.delta == 0.0 and d.delta_low == 0.0


def test_first_champion_thresholds_met_and_unmet():
    chall = scores([0.4, None, 0.6] * 10, format=[1.0, 1.0, 0.0] * 10, answer=[None, 0.9, None] * 10)
    met = run(chall, None, thresholds={"format": 0.6, "answer": 0.8})
    assert met.promote and met.rule == RULE_THRESHOLDS and met.champion is None
    assert {t.metric: t.passed for t in met.thresholds} == {"answer": True, "format": True}
    assert abs(met.challenger_mean - 0.5) < 1e-9 and met.n == 20   # None dropped from the pooled mean
    unmet = run(chall, None, thresholds={"format": 0.9, "answer": 0.8})
    assert not unmet.promote and "format 0.666667 < 0.9" in unmet.reason
    never_scored = run(chall, None, thresholds={"argument_accuracy": 0.1})
    assert not never_scored.promote and never_scored.thresholds[0].value is None
    assert run(chall, None).promote   # no thresholds configured: the first challenger wins


def test_first_champion_must_beat_the_base_model_and_the_sft_baseline():
    """Like ZenML's promote step: with no champion, the challenger must beat the base model and the SFT baseline on
    the primary metric (paired, lower bound above min_improvement); thresholds are an extra floor."""
    base = scores([0.0, 0.1, 0.0, 0.2] * 25, format=[0.0] * 100)
    sft = scores([0.6, 0.7, 0.5, 0.6] * 25, format=[1.0] * 100)
    tied = scores([0.7, 0.6, 0.5, 0.6] * 25, format=[1.0] * 100)      # same mean as sft, pairs disagree
    better = scores([0.8, 0.9, 0.7, 0.8] * 25, format=[1.0] * 100)

    def first(chall, thresholds=None):
        return gate(chall, None, metric="tool_call", bootstrap=BOOT, min_improvement=0.0,
                    thresholds=thresholds or {"format": 0.5}, challenger="2", baselines={"base": base, "sft": sft})

    lost = first(tied)   # beats base by far, not the SFT baseline: the format floor alone would have promoted it
    assert not lost.promote and lost.rule == RULE_FIRST
    assert "does not beat sft" in lost.reason and lost.delta == 0.0 and lost.delta_low < 0
    assert [(c.against, c.passed) for c in lost.comparisons] == [("base", True), ("sft", False)]
    won = first(better)
    assert won.promote and "beats base and sft" in won.reason and "closest vs sft" in won.reason
    assert abs(won.delta - 0.2) < 1e-9 and won.delta_low > 0 and abs(won.champion_mean - 0.6) < 1e-9
    floor = first(better, thresholds={"format": 1.5})
    assert not floor.promote and "misses the floor" in floor.reason and "format 1 < 1.5" in floor.reason
    md, tags = won.to_markdown(), won.tags()
    assert "| sft | 0.8 | 0.6 | 0.2 |" in md and tags["thinkact.gate.vs.base"].endswith("pass")
    assert json.loads(won.to_json())["comparisons"][1]["against"] == "sft"


def test_best_of_a_run_names_the_model_and_every_comparison():
    """The register stage's ladder: GRPO tried first (beat base and SFT), then SFT (beat base); the first that
    passes is the decision, named by model, with both models' comparisons; none passing keeps GRPO's decision."""
    base = scores([0.0, 0.1, 0.0, 0.2] * 25)
    sft = scores([0.6, 0.7, 0.5, 0.6] * 25)
    tied = scores([0.7, 0.6, 0.5, 0.6] * 25)

    def first(model, chall, version, baselines):
        return gate(chall, None, metric="tool_call", bootstrap=BOOT, min_improvement=0.0, thresholds={},
                    challenger=version, baselines=baselines, model=model)

    grpo_d = first("grpo", tied, "4", {"base": base, "sft": sft})
    sft_d = first("sft", sft, "3", {"base": base})
    d = best([grpo_d, sft_d])
    assert d.promote and d.model == "sft" and d.challenger == "3" and d.rule == RULE_FIRST
    assert d.reason.startswith("sft (version 3) becomes @champion — grpo (version 4) fails: ")
    assert [(c.model, c.against, c.passed) for c in d.comparisons] == [
        ("grpo", "base", True), ("grpo", "sft", False), ("sft", "base", True)]
    tags, md = d.tags(), d.to_markdown()
    assert tags["thinkact.gate.vs.base"].endswith("pass") and tags["thinkact.gate.grpo.vs.sft"].endswith("fail")
    assert "**promote** sft (version 3)" in md and "| grpo vs sft | " in md and "| model | sft |" in md
    assert best([grpo_d]) is grpo_d                                  # one model tried, nothing to add

    neither = best([grpo_d, first("sft", base, "3", {"base": base})], {"x": "is not considered: no predictions"})
    assert not neither.promote and neither.model == "grpo" and neither.challenger == "4"
    assert neither.reason.startswith("no model of this run becomes @champion — grpo (version 4) fails")
    assert neither.extra["not_tried.x"] == "is not considered: no predictions" and "x is not considered" in (
        neither.reason)

    champion = scores([0.6, 0.7, 0.5, 0.6] * 25)                     # with a champion: each against it, paired
    vs = [gate(c, champion, metric="tool_call", bootstrap=BOOT, min_improvement=0.0, thresholds={}, challenger=v,
               champion="1", model=m) for m, c, v in (("grpo", tied, "4"), ("sft", base, "3"))]
    kept = best(vs)
    assert not kept.promote and "(@champion stays version 1)" in kept.reason
    assert [(c.model, c.against, c.passed) for c in kept.comparisons] == [("grpo", "champion", False),
                                                                          ("sft", "champion", False)]


def test_rollback_is_recorded():
    d = forced("3", "5", metric="tool_call", who="alice", why="regression in prod")
    assert d.promote and d.rule == RULE_MANUAL and d.champion == "5" and d.challenger == "3"
    tags = d.tags()
    assert tags["thinkact.gate.by"] == "alice" and tags["thinkact.gate.previous"] == "5"
    assert "regression in prod" in d.to_markdown()


def test_serialises_to_json_markdown_and_tags():
    d = run(scores([0.6, 0.9, 0.7] * 10), scores([0.1, 0.2, 0.0] * 10), thresholds={"tool_call": 0.1})
    data = json.loads(d.to_json())
    assert data["promote"] is True and data["promoted"] == 1 and data["thresholds"][0]["passed"] is True
    md = d.to_markdown()
    assert "**promote**" in md and "95% CI" in md and "| paired examples | 30 |" in md
    tags = d.tags()
    assert tags["thinkact.gate.promote"] == "true" and float(tags["thinkact.gate.delta_low"]) > 0
    assert all(isinstance(v, str) for v in tags.values())
