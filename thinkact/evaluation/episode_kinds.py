"""Episode success per kind (issue #23): the agent-episode figures split by what an episode exercises.

A policy that never calls a tool wins the no_tool episodes and nothing else, so a split's overall success can hide
that it lost every episode that needs a tool. Every split's episode success is therefore also reported per kind
(`thinkact.env.spec.EPISODE_KINDS`: single, chain, parallel, clarify, no_tool) and for `tool_needing` (every kind
but no_tool, pooled), each with its bootstrap interval and n, and so are the paired deltas of the evaluation's pairs
(grpo-sft, sft-base). They are the very `bootstrap_ci` and `paired_delta` calls (thinkact.evaluation.stats) of the
overall figures, with the same bootstrap settings, on the episodes of that kind: one implementation, no other.

Layout: metrics.json's `episodes` gets one key, `by_kind`, that repeats the layout around it one level deeper,

    episodes.by_kind.<model>.<split>.<kind>        {episode_success, episode_success_ci, episode_success_n}
                                                   (+ episode_success_no_faults… when the tools' faults are on)
    episodes.by_kind.deltas.<a-b>.<split>.<kind>   the same, for a − b

so what reads `episodes.<model>.<split>` reads `episodes.by_kind.<model>.<split>.<kind>` the same way (the
`<metric>`, `<metric>_ci`, `<metric>_n` keys of `summary.flatten`), the existing keys stay as they were, and no
kind is folded into a metric name (`episode_success@chain` would put 18 more keys beside every split's metrics).
MLflow mirrors it: `<prefix>/by_kind/<model>/<split>/<kind>/episode_success` and
`<prefix>/by_kind/delta/<a-b>/<split>/<kind>/episode_success` (prefix `episodes`).

A kind with no episode in a split is left out of that split (no entry with n 0); the groups present come in
`GROUPS` order. An episode without a kind (a hand-made spec: the built-in data always sets one) is in no kind and
not in `tool_needing`; a split none of whose episodes has a kind has no per-kind figures (an empty mapping).

    summary, deltas = summarize_kinds(specs, rows, [("grpo", "sft")], params.evaluate.bootstrap.kwargs())
    summary["grpo"]["test_env"]["tool_needing"]["episode_success"]   # Estimate(value, low, high, n)
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from thinkact.env.spec import EPISODE_KINDS, EpisodeSpec
from thinkact.evaluation.stats import Estimate, bootstrap_ci, paired_delta
from thinkact.evaluation.summary import flatten

NO_TOOL = "no_tool"
TOOL_NEEDING = "tool_needing"           # every kind but no_tool, pooled
GROUPS = (*EPISODE_KINDS, TOOL_NEEDING)
KIND_METRICS = ("episode_success",)     # the figures reported per kind
KEY = "by_kind"                         # metrics.json's key (under `episodes`) and MLflow's path segment

Rows = Mapping[str, Mapping[str, Sequence[Mapping[str, float | None]]]]  # model -> split -> metrics per episode
ByKind = dict[str, dict[str, dict[str, dict[str, Estimate]]]]             # model or "a-b" -> split -> kind -> metric


def kind_groups(specs: Sequence[EpisodeSpec]) -> dict[str, list[int]]:
    """Group -> the indexes of `specs` in it: each kind, and `tool_needing` (every kind but no_tool); only the
    groups that have episodes, in GROUPS order."""
    groups: dict[str, list[int]] = {g: [] for g in GROUPS}
    for i, spec in enumerate(specs):
        if spec.kind in EPISODE_KINDS:
            groups[spec.kind].append(i)
            if spec.kind != NO_TOOL:
                groups[TOOL_NEEDING].append(i)
    return {g: idx for g, idx in groups.items() if idx}


def summarize_kinds(specs: Mapping[str, Sequence[EpisodeSpec]], rows: Rows, pairs: Sequence[tuple[str, str]],
                    boot: Mapping[str, Any], metrics: Sequence[str] = KIND_METRICS) -> tuple[ByKind, ByKind]:
    """(model -> split -> group -> metric -> estimate, "a-b" -> split -> group -> metric -> a − b) over each group's
    episodes: `bootstrap_ci` and `paired_delta` with the bootstrap settings `boot` (BootstrapParams.kwargs()), for
    `metrics` (KIND_METRICS; the episode evaluation adds episode_success_no_faults when the tools' faults are on)."""
    groups = {sp: kind_groups(list(s)) for sp, s in specs.items()}

    def column(model: str, split: str, idx: list[int], metric: str) -> list[float | None]:
        return [rows[model][split][i].get(metric) for i in idx]

    summary = {m: {sp: {g: {k: bootstrap_ci(column(m, sp, idx, k), **boot) for k in metrics}
                        for g, idx in groups[sp].items()} for sp in specs} for m in rows}
    deltas = {f"{a}-{b}": {sp: {g: {k: paired_delta(column(a, sp, idx, k), column(b, sp, idx, k), **boot)
                                    for k in metrics} for g, idx in groups[sp].items()} for sp in specs}
              for a, b in pairs}
    return summary, deltas


def kinds_json(summary: ByKind, deltas: ByKind) -> dict[str, Any]:
    """metrics.json's `episodes.by_kind`: {model: {split: {kind: flatten(...)}}, "deltas": {"a-b": …}}."""
    def flat(by_name: ByKind) -> dict[str, Any]:
        return {name: {sp: {g: flatten(e) for g, e in groups.items()} for sp, groups in by_split.items()}
                for name, by_split in by_name.items()}
    return {**flat(summary), "deltas": flat(deltas)}


def _values(by_name: ByKind) -> Iterator[tuple[str, float]]:
    for name, by_split in by_name.items():
        for sp, groups in by_split.items():
            for g, estimates in groups.items():
                for k, e in estimates.items():
                    if e.value is not None:
                        yield f"{name}/{sp}/{g}/{k}", e.value


def kinds_mlflow(summary: ByKind, deltas: ByKind, prefix: str) -> dict[str, float]:
    """`<prefix>/by_kind/<model>/<split>/<kind>/<metric>` and `<prefix>/by_kind/delta/<a-b>/<split>/<kind>/<metric>`."""
    out = {f"{prefix}/{KEY}/{path}": v for path, v in _values(summary)}
    out.update({f"{prefix}/{KEY}/delta/{path}": v for path, v in _values(deltas)})
    return out
