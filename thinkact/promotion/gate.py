"""The promotion gate, pure: per-example scores in, a Decision out (no MLflow, no files, no models).

Rules (issue #7, params.yaml `register`):
- with a champion: pair the challenger's and the champion's scores on `primary_metric` by example key over the
  pooled `register.splits` (keys present for both; a None on either side drops the pair), bootstrap the paired
  difference (thinkact.evaluation.stats.paired_delta, `evaluate.bootstrap` settings) and promote only when the
  lower confidence bound of (challenger - champion) is above `min_improvement`;
- with no champion yet (the first champion): the challenger must beat every baseline it is given — the base model
  and the SFT baseline in the register stage — by the same paired test (lower bound of challenger - baseline above
  `min_improvement`), and every `thresholds` metric's pooled mean must reach its value (an extra floor); the
  decision names the comparison that decided it. Given no baselines, the thresholds alone decide;
- by hand (`thinkact promote --version N`): `forced()` records who moved the champion, why and from where;
- over one run's models (`best`, the register stage): each model's decision in the order they were tried (GRPO, then
  SFT, whose first-champion baseline is the base model alone); the first that promotes wins, else the first tried
  stays challenger; the one decision says which model became champion and carries every comparison made.

Scores are keyed by example, e.g. "test_id/ex-00012" -> {"tool_call": 0.5, "format": 1.0, "answer": None}.

    from thinkact.promotion.gate import gate
    decision = gate(challenger_scores, champion_scores, metric="tool_call", bootstrap=params.evaluate.bootstrap,
                    min_improvement=0.0, thresholds={"format": 0.5}, challenger="7", champion="4")
    decision.promote, decision.to_json(), decision.to_markdown()
    decision = best([grpo_decision, sft_decision])   # the register stage: which of the run's models, and why
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from thinkact.evaluation.params import BootstrapParams
from thinkact.evaluation.stats import paired_delta

Scores = Mapping[str, Mapping[str, float | None]]  # example key -> {metric: score or None}
RULE_BOOTSTRAP = "paired_bootstrap"   # challenger vs champion
RULE_FIRST = "first_champion"         # no champion yet: beat the baselines (base, SFT), meet the thresholds
RULE_THRESHOLDS = "thresholds"        # no champion yet and no baselines given: the thresholds alone
RULE_MANUAL = "manual"                # promote --version N (rollback / force)
RULE_NONE = "none"                    # nothing to decide: the challenger already holds @champion


@dataclass(frozen=True)
class ThresholdCheck:
    """One absolute threshold: the challenger's pooled mean of `metric` must reach `required`."""

    metric: str
    required: float
    value: float | None
    n: int

    @property
    def passed(self) -> bool:
        return self.value is not None and self.value >= self.required


@dataclass(frozen=True)
class Comparison:
    """The challenger against one baseline (the base model, the SFT model) on the paired examples: what a first
    champion must win."""

    against: str
    delta: float | None
    low: float | None
    high: float | None
    n: int
    challenger_mean: float | None
    other_mean: float | None
    passed: bool
    model: str | None = None   # whose comparison (a role, e.g. grpo); None: the decision's challenger

    @property
    def label(self) -> str:
        return f"{self.model} vs {self.against}" if self.model else f"vs {self.against}"

    def text(self, metric: str, confidence: float) -> str:
        if self.low is None:
            return f"{self.label}: only {self.n} paired example(s) with a '{metric}' score, too few to compare"
        return (f"{self.label}: '{metric}' {_num(self.challenger_mean)} vs {_num(self.other_mean)}, delta "
                f"{_num(self.delta)} ({confidence:.0%} CI [{_num(self.low)}, {_num(self.high)}], n={self.n})")


