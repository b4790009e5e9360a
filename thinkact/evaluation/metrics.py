"""Per-example evaluation scores: every registered reward, plus the metrics no reward covers.

Rewards are metrics (docs/design.md): every reward in `thinkact.rewards` is scored by calling the registered
function itself, under its own name (`tool_call_exact`, `tool_call`, `answer`, `format`,
`reasoning_consistency`, and any reward registered later). The derived metrics reuse the same parser
(`thinkact.chat_format.parsing`) and comparison rules (`thinkact.rewards.compare`):

| metric | applies to | per-example score |
|---|---|---|
| `tool_name_accuracy` | call targets | multiset Jaccard of predicted vs gold function names (0 with no call) |
| `argument_accuracy` | call targets | gold calls paired with same-name predictions to maximise it; each gold call scores the share of its compared arguments (required gold ones and any extra predicted ones) whose value is accepted, 0 when unpaired; mean over gold calls |
| `action_type_accuracy` | every example | 1 when the predicted action equals the gold action (`Example.action`) |
| `reasoning_present` | every example | 1 when a leading `<think>` block holds non-blank text |
| `reasoning_words` | every example | words in the leading `<think>` block (0 without one): how long the thought is |
| `output_length` | every example | characters of the completion text, end-of-turn markers stripped (model-independent, unlike tokens) |

Predicted action: `call` when the completion holds a `<tool_call>` block (parsed or not: the action type is
the intent, tool_call_exact judges the call); otherwise `clarify` when the answer's last sentence is a question
that is not a conventional offer of help ("How can I help?", "Anything else?": `OFFERS`, which end small talk
and are answers); otherwise `answer`; `none` when nothing follows the think (or the think is never closed).
None means "not applicable": the example does not count for that metric.

    from thinkact.evaluation.metrics import score_examples
    rows = score_examples(examples, completions)   # one {metric: float | None} per example
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from thinkact.chat_format.parsing import END_MARKERS, parse
from thinkact.contract import Example
from thinkact.rewards import EPISODE_NAMES, build, describe, names as reward_names
from thinkact.rewards.compare import pair_score
from thinkact.rewards.functions import text_of

DERIVED = ("tool_name_accuracy", "argument_accuracy", "action_type_accuracy", "reasoning_present", "reasoning_words",
           "output_length")
OFFERS = re.compile(r"\b(how (can|may|could) i (help|assist)|what can i (do|help)|anything else|is there anything"
                    r"|what do you need|what would you like|how can i be of)\b")
_LAST_SENTENCE = re.compile(r"(?:^|[.!?]\s)([^.!?]*\?)\s*$")
UNBOUNDED = frozenset({"reasoning_words", "output_length"})  # not scores in [0, 1]: reported as is, never in %
DESCRIPTIONS = {  # the derived metrics; a reward's description is the first line of its docstring
    "tool_name_accuracy": "Call targets: multiset Jaccard of predicted vs gold function names.",
    "argument_accuracy": "Call targets: share of each gold call's arguments given with an accepted value "
                         "(best same-name pairing), mean over gold calls.",
    "action_type_accuracy": "Predicted action (call / answer / clarify) equals the gold action.",
    "reasoning_present": "A leading <think> block with non-blank text.",
    "reasoning_words": "Words in the leading <think> block (0 without one).",
    "output_length": "Characters of the completion (end-of-turn markers stripped).",
}


def metric_names() -> list[str]:
    """Every per-turn metric, in report order: the registered rewards (registry order) but the episode rewards
    (they score whole episodes: thinkact.evaluation.episode_eval), then the derived metrics."""
    rewards = [n for n in reward_names() if n not in EPISODE_NAMES]
    clash = set(rewards) & set(DERIVED)
    if clash:
        raise ValueError(f"reward name(s) {sorted(clash)} clash with evaluation metrics of the same name")
    return [*rewards, *DERIVED]


def describe_metrics() -> dict[str, str]:
    """metric -> one-line description, for the report and `--help` text (rewards: from the registry)."""
    return {**{n: d for n, d in describe() if n not in EPISODE_NAMES}, **DESCRIPTIONS}


def target_column(example: Example) -> str:
    """The `target` reward column of an example: its contract target as a JSON string, as GRPO passes it."""
    return json.dumps(example.target.to_dict(), sort_keys=True)


def predicted_action(text: str) -> str:
    """call, clarify, answer, or none (see the module docstring)."""
    p = parse(text)
    if p.calls or (p.answer is None and "<tool_call>" in text):
        return "call"
    if p.answer is None:  # nothing after the think, an unclosed think, or an over-long completion
        return "none"
    last = _LAST_SENTENCE.search(p.answer.strip())
    return "clarify" if last and not OFFERS.search(last.group(1).lower()) else "answer"


def tool_name_accuracy(pred: Sequence[tuple[str, dict]], gold: Sequence[tuple[str, dict, Any]]) -> float:
    if not pred:
        return 0.0
    p, g = Counter(n for n, _ in pred), Counter(n for n, _, _ in gold)
    return sum((p & g).values()) / sum((p | g).values())


def argument_accuracy(pred: Sequence[tuple[str, dict]], gold: Sequence[tuple[str, dict, Any]]) -> float:
    if not pred:
        return 0.0
    if len(pred) == 1 and len(gold) == 1:
        return pair_score(pred[0][1], gold[0][1], gold[0][2])[1] if pred[0][0] == gold[0][0] else 0.0
    import numpy as np  # only for several calls a side (rare): scipy.optimize costs ~0.3 s to import
    from scipy.optimize import linear_sum_assignment

    value = np.zeros((len(gold), len(pred)))
    for j, (gname, gargs, accepted) in enumerate(gold):
        for i, (pname, pargs) in enumerate(pred):
            if pname == gname:
                value[j, i] = pair_score(pargs, gargs, accepted)[1]
    rows, cols = linear_sum_assignment(value, maximize=True)
    return float(value[rows, cols].sum()) / len(gold)


def _length(text: str) -> int:
    text = text.rstrip()
    while text.endswith(END_MARKERS):
        text = text[: text.rindex("<|")].rstrip()
    return len(text)


def score_examples(examples: Sequence[Example], completions: Sequence[Any],
                   reward_options: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, float | None]]:
    """One {metric: score or None} per example, metrics in `metric_names()` order.

    `completions` are strings or TRL conversational completions; `reward_options` are the rewards' options
    as params.yaml sets them for GRPO (e.g. {"answer": {"mode": "exact"}}), so both measure the same thing.
    """
    if len(examples) != len(completions):
        raise ValueError(f"{len(examples)} examples but {len(completions)} completions")
    names = metric_names()  # checks that no reward shadows a derived metric
    rewards = build(names[: len(names) - len(DERIVED)], {k: dict(v) for k, v in (reward_options or {}).items()})
    targets = [target_column(ex) for ex in examples]
    turn_types = [ex.turn_type for ex in examples]
    texts = [text_of(c) for c in completions]
    columns = {r.name: r(texts, target=targets, turn_type=turn_types) for r in rewards}
    rows: list[dict[str, float | None]] = []
    for k, (ex, text) in enumerate(zip(examples, texts)):
        row: dict[str, float | None] = {name: _clean(values[k]) for name, values in columns.items()}
        p = parse(text)
        if ex.target.is_call:
            gold = [(c.name, c.arguments, c.accepted) for c in ex.target.tool_calls]
            row["tool_name_accuracy"] = tool_name_accuracy(p.calls, gold)
            row["argument_accuracy"] = argument_accuracy(p.calls, gold)
        else:
            row["tool_name_accuracy"] = row["argument_accuracy"] = None
        row["action_type_accuracy"] = float(predicted_action(text) == ex.action)
        row["reasoning_present"] = float(bool(p.think and p.think.strip()))
        row["reasoning_words"] = float(len((p.think or "").split()))
        row["output_length"] = float(_length(text))
        rows.append(row)
    return rows


def _clean(value: Any) -> float | None:
    return None if value is None else float(value)
