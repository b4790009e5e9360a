"""Fuzz of params.yaml (issue #18, item 3): every leaf key of the project's params.yaml made wrong — a wrong type, a
value out of range, a known-bad value — and an unknown key added at every level. Each variant must stop with a
ConfigError that names that key and the file: in `load_params` (before anything heavy loads), or, for what only TRL
or PEFT knows (a trainer field's name, TRL's own value lists), in the check the `check`, `sft` and `grpo` stages run
before any model loads. Never another exception, never silent acceptance.

The leaves come from params.yaml itself, so a key added there is fuzzed too. Fast: no model, no data.

    python tests/test_params_fuzz.py     # the figures: variants tried / clear error / traceback / silent
"""
from __future__ import annotations

import copy
import dataclasses
import math
import os
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thinkact.project import PARAMS_FILE, PROJECT_ROOT
from thinkact.config import ScheduleParams, load_params
from thinkact.errors import ConfigError

RAW = yaml.safe_load((PROJECT_ROOT / PARAMS_FILE).read_text(encoding="utf-8"))
UNKNOWN = "zz_unknown"


def leaves(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) of every leaf: scalars, null, and each list with its items (`grpo.rewards[0]`)."""
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in leaves(v, f"{prefix}.{k}" if prefix else str(k))]
    out = [(prefix, node)]
    if isinstance(node, list):
        out += [(f"{prefix}[{i}]", v) for i, v in enumerate(node)]
    return out


def mappings(node: Any, prefix: str = "") -> list[str]:
    """The dotted key of every mapping ("" is the file itself)."""
    if not isinstance(node, dict):
        return []
    return [prefix] + [m for k, v in node.items() for m in mappings(v, f"{prefix}.{k}" if prefix else str(k))]


def _path(key: str) -> list[Any]:
    """"grpo.rewards[0]" -> ["grpo", "rewards", 0]."""
    return [int(t[1:-1]) if t.startswith("[") else t for t in re.findall(r"[^.\[\]]+|\[\d+\]", key)]


def with_value(raw: dict, key: str, value: Any) -> dict:
    """A deep copy of `raw` with `key` set to `value`."""
    out = copy.deepcopy(raw)
    *head, last = _path(key)
    node = out
    for part in head:
        node = node[part]
    node[last] = value
    return out


# -- the variants ------------------------------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")
# Wrong for every leaf of that kind (the kind is the type of the value params.yaml has there); `-1` is out of range
# for every whole-number key of params.yaml (counts, seeds, sizes, steps).
GENERIC: dict[type, list[Any]] = {
    bool: [1, 0, "yes", None, [True]],
    int: ["x", "12", "1e3", 2.5, True, None, NAN, -1, [1], {"a": 1}],
    float: ["x", "1e-3", True, None, NAN, INF, -INF, -1.0, [0.5], {"a": 1}],
    str: [5, 1.5, True, None, "", "   ", [1], {"a": 1}],
    list: ["x", 5, None, {"a": 1}],
    type(None): [5, "x", [1], True],
}
# Values that are fine for that key although GENERIC lists them for its kind.
VALID = {
    ("register.min_improvement", -1.0),                               # a delta: any finite number
    *((f"grpo.trainer.reward_weights[{i}]", -1.0) for i in range(4)),  # a negative weight penalises
    ("sft.trainer.max_length", None),                                  # null: no truncation
    ("sft.trainer.save_total_limit", None), ("grpo.trainer.save_total_limit", None),  # null: keep every checkpoint
    ("grpo.trainer.reward_weights", None),                             # null: every weight 1
    ("grpo.trainer.scale_rewards", True), ("grpo.trainer.scale_rewards", False),  # TRL: group / none
}
# Known-bad values of particular keys: ranges, allowed values, cross-field rules (issue #18's reports among them).
EXTRA: dict[str, list[Any]] = {
    "paths.data": ["../elsewhere", "data/../../x"], "paths.outputs": ["../x"], "paths.models_cache": ["a/../../b"],
    "data.distractors.min": [5], "data.distractors.max": [0, 99],
    "data.held_out_domains": [["nope"], ["restaurants", "restaurants"], []],
    "data.turn_mix": [{"call": 0}], "data.episode_mix": [{"single": 0}],
    "validate.rows.train.min": [2_000_000], "validate.turn_share.call.max": [1.5],
    "validate.turn_share.call.min": [0.9],
    "model.tiny.hidden_size": ["64", 0, 100, 130], "model.tiny.num_heads": [3, 0], "model.tiny.num_kv_heads": [3, 0],
    "model.tiny.vocab_size": [100], "model.tiny.pretokens": ["letters"], "model.tiny.warmup_learning_rate": [0, "1e-3"],
    "model.tiny.num_layers": [0], "model.tiny.intermediate_size": [0],
    "sft.max_examples": [-3], "sft.cpu_threads": [True],
    "sft.trainer.max_steps": [0, -5], "sft.trainer.per_device_train_batch_size": [0, 2.5],
    "sft.trainer.learning_rate": [-1], "sft.trainer.warmup_steps": [2.5], "sft.trainer.weight_decay": [-0.1],
    "sft.trainer.max_length": [0], "sft.trainer.logging_steps": [0, -1], "sft.trainer.save_steps": [0],
    "sft.trainer.save_total_limit": [0], "sft.trainer.lr_scheduler_type": ["sideways"],
    "sft.trainer.train_sampling_strategy": ["shuffled"], "sft.trainer.report_to": [[1]],
    "sft.lora": [{"r": 0}, {"lora_dropout": 1.5}, {"rank": 4}],
    "sft.keep_steps": [[0], [-2], [2, 2], [3001], [1.5], [True], ["2"], [None]],   # 3001: past sft.trainer.max_steps
    "episodes.max_turns": [0], "episodes.max_tool_calls": [0], "episodes.max_new_tokens": [0],
    "episodes.faults.transient": [1.5], "episodes.faults.rate_limit": [1.01], "episodes.faults.validation": [2],
    "episodes.faults": [{"transient": 0.7, "validation": 0.7}, {"retries": 2}],   # the rates add up past 1
    # sft@2: a step sft.keep_steps ([] here) does not keep
    "grpo.init": ["bogus", "sft@2", "sft@0", "sft@", "sft@x", "sft@-1", "sft@ 2", "checkpoint-2", "SFT"],
    "grpo.mode": ["dialogue"], "grpo.rewards[0]": ["nope", "episode_success"], "grpo.rewards[1]": ["tool_call"],
    "grpo.rewards": [[]], "grpo.reward_options.answer.mode": ["fuzzy", 3],
    "grpo.reward_options.answer": [{"style": "f1"}], "grpo.lora": [{"r": 0}, {"rank": 4}],
    "grpo.trainer.max_steps": [0, -1], "grpo.trainer.num_generations": [0, 1, 3, 2.5],
    "grpo.trainer.per_device_train_batch_size": [0, 6], "grpo.trainer.temperature": [0],
    "grpo.trainer.max_completion_length": [0], "grpo.trainer.beta": [-0.1], "grpo.trainer.loss_type": ["ppo"],
    "grpo.trainer.scale_rewards": ["sometimes", 1], "grpo.trainer.reward_weights": [[1.0], [1.0, "x", 1.0, 1.0]],
    "grpo.trainer.learning_rate": [-1], "grpo.trainer.logging_steps": [-1], "grpo.trainer.save_steps": [0],
    "grpo.trainer.warmup_steps": [1.5],
    "grpo.difficulty": [{}, {"band": [0.5, 1.2]}, {"band": [0.8, 0.2]}, {"band": [0.5]}, {"band": "0-1"},
                        {"band": [0, 1], "pass_rewards": ["nope"]}, {"band": [0, 1], "pass_rewards": []},
                        {"band": [0, 1], "pass_at": "1"}, {"band": [0, 1], "zz": 1}],
    "grpo.dynamic_sampling": [{"max_rounds": 0}, {"max_rounds": 1.5}, {"rounds": 2}],
    "dev.examples": [-3], "dev.episodes": [-3], "dev.seed": [-3],
    "evaluate.models": [["base", "dpo"], ["base", "base"], []],
    "evaluate.splits": [["train"], [], ["dev"]],   # dev: named while the dev cut is off (params.yaml's default)
    "evaluate.batch_size": [0, 2.5], "evaluate.max_new_tokens": [0],
    "evaluate.bootstrap.n_resamples": [10], "evaluate.bootstrap.confidence": [1.0, 0.3],
    "evaluate.bootstrap.method": ["jackknife"], "evaluate.episodes.k": [0], "evaluate.episodes.temperature": [0, 6],
    "evaluate.episodes.splits": [["train"], ["test_id", "test_id"], ["dev"]],
    "register.model_name": ["a b", "../x", "a/b", "-x"], "register.primary_metric": ["nope", "episode_success"],
    "register.splits": [["train"], [], ["dev"]], "register.thresholds.format": [1.5, -0.1],
    "schedule.cron": ["every day", "61 * * * *", "0 3 * *", "0 3 * * 8", "*/0 * * * *", "0 3 * * mon-sun-x"],
    "schedule.timezone": ["Mars/Olympus", "utc"],
}
# Keys only TRL or PEFT knows (their field names, TRL's value lists): checked when the stage builds the configs.
STAGE_CHECKED = ("sft.trainer.", "grpo.trainer.", "sft.lora", "grpo.lora")
LISTS_OF_NAMES = ("data.held_out_domains", "grpo.rewards", "evaluate.models", "evaluate.splits",
                  "evaluate.episodes.splits", "register.splits")


def _valid(key: str, value: Any) -> bool:
    return any(key == k and type(value) is type(v) and (value == v or value is v) for k, v in VALID)


def variants() -> list[tuple[str, Any]]:
    """(key, value) for every variant (a key left out is not one: it takes its default)."""
    out: list[tuple[str, Any]] = []
    for key, value in leaves(RAW):
        for bad in GENERIC[type(value)] + EXTRA.get(key, []):
            if not _valid(key, bad) and not (type(bad) is type(value) and bad == value):
                out.append((key, bad))
        if key in LISTS_OF_NAMES and value:
            out.append((key, [*value, value[0]]))  # the same name twice
    for key in EXTRA:
        if key not in dict(leaves(RAW)):
            out += [(key, bad) for bad in EXTRA[key]]  # a mapping replaced whole (data.turn_mix, sft.lora, ...)
    for mapping in mappings(RAW):
        out.append((f"{mapping}.{UNKNOWN}" if mapping else UNKNOWN, 1))  # an unknown key at every level
        if mapping:
            out += [(mapping, bad) for bad in (5, "x", [1])]  # the mapping itself of the wrong type
    return out


# -- running one -------------------------------------------------------------------------------------------------

def stage_checks(params) -> None:
    """What the `check` stage (and each training stage) runs after load_params, before any model loads."""
    import tempfile

    from thinkact.training import grpo, sft  # torch + TRL: seconds, so only when a variant gets this far

    with tempfile.TemporaryDirectory() as tmp:
        sft.check_params(params, Path(tmp) / "sft")
        grpo.check_params(params, Path(tmp) / "grpo")


def names_the_key(err: ConfigError, key: str) -> bool:
    """The error names `key`, a key inside it, or (for a rule between fields) an enclosing or sibling key whose
    message names the leaf."""
    leaf = re.sub(r"(\[\d+\])+$", "", key).rsplit(".", 1)[-1]
    if err.key == key or err.key.startswith((key + ".", key + "[")):
        return True
    if key.startswith(err.key + "["):
        return True
    if key.startswith(err.key + ".") and "." in err.key:
        return leaf in err.problem
    parent = key.rsplit(".", 1)[0]
    return "." in key and err.key.rsplit(".", 1)[0] == parent and leaf in err.problem


DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def outcome(tmp: Path, key: str, value: Any) -> tuple[str, str]:
    """("load" | "stage" | "other key" | "traceback" | "silent", detail) for one variant."""
    path = tmp / "params.yaml"
    path.write_text(yaml.dump(with_value(RAW, key, value), Dumper=DUMPER, sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    where = "load"
    try:
        params = load_params(path)
        if not key.startswith(STAGE_CHECKED):
            return "silent", "load_params accepted it"
        where = "stage"
        before = os.environ.get("THINKACT_PARAMS")
        os.environ["THINKACT_PARAMS"] = str(path)  # as a stage has it: the file its errors name
        try:
            stage_checks(params)
        finally:
            os.environ.pop("THINKACT_PARAMS") if before is None else os.environ.update(THINKACT_PARAMS=before)
    except ConfigError as e:
        if str(path) not in str(e):
            return "other key", f"the message does not name the file: {e}"
        return (where, str(e)) if names_the_key(e, key) else ("other key", str(e))
    except Exception as e:  # noqa: BLE001 - a traceback is what this fuzz hunts
        return "traceback", f"{type(e).__name__}: {e}"
    return "silent", "accepted by load_params and the stage's checks"


def run_all(tmp: Path) -> tuple[Counter, list[str]]:
    counts: Counter = Counter()
    bad: list[str] = []
    for key, value in variants():
        kind, detail = outcome(tmp, key, value)
        counts[kind] += 1
        if kind not in ("load", "stage"):
            bad.append(f"{key} = {value!r}: {kind}: {detail}")
    return counts, bad


# -- the tests -----------------------------------------------------------------------------------------------------

def test_the_project_params_load():
    load_params(PROJECT_ROOT / PARAMS_FILE)


def test_every_variant_stops_with_a_config_error_naming_its_key(tmp_path):
    counts, bad = run_all(tmp_path)
    assert sum(counts.values()) >= 400, counts
    assert not bad, f"{len(bad)} of {sum(counts.values())} variants:\n" + "\n".join(bad)
    # load_params catches everything but the TRL / PEFT mappings' field types and TRL's own rules: outcome() counts
    # a variant of any other key that load_params accepts as silent
    assert counts["load"] > 0 and counts["stage"] > 0, counts


def test_every_leaf_of_params_yaml_is_fuzzed():
    fuzzed = {key for key, _ in variants()}
    assert {key for key, _ in leaves(RAW)} <= fuzzed
    assert {f"{m}.{UNKNOWN}" if m else UNKNOWN for m in mappings(RAW)} <= fuzzed


def test_the_issue_reports_now_fail_in_load_params(tmp_path):
    """The 18 tracebacks and silent acceptances of issue #18 item 3 that DVC did not skip."""
    reported = [("sft.trainer.per_device_train_batch_size", 0), ("sft.trainer.per_device_train_batch_size", 2.5),
                ("sft.trainer.learning_rate", -1), ("model.tiny.hidden_size", "64"), ("model.tiny.hidden_size", 0),
                ("grpo.trainer.num_generations", 0), ("grpo.reward_options.answer.mode", "fuzzy"),
                ("sft.trainer.max_steps", -5), ("sft.trainer.max_steps", 0), ("sft.max_examples", -3),
                ("register.primary_metric", "nope"), ("register.thresholds.nope", 0.5),
                ("sft.trainer.logging_steps", -1), ("sft.trainer.save_steps", 0), ("grpo.trainer.save_steps", 0),
                (UNKNOWN, 1), ("sft.cpu_threads", True), ("grpo.cpu_threads", True)]
    for key, value in reported:
        kind, detail = outcome(tmp_path, key, value)
        assert kind == "load", (key, value, kind, detail)