@dataclass(frozen=True)
class Decision:
    """What the gate decided and every number it decided on; serialises to JSON, Markdown and registry tags."""

    promote: bool
    rule: str
    reason: str
    metric: str
    challenger: str | None = None          # version labels (registry versions, or any name)
    champion: str | None = None
    delta: float | None = None             # mean of (challenger - champion) over the pairs
    delta_low: float | None = None
    delta_high: float | None = None
    n: int = 0                             # pairs compared (or examples the primary metric applies to)
    challenger_mean: float | None = None   # on the paired examples (or pooled, with no champion)
    champion_mean: float | None = None
    confidence: float = 0.95
    min_improvement: float = 0.0
    thresholds: tuple[ThresholdCheck, ...] = ()
    comparisons: tuple[Comparison, ...] = ()   # first champion: the challenger against each baseline
    extra: dict[str, str] = field(default_factory=dict)  # who / why / previous champion / where scores came from
    model: str | None = None               # which of the run's models the challenger is (grpo, sft), when known

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["thresholds"] = [{**asdict(t), "passed": t.passed} for t in self.thresholds]
        out["promoted"] = int(self.promote)  # a number, for `dvc metrics show`
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def tags(self, prefix: str = "thinkact.gate.") -> dict[str, str]:
        """Flat string tags for a registry version (numbers rounded to 6 digits; None omitted)."""
        flat: dict[str, Any] = {
            "promote": str(self.promote).lower(), "rule": self.rule, "reason": self.reason, "metric": self.metric,
            "challenger": self.challenger, "champion": self.champion, "delta": self.delta,
            "delta_low": self.delta_low, "delta_high": self.delta_high, "n": self.n, "confidence": self.confidence,
            "min_improvement": self.min_improvement, "challenger_mean": self.challenger_mean,
            "champion_mean": self.champion_mean, "model": self.model,
            **{f"threshold.{t.metric}": f"{_num(t.value)} >= {t.required}: {'pass' if t.passed else 'fail'}"
               for t in self.thresholds},
            **{(f"vs.{c.against}" if c.model in (None, self.model) else f"{c.model}.vs.{c.against}"):
               f"{_num(c.delta)} [{_num(c.low)}, {_num(c.high)}] n={c.n}: {'pass' if c.passed else 'fail'}"
               for c in self.comparisons},
            **self.extra,
        }
        return {prefix + k: (_num(v) if isinstance(v, float) else str(v))[:5000]
                for k, v in flat.items() if v is not None}

    def to_markdown(self) -> str:
        verdict = ("**promote**" if self.promote else "**keep the current champion**" if self.champion
                   else "**not promoted** (no champion yet)")
        if self.model and self.promote:
            verdict += f" {self.model} (version {self.challenger})"
        lines = [f"## Promotion decision: {verdict}", "", self.reason, "",
                 "| | |", "|---|---|",
                 f"| rule | `{self.rule}` |", f"| primary metric | `{self.metric}` |",
                 *((f"| model | {self.model} |",) if self.model else ()),
                 *((f"| new champion | {self.challenger} |", f"| previous champion | {self.champion or '(none)'} |")
                   if self.rule == RULE_MANUAL else
                   (f"| challenger | {self.challenger or '-'} |", f"| champion | {self.champion or '(none yet)'} |"))]
        if self.rule == RULE_BOOTSTRAP:
            ci = (f"[{_num(self.delta_low)}, {_num(self.delta_high)}]" if self.delta_low is not None else "n/a")
            means = f"{_num(self.challenger_mean)} / {_num(self.champion_mean)}"
            lines += [f"| challenger mean / champion mean | {means} |",
                      f"| delta (challenger - champion) | {_num(self.delta)} |",
                      f"| {self.confidence:.0%} CI | {ci} |",
                      f"| required lower bound above | {self.min_improvement} |", f"| paired examples | {self.n} |"]
        elif self.rule == RULE_THRESHOLDS:
            lines += [f"| challenger mean | {_num(self.challenger_mean)} (n={self.n}) |"]
        if self.comparisons:
            named = any(c.model for c in self.comparisons)
            lines += ["", f"| {'comparison' if named else 'challenger vs'} | {'model' if named else 'challenger'} | "
                          f"{'other' if named else 'baseline'} | delta | {self.confidence:.0%} CI | n | |",
                      "|---|---|---|---|---|---|---|"]
            lines += [f"| {c.label if named else c.against} | {_num(c.challenger_mean)} | {_num(c.other_mean)} | "
                      f"{_num(c.delta)} | "
                      f"[{_num(c.low)}, {_num(c.high)}] | {c.n} | {'pass' if c.passed else 'fail'} |"
                      for c in self.comparisons]
        lines += [f"| {k} | {v} |" for k, v in self.extra.items() if not (self.rule == RULE_MANUAL and k == "previous")]
        if self.thresholds:
            lines += ["", "| threshold | required | challenger | n | |", "|---|---|---|---|---|"]
            lines += [f"| `{t.metric}` | {t.required} | {_num(t.value)} | {t.n} | {'pass' if t.passed else 'fail'} |"
                      for t in self.thresholds]
        return "\n".join(lines) + "\n"


