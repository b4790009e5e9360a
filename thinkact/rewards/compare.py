"""Comparing tool calls the way function-calling benchmarks do (BFCL's AST checker is the reference).

Value rules (documented in docs/rewards.md):
- strings: case-insensitive, surrounding whitespace ignored, the characters `,./-_*^` and spaces removed and
  single quotes read as double quotes before comparing (BFCL's `standardize_string`), so "New York" == "new york"
  and "2026-01-05" == "20260105";
- numbers: an int prediction equals a float gold of the same value (5 for 5.0), but a float prediction never
  equals an int gold (5.0 for 5), as BFCL's type check has it; a bool is never a number;
- lists compare element by element, in order; objects compare key by key, recursively;
- a gold argument with accepted alternatives (imports) matches any of them, and an optional one may be omitted.
Across parallel calls order does not matter: an exact match is a perfect matching of predicted to gold calls
(any number of calls); partial credit pairs calls to maximise the score (every pairing up to 5 calls a side,
greedy by pair score beyond).

Deliberate differences from BFCL's AST checker (measured in tests/test_bfcl_agreement.py):
- only the gold value is known, not the parameter's type: a float prediction for an int gold is rejected even
  where BFCL's schema says `float` (2 of ~2,000 such BFCL cases);
- no parameter types are known here (only the target), so where BFCL compares a "variable" exactly (a gold
  string for a non-string parameter, e.g. "dontcare" for an integer) thinkact still normalises the string,
  strings nested below a list or dict are normalised too, and an argument the gold lists but the function's
  schema lacks is accepted (a BFCL answer defect);
- parallel calls: BFCL pairs greedily (each gold call takes the first output that fits it), so a reordering of a
  right answer can fail there when one output fits two gold calls; thinkact accepts any perfect matching.
"""
from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from typing import Any

_STRIP = re.compile(r"[ ,./\-_*^]")
MAX_EXHAUSTIVE = 5  # partial credit tries every pairing up to this many calls a side, greedy beyond


@functools.lru_cache(maxsize=65536)
def normalize_string(s: str) -> str:
    return _STRIP.sub("", s.strip().lower()).replace("'", '"')


def values_equal(pred: Any, gold: Any) -> bool:
    if type(gold) is str:  # the common case first
        return type(pred) is str and (pred == gold or normalize_string(pred) == normalize_string(gold))
    if isinstance(gold, bool) or isinstance(pred, bool):
        return type(pred) is type(gold) and pred == gold
    if isinstance(gold, (int, float)):
        if type(gold) is int and type(pred) is float:  # BFCL: a float is not an integer
            return False
        return isinstance(pred, (int, float)) and pred == gold  # exact: no float() overflow on huge ints
    if isinstance(gold, str):
        return isinstance(pred, str) and normalize_string(pred) == normalize_string(gold)
    if isinstance(gold, list):
        return isinstance(pred, list) and len(pred) == len(gold) and all(map(values_equal, pred, gold))
    if isinstance(gold, dict):
        return isinstance(pred, dict) and pred.keys() == gold.keys() and all(values_equal(pred[k], gold[k]) for k in gold)
    return pred == gold


def _accepts(value: Any, key: str, gold: dict[str, Any], accepted: dict[str, Any] | None) -> bool:
    if accepted and key in accepted:
        return any(values_equal(value, v) for v in accepted[key]["values"] if v != "")
    return key in gold and values_equal(value, gold[key])


def pair_score(pred_args: dict[str, Any], gold_args: dict[str, Any], accepted: dict[str, Any] | None = None
               ) -> tuple[float, float]:
    """(key score, value score) of one predicted call against one gold call with the same name.

    Keys: 1.0 when every required gold key is present and no unknown key is added, else the Jaccard overlap.
    Values: the share of compared keys (gold keys plus extra predicted ones) whose value is accepted.
    """
    if accepted is None and pred_args.keys() == gold_args.keys():  # fast path: same keys, no alternatives
        if not gold_args:
            return 1.0, 1.0
        good = 0
        for k, g in gold_args.items():
            if values_equal(pred_args[k], g):
                good += 1
        return 1.0, good / len(gold_args)
    optional = {k for k, a in (accepted or {}).items() if a["optional"]}
    allowed = set(gold_args) | set(accepted or {})
    required = set(gold_args) - optional
    pred_keys = set(pred_args)
    if required <= pred_keys <= allowed:
        key_score = 1.0
    else:
        union = pred_keys | set(gold_args)
        key_score = len(pred_keys & set(gold_args)) / len(union) if union else 1.0
    compared = required | pred_keys
    if not compared:
        return key_score, 1.0
    good = sum(1 for k in compared if k in pred_args and _accepts(pred_args[k], k, gold_args, accepted))
    return key_score, good / len(compared)