# Values never valid for a key of that kind, whatever the key (hypothesis draws the key and the value).
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_NEVER: dict[type, st.SearchStrategy] = {
    int: st.one_of(_TEXT, st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.integers(max_value=-1),
                   st.lists(st.integers(), max_size=2), st.dictionaries(_TEXT, st.integers(), min_size=1, max_size=2)),
    float: st.one_of(_TEXT, st.booleans(), st.sampled_from([NAN, INF, -INF]), st.lists(st.floats(), max_size=2)),
    str: st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.lists(st.integers(), min_size=1,
                                                                                     max_size=2)),
    bool: st.one_of(st.integers(), _TEXT, st.floats(allow_nan=False)),
    list: st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(),
                    st.dictionaries(_TEXT, st.integers(), min_size=1, max_size=2)),
}
_LOAD_LEAVES = [(k, v) for k, v in leaves(RAW) if type(v) in _NEVER]


def _never_valid(key: str, value: Any) -> bool:
    """False for the few values of a wrong-looking kind that a key does take."""
    if key.endswith("trainer.warmup_steps") and isinstance(value, float):
        return not (math.isfinite(value) and 0 <= value < 1)  # transformers reads a float < 1 as a share of steps
    if key == "grpo.trainer.scale_rewards" and isinstance(value, bool):
        return False  # TRL maps true / false to group / none
    return True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_value_of_the_wrong_kind_never_gets_through(tmp_path, data):
    key, current = data.draw(st.sampled_from(_LOAD_LEAVES), label="key")
    value = data.draw(_NEVER[type(current)], label="value")
    if _valid(key, value) or not _never_valid(key, value):
        return
    kind, detail = outcome(tmp_path, key, value)
    assert kind in ("load", "stage"), (key, value, kind, detail)