def _num(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.6g}"


def _column(scores: Scores, metric: str, keys: list[str]) -> list[float | None]:
    return [None if scores[k].get(metric) is None else float(scores[k][metric]) for k in keys]


def check_thresholds(scores: Scores, thresholds: Mapping[str, float]) -> tuple[ThresholdCheck, ...]:
    """Pooled mean of each threshold metric over the examples it applies to (a metric never scored fails)."""
    keys = sorted(scores)
    checks = []
    for metric, required in sorted(thresholds.items()):
        values = [v for v in _column(scores, metric, keys) if v is not None]
        checks.append(ThresholdCheck(metric, float(required), sum(values) / len(values) if values else None,
                                     len(values)))
    return tuple(checks)


def compare(challenger_scores: Scores, other_scores: Scores, metric: str, bootstrap: BootstrapParams,
            min_improvement: float, against: str, model: str | None = None) -> Comparison:
    """The paired bootstrap of (challenger - other) on `metric` over the examples both were scored on (a None on
    either side drops the pair); passed when there are >= 2 pairs and the lower bound is above `min_improvement`."""
    keys = sorted(set(challenger_scores) & set(other_scores))
    a, b = _column(challenger_scores, metric, keys), _column(other_scores, metric, keys)
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    d = paired_delta([x for x, _ in pairs], [y for _, y in pairs], n_resamples=bootstrap.n_resamples,
                     confidence=bootstrap.confidence, seed=bootstrap.seed, method=bootstrap.method)
    means = ((sum(x for x, _ in pairs) / len(pairs), sum(y for _, y in pairs) / len(pairs)) if pairs else (None, None))
    low = d.low if d.n >= 2 else None
    return Comparison(against, d.value, low, d.high if low is not None else None, d.n, means[0], means[1],
                      passed=low is not None and low > min_improvement, model=model)


def gate(challenger_scores: Scores, champion_scores: Scores | None, *, metric: str, bootstrap: BootstrapParams,
         min_improvement: float, thresholds: Mapping[str, float], challenger: str | None = None,
         champion: str | None = None, baselines: Mapping[str, Scores] | None = None,
         extra: Mapping[str, str] | None = None, model: str | None = None) -> Decision:
    """Decide whether the challenger becomes champion (see the module docstring for the rules). `baselines`
    (name -> scores, e.g. {"base": ..., "sft": ...}) count only when there is no champion yet; `model`: which of
    the run's models the challenger is (named in the decision and its comparisons)."""
    checks = check_thresholds(challenger_scores, thresholds)
    common = dict(metric=metric, challenger=challenger, champion=champion, confidence=bootstrap.confidence,
                  min_improvement=min_improvement, thresholds=checks, extra=dict(extra or {}), model=model)
    if champion_scores is None:
        failed = [t for t in checks if not t.passed]
        floor = ", ".join(f"{t.metric} {_num(t.value)} {'<' if not t.passed else '>='} {t.required}" for t in checks)
        if baselines:
            return _first_champion(challenger_scores, baselines, checks, floor, metric, bootstrap, min_improvement,
                                   common)
        own = [v for v in _column(challenger_scores, metric, sorted(challenger_scores)) if v is not None]
        if not checks:
            reason = "no champion yet and no thresholds in params.yaml register.thresholds: the first challenger wins"
        elif failed:
            reason = "no champion yet; threshold(s) not met: " + floor
        else:
            reason = "no champion yet; every threshold met: " + floor
        return Decision(promote=not failed, rule=RULE_THRESHOLDS, reason=reason, n=len(own),
                        challenger_mean=sum(own) / len(own) if own else None, **common)
    c = compare(challenger_scores, champion_scores, metric, bootstrap, min_improvement, "champion")
    if c.low is None:
        reason = (f"only {c.n} paired example(s) with a '{metric}' score for both models: too few to "
                  "compare; the champion stays (check register.splits and the evaluation data)")
    elif c.passed:
        reason = (f"'{metric}' improves by {_num(c.delta)} ({bootstrap.confidence:.0%} CI "
                  f"[{_num(c.low)}, {_num(c.high)}], n={c.n}); lower bound above {min_improvement}")
    else:
        reason = (f"'{metric}' delta {_num(c.delta)} ({bootstrap.confidence:.0%} CI [{_num(c.low)}, "
                  f"{_num(c.high)}], n={c.n}): lower bound not above {min_improvement}; the champion stays")
    return Decision(promote=c.passed, rule=RULE_BOOTSTRAP, reason=reason, delta=c.delta, delta_low=c.low,
                    delta_high=c.high, n=c.n, challenger_mean=c.challenger_mean, champion_mean=c.other_mean, **common)