def calls_score(pred: list[tuple[str, dict]], gold: list[tuple[str, dict, dict | None]]) -> float:
    """Partial credit in [0, 1] (ToolRL-style): names, then keys, then values, order-insensitive.

    Mean of three parts: multiset Jaccard of function names; key score and value score of the best pairing
    of same-name calls, divided by max(#pred, #gold) so missing and extra calls both cost. 1.0 only when exact.
    """
    if not pred:
        return 0.0
    names_p, names_g = Counter(n for n, _ in pred), Counter(n for n, _, _ in gold)
    name_part = sum((names_p & names_g).values()) / sum((names_p | names_g).values())
    n = max(len(pred), len(gold))
    if len(pred) > MAX_EXHAUSTIVE or len(gold) > MAX_EXHAUSTIVE:
        best_keys, best_values = _greedy_pairing(pred, gold)
        return (name_part + best_keys / n + best_values / n) / 3
    best_keys = best_values = 0.0
    for pairing in _candidate_pairings(len(pred), len(gold)):
        k_sum = v_sum = 0.0
        for i, j in pairing:
            if pred[i][0] == gold[j][0]:
                k, v = pair_score(pred[i][1], gold[j][1], gold[j][2])
                k_sum, v_sum = k_sum + k, v_sum + v
        if k_sum + v_sum > best_keys + best_values:
            best_keys, best_values = k_sum, v_sum
    return (name_part + best_keys / n + best_values / n) / 3


def call_scores(pred: list[tuple[str, dict]], gold: list[tuple[str, dict, dict | None]]) -> tuple[float, float]:
    """(calls_score, calls_exact as 0/1) together; one predicted and one gold call (the common case) compare once."""
    if not pred:
        return 0.0, 0.0
    if len(pred) == 1 and len(gold) == 1:
        (p_name, p_args), (g_name, g_args, accepted) = pred[0], gold[0]
        if p_name != g_name:
            return 0.0, 0.0
        k, v = pair_score(p_args, g_args, accepted)
        return (1.0, 1.0) if k == 1.0 and v == 1.0 else ((1.0 + k + v) / 3, 0.0)
    if calls_exact(pred, gold):
        return 1.0, 1.0
    return calls_score(pred, gold), 0.0


def _greedy_pairing(pred: list[tuple[str, dict]], gold: list[tuple[str, dict, dict | None]]) -> tuple[float, float]:
    """(key sum, value sum) of same-name pairs taken best first: for more calls than pay for every pairing."""
    scored = sorted(((k + v, k, v, i, j) for i, (pn, pa) in enumerate(pred) for j, (gn, ga, acc) in enumerate(gold)
                     if pn == gn for k, v in [pair_score(pa, ga, acc)]), key=lambda t: (-t[0], t[3], t[4]))
    used_p, used_g, keys, values = set(), set(), 0.0, 0.0
    for _, k, v, i, j in scored:
        if i not in used_p and j not in used_g:
            used_p.add(i)
            used_g.add(j)
            keys, values = keys + k, values + v
    return keys, values


def calls_exact(pred: list[tuple[str, dict]], gold: list[tuple[str, dict, dict | None]]) -> bool:
    """Exact match of the set of calls: same number, and a perfect matching of predicted to gold calls in
    which every pair matches fully (names and every argument), whatever the order and the number of calls."""
    if len(pred) != len(gold):
        return False
    if len(pred) == 1:  # the common case
        return pred[0][0] == gold[0][0] and pair_score(pred[0][1], gold[0][1], gold[0][2]) == (1.0, 1.0)
    fits = [[p[0] == g[0] and pair_score(p[1], g[1], g[2]) == (1.0, 1.0) for g in gold] for p in pred]
    return -1 not in max_matching(fits)


def max_matching(fits: list[list[bool]]) -> list[int]:
    """A maximum one-to-one matching of rows to columns where `fits[row][col]` (Kuhn's augmenting paths; calls
    are few): for each column, the row matched to it, or -1."""
    owner = [-1] * (len(fits[0]) if fits else 0)

    def augment(i: int, seen: list[bool]) -> bool:
        for j, ok in enumerate(fits[i]):
            if ok and not seen[j]:
                seen[j] = True
                if owner[j] < 0 or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(fits)):
        augment(i, [False] * len(owner))
    return owner


@functools.lru_cache(maxsize=64)
def _candidate_pairings(n_pred: int, n_gold: int) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Every pairing of up to MAX_EXHAUSTIVE calls a side (parallel calls are few)."""
    if n_pred <= n_gold:
        return tuple(tuple(zip(range(n_pred), p)) for p in itertools.permutations(range(n_gold), n_pred))
    return tuple(tuple(zip(p, range(n_gold))) for p in itertools.permutations(range(n_pred), n_gold))
