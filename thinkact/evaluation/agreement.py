"""Does thinkact's scorer agree with BFCL's own AST checker? Gold answers and systematic mutations.

For every BFCL example with a gold call (importer: thinkact.importers.bfcl), calls are built from the gold:
the canonical answer, the answer with every optional argument supplied, and mutations of it (`KINDS`). Each is
rendered as a completion (`<think>…</think><tool_call>{…}</tool_call>`, the chat template's own rendering),
parsed by thinkact's parser, and judged twice on the very same parsed calls: by the `tool_call_exact` reward
(1.0 = right) and by BFCL's `ast_checker` on BFCL's raw function docs and possible answers.

The checker is passed in (a callable `checker(functions, model_output, possible_answer, test_category)` that
returns BFCL's result dict), so this module never imports bfcl_eval: tests install the stub that BFCL's
checker needs (tests/test_bfcl_agreement.py). Examples whose gold BFCL itself rejects are left out of the
mutation counts (their ids are returned in `AgreementResult.gold_rejected`).

Deliberate differences (thinkact/rewards/compare.py explains them): `int_as_float` (5.0 for an integer 5:
thinkact compares JSON numbers by value, BFCL's Python type check rejects a float for an `integer` parameter)
is reported but left out of the agreement rate; the rarer ones (a gold "variable" string for a non-string
parameter compared exactly by BFCL; BFCL's greedy pairing of parallel calls) stay inside it.

    result = check_agreement(["simple_python", "parallel"], checker)
    result.rate()            # share of identical verdicts, deliberate differences excluded
    print(result.table())
"""
from __future__ import annotations

import copy
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from thinkact.chat_format.parsing import parse
from thinkact.chat_format.template import render_target
from thinkact.contract import Example
from thinkact.evaluation.metrics import target_column
from thinkact.importers.bfcl import bfcl_raw, import_bfcl
from thinkact.rewards import get

Calls = list[tuple[str, dict[str, Any]]]
Checker = Callable[[list[dict], list[dict], list[dict], str], dict]
CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "live_simple", "live_multiple",
              "live_parallel", "live_parallel_multiple")
# kind -> what it does; both scorers should accept the first group and reject the second.
KINDS = {
    "gold": "the importer's canonical answer (optional arguments left out)",
    "optional_supplied": "gold + every optional schema argument with its first accepted value",
    "alternative_value": "an argument given its second accepted value",
    "string_restyled": "a string argument upper-cased, spaces as '-' (BFCL standardises case and ' ,./-_*^')",
    "reordered": "parallel calls in reverse order",
    "rotated": "parallel calls rotated by one",
    "optional_omitted": "one argument the schema does not require left out (accepted only when BFCL allows it)",
    "float_as_int": "an integral float written as an int (2.0 -> 2)",
    "wrong_name": "a call renamed to another offered function (or name + '_v2')",
    "missing_required": "a required argument left out",
    "wrong_type": "an argument of another JSON type (5 -> '5', 'x' -> ['x'], [..] -> '[..]', true -> 'true')",
    "wrong_value": "an argument of the same type, another value",
    "null_value": "an argument set to null",
    "extra_argument": "an argument the function does not have",
    "unexpected_schema_argument": "a schema argument BFCL's answer does not list",
    "call_dropped": "one of the parallel calls left out",
    "call_duplicated": "a call repeated",
    "int_as_float": "an int written as a float (5 -> 5.0): deliberate difference",
}
DELIBERATE: frozenset[str] = frozenset()  # none left: int-vs-float follows BFCL since 2026-11


def _other_value(v: Any) -> Any:
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v + 1
    if isinstance(v, float):
        return v * 1.5 + 1
    if isinstance(v, str):
        return v + " zq"
    if isinstance(v, list):
        return [*v, v[0]] if v else ["zq"]
    if isinstance(v, dict):
        return {k: (_other_value(x) if i == 0 else x) for i, (k, x) in enumerate(v.items())} if v else {"zq": 1}
    return "zq"


def _other_type(v: Any) -> Any:
    if isinstance(v, bool) or isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, str):
        return [v]
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return 0


def _restyled(v: Any) -> Any:
    if isinstance(v, str) and v.strip():
        styled = v.upper().replace(" ", "-")
        return styled if styled != v else v.lower()
    return None