def _first_champion(challenger_scores: Scores, baselines: Mapping[str, Scores], checks: tuple[ThresholdCheck, ...],
                    floor: str, metric: str, bootstrap: BootstrapParams, min_improvement: float,
                    common: dict[str, Any]) -> Decision:
    """No champion yet: beat every baseline (paired) and meet every threshold. The deciding comparison is the first
    failed one, or, when all pass, the closest (smallest lower bound); its numbers fill the decision's delta."""
    comparisons = tuple(compare(challenger_scores, scores, metric, bootstrap, min_improvement, name, common["model"])
                        for name, scores in baselines.items())
    lost = [c for c in comparisons if not c.passed]
    failed = [t for t in checks if not t.passed]
    decider = lost[0] if lost else min(comparisons, key=lambda c: c.low if c.low is not None else -math.inf)
    conf = bootstrap.confidence
    if lost:
        reason = (f"no champion yet; the challenger must beat {' and '.join(baselines)} on '{metric}' and does not "
                  f"beat {decider.against}: {decider.text(metric, conf)}, lower bound not above {min_improvement}")
    elif failed:
        reason = (f"no champion yet; the challenger beats {' and '.join(baselines)} on '{metric}' but misses the "
                  f"floor in register.thresholds: {floor}")
    else:
        reason = (f"no champion yet; the challenger beats {' and '.join(baselines)} on '{metric}' (lower bounds "
                  f"above {min_improvement}); closest {decider.text(metric, conf)}"
                  + (f"; thresholds met: {floor}" if checks else ""))
    return Decision(promote=not lost and not failed, rule=RULE_FIRST, reason=reason, delta=decider.delta,
                    delta_low=decider.low, delta_high=decider.high, n=decider.n,
                    challenger_mean=decider.challenger_mean, champion_mean=decider.other_mean,
                    comparisons=comparisons, **common)


def forced(version: str, previous: str | None, *, metric: str, who: str, why: str) -> Decision:
    """A champion set by hand (rollback or force): no statistics, the record says who, why and what it replaced."""
    reason = f"set by hand by {who}: {why}" + (f" (previous champion: version {previous})" if previous else "")
    return Decision(promote=True, rule=RULE_MANUAL, reason=reason, metric=metric, challenger=version,
                    champion=previous, extra={"by": who, "why": why, "previous": previous or "none"})


def best(tried: Sequence[Decision], notes: Mapping[str, str] | None = None) -> Decision:
    """One decision over a run's models, each already decided by `gate` (with `model` set) in the order tried (GRPO,
    then SFT): the first that promotes, else the first tried (it stays challenger). Its reason says which model
    became champion and why; its comparisons are every one made (against the champion too); `notes` (model ->
    why it was not tried) join the reason and `extra`."""
    if not tried:
        raise ValueError("best() needs at least one decision")
    winner = next((d for d in tried if d.promote), tried[0])
    if len(tried) == 1 and not notes:
        return winner
    why = "; ".join([f"{d.model} (version {d.challenger}) {'passes' if d.promote else 'fails'}: {d.reason}"
                     for d in tried] + [f"{m} {text}" for m, text in (notes or {}).items()])
    head = (f"{winner.model} (version {winner.challenger}) becomes @champion" if winner.promote
            else "no model of this run becomes @champion" + (f" (@champion stays version {winner.champion})"
                                                             if winner.champion else ""))
    comparisons = tuple(c for d in tried for c in (d.comparisons or _against_champion(d)))
    return replace(winner, reason=f"{head} — {why}", comparisons=comparisons,
                   extra={**winner.extra, **{f"not_tried.{m}": text for m, text in (notes or {}).items()}})


def _against_champion(d: Decision) -> tuple[Comparison, ...]:
    """A paired-bootstrap decision's numbers as a Comparison against the champion (none for other rules)."""
    if d.rule != RULE_BOOTSTRAP:
        return ()
    return (Comparison("champion", d.delta, d.delta_low, d.delta_high, d.n, d.challenger_mean,
                       d.champion_mean, passed=d.promote, model=d.model),)