def test_trainer_rules_name_real_trl_fields_and_trl_values():
    """The rules thinkact adds to the TRL mappings (thinkact.training.params) name real SFTConfig / GRPOConfig
    fields, and every value GRPO_CHOICES allows is one the installed TRL documents for that field: a TRL upgrade
    that renames a field or drops a value fails here."""
    from trl import GRPOConfig, SFTConfig

    from thinkact.training.params import GRPO_CHOICES, GRPO_RULES, SFT_RULES

    assert set(SFT_RULES) <= set(SFTConfig.__dataclass_fields__)
    assert set(GRPO_RULES) - {"reward_weights"} <= set(GRPOConfig.__dataclass_fields__)
    for key, choices in GRPO_CHOICES.items():
        field = GRPOConfig.__dataclass_fields__[key]
        documented = field.metadata.get("help", "") + repr(field.type)
        for choice in choices:
            if not isinstance(choice, bool):
                assert re.search(rf"[`'\"]{choice}[`'\"]", documented), (key, choice)


def test_tiny_pretoken_recipes_have_one_regex_each():
    from thinkact.models import tiny
    from thinkact.models.params import PRETOKEN_RECIPES

    assert tuple(tiny.PRETOKENS) == PRETOKEN_RECIPES


def test_cron_rule_agrees_with_prefect_on_standard_expressions():
    """schedule.cron is read by cronsim; Prefect's scheduler (its vendored croniter) reads the same expressions."""
    from prefect._vendor.croniter import croniter

    good = ["0 3 * * *", "30 2 * * 1-5", "*/15 * * * *", "0 0 1 jan *", "0 12 * * mon,fri", "5 4 * * 7", "@daily",
            "0-30/10 9-17 * * *", "0 0 29 2 *"]
    bad = ["every day", "61 * * * *", "0 24 * * *", "0 3 * *", "0 3 * * 8", "*/0 * * * *", "0 0 0 * *", "0 0 * 13 *",
           "5-1 * * * *", "* * * * * *"]
    for expr in good:
        ScheduleParams(cron=expr)
        assert croniter.is_valid(expr), expr
    for expr in bad:
        with pytest.raises(ConfigError, match="schedule.cron"):
            ScheduleParams(cron=expr)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        found, wrong = run_all(Path(folder))
    tried = sum(found.values())
    print(f"variants tried: {tried}")
    print(f"clear error: {found['load'] + found['stage']} (load_params {found['load']}, stage check before any model "
          f"loads {found['stage']})")
    print(f"error naming another key: {found['other key']}")
    print(f"traceback: {found['traceback']}")
    print(f"silent: {found['silent']}")
    for line in wrong:
        print("  " + line)
    sys.exit(1 if wrong else 0)