def mutations(example: Example, functions: Sequence[dict[str, Any]]) -> list[tuple[str, Calls]]:
    """(kind, calls) for one example with a gold call; `functions` are BFCL's raw docs (schema and required)."""
    docs = {f["name"]: f.get("parameters", {}) for f in functions}
    gold: Calls = [(c.name, dict(c.arguments)) for c in example.target.tool_calls]
    accepted = [c.accepted or {} for c in example.target.tool_calls]
    full = copy.deepcopy(gold)
    for (name, args), acc in zip(full, accepted):
        props = docs.get(name, {}).get("properties", {})
        for key, spec in acc.items():
            if key not in args and spec["values"] and key in props:
                args[key] = copy.deepcopy(spec["values"][0])
    out: list[tuple[str, Calls]] = [("gold", gold), ("optional_supplied", full)]
    for i, ((name, args), acc) in enumerate(zip(full, accepted)):
        schema = docs.get(name, {})
        required = set(schema.get("required", []))

        def with_call(new_name: str, new_args: dict[str, Any], _i: int = i) -> Calls:
            calls = copy.deepcopy(full)
            calls[_i] = (new_name, new_args)
            return calls

        def with_arg(key: str, value: Any, _name: str = name, _args: dict = args) -> Calls:
            return with_call(_name, {**_args, key: value})

        others = [f for f in docs if f != name]
        out.append(("wrong_name", with_call(others[0] if others else f"{name}_v2", args)))
        for key, value in args.items():
            out.append(("missing_required" if key in required else "optional_omitted",
                         with_call(name, {k: v for k, v in args.items() if k != key})))
            out.append(("wrong_type", with_arg(key, _other_type(value))))
            out.append(("wrong_value", with_arg(key, _other_value(value))))
            out.append(("null_value", with_arg(key, None)))
            if (styled := _restyled(value)) is not None:
                out.append(("string_restyled", with_arg(key, styled)))
            if isinstance(value, int) and not isinstance(value, bool):
                out.append(("int_as_float", with_arg(key, float(value))))
            if isinstance(value, float) and value.is_integer():
                out.append(("float_as_int", with_arg(key, int(value))))
            values = acc.get(key, {}).get("values", [])
            if len(values) > 1:
                out.append(("alternative_value", with_arg(key, copy.deepcopy(values[1]))))
        out.append(("extra_argument", with_arg("zq_extra", 1)))
        unlisted = [p for p in schema.get("properties", {}) if p not in args and p not in acc]
        if unlisted:
            out.append(("unexpected_schema_argument", with_arg(unlisted[0], "zq")))
    if len(full) > 1:
        out += [("reordered", full[::-1]), ("rotated", full[1:] + full[:1]), ("call_dropped", full[:-1])]
    out.append(("call_duplicated", full + full[:1]))
    return out


def completion_of(calls: Calls) -> str:
    """The completion text of `calls`, exactly as the chat template renders a target."""
    return render_target({"tool_calls": [{"name": n, "arguments": a} for n, a in calls]})


@dataclass
class AgreementResult:
    """Verdict counts per mutation kind: (bfcl_accepts, thinkact_accepts) -> count."""

    counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    gold_rejected: dict[str, bool] = field(default_factory=dict)  # id -> thinkact's verdict on that gold

    def rate(self, exclude: Iterable[str] = DELIBERATE) -> float:
        excluded = set(exclude)
        total = agree = 0
        for kind, c in self.counts.items():
            if kind not in excluded:
                total += sum(c.values())
                agree += c[(True, True)] + c[(False, False)]
        return agree / total if total else 1.0

    def cases(self, exclude: Iterable[str] = ()) -> int:
        excluded = set(exclude)
        return sum(sum(c.values()) for k, c in self.counts.items() if k not in excluded)

    def table(self) -> str:
        lines = [f"{'kind':28s} {'cases':>7s} {'agree':>7s}  both_ok  both_no  bfcl_only  thinkact_only"]
        for kind in sorted(self.counts, key=list(KINDS).index):
            c = self.counts[kind]
            n = sum(c.values())
            lines.append(f"{kind:28s} {n:7d} {(c[(True, True)] + c[(False, False)]) / n:7.2%}  {c[(True, True)]:7d}"
                         f"  {c[(False, False)]:7d}  {c[(True, False)]:9d}  {c[(False, True)]:13d}")
        lines.append(f"agreement {self.rate():.2%} of {self.cases(DELIBERATE)} cases (deliberate differences "
                     f"excluded); {self.rate(()):.2%} of {self.cases()} with them")
        return "\n".join(lines)


def check_agreement(categories: Iterable[str], checker: Checker, *, keep: int = 50) -> AgreementResult:
    """Judge every gold answer and mutation of `categories` with both scorers; `keep` disagreements per kind
    are kept (with the calls) for inspection."""
    exact = get("tool_call_exact")
    result = AgreementResult()
    kept: Counter = Counter()
    for category in categories:
        raw = bfcl_raw(category)
        for ex in import_bfcl(category):
            if not ex.target.is_call:
                continue
            docs, answer = raw[ex.id]["function"], raw[ex.id]["ground_truth"]
            target = target_column(ex)
            verdicts = []
            for kind, calls in mutations(ex, docs):
                text = completion_of(calls)
                parsed = json.loads(json.dumps([{n: a} for n, a in parse(text).calls]))
                bfcl = bool(checker(docs, parsed, answer, category)["valid"])
                ours = exact([text], target=[target])[0] == 1.0
                if kind == "gold" and not bfcl:
                    result.gold_rejected[ex.id] = ours
                    break
                verdicts.append((kind, bfcl, ours, calls))
            for kind, bfcl, ours, calls in verdicts:
                result.counts[kind][(bfcl, ours)] += 1
                if bfcl != ours and kept[kind] < keep:
                    kept[kind] += 1
                    result.disagreements.append({"kind": kind, "id": ex.id, "bfcl": bfcl, "thinkact": ours,
                                                 "calls": calls})
    return result
