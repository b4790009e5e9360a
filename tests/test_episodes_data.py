"""Agent episodes in the built-in data set (issue #13): data/episodes/<split>.jsonl is deterministic, leaves the
per-turn files as they were, keeps the splits' rules, is grounded in the simulators and playable on the
ToolEnvironment, every gold turn is a valid per-turn example, and the validate stage rejects bad episodes naming
the file, the line and the field."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections import Counter

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

from thinkact.env.spec import EpisodeSpec
from thinkact.env.tool_env import ToolEnvironment
from thinkact.env.spec import EPISODE_KINDS, EPISODES_DIR
from thinkact.env.user import clarification_reply
from thinkact.project import PROJECT_ROOT
from thinkact.data.params import DataParams
from thinkact.contract import EVAL_SPLITS, SPLITS, Example
from thinkact.world.catalog import TOOLS, TOOLS_BY_NAME
from thinkact.data.episode_gen import CHAINS, generate_episodes, gold_conversation, gold_examples
from thinkact.data.generator import generate, turn_counts
from thinkact.world.simulators import simulate
from thinkact.data.writer import write_dataset
from thinkact.errors import ConfigError, DataError
from thinkact.validation import validate, validate_to_dir
from thinkact.validation.rows import ERROR_COLUMNS, read_rows

# md5 of the per-turn files for the default params, from `thinkact data generate --out /tmp/before` run on the
# code before episodes existed (commit 7def371): adding episodes must not change a byte of them.
PER_TURN_MD5 = {"train.jsonl": "3f695142fa7ce13af65fc3c0a5f32d24",
                "test_id.jsonl": "b8016350b2d5fffff56bd2f7b9db658e",
                "test_env.jsonl": "5b79e769ce74ef3ff7cef39f6e820ae6",
                "test_task.jsonl": "2e34f1d8f9a308bb0c45d0127f02e7d9"}
MANIFEST_BEFORE_MD5 = "360b1c844e5ad576b0d9b2e0e0b270f0"  # manifest.json then (it had no "episodes" entry)


pytestmark = pytest.mark.usefixtures("no_tracking")  # never the repo's mlflow/


@pytest.fixture(scope="module")
def episodes(builtin_data):
    """split -> [EpisodeSpec] of the default built-in data set (read back from the files)."""
    out = {}
    for split in SPLITS:
        path = builtin_data / EPISODES_DIR / f"{split}.jsonl"
        out[split] = [EpisodeSpec.from_json(line, str(path), n)
                      for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)]
    return out


def _all(episodes):
    return [s for specs in episodes.values() for s in specs]


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


# -- the files ----------------------------------------------------------------------------------------------
def test_per_turn_files_and_manifest_entries_are_unchanged(builtin_data):
    assert {name: _md5(builtin_data / name) for name in PER_TURN_MD5} == PER_TURN_MD5
    manifest = json.loads((builtin_data / "manifest.json").read_text())
    before = {k: v for k, v in manifest.items() if k != "episodes"}
    text = json.dumps(before, indent=2, sort_keys=True) + "\n"
    assert hashlib.md5(text.encode()).hexdigest() == MANIFEST_BEFORE_MD5


def test_per_turn_files_equal_the_per_turn_generator_alone(builtin_data, params):
    for split, examples in generate(params.data):
        assert (builtin_data / f"{split}.jsonl").read_bytes() == "".join(e.to_json() + "\n" for e in examples).encode()


def test_same_params_same_bytes_other_seed_other_episodes(tmp_path, builtin_data, params):
    write_dataset(tmp_path / "again", params.data)
    for split in SPLITS:
        assert (tmp_path / "again" / EPISODES_DIR / f"{split}.jsonl").read_bytes() == \
            (builtin_data / EPISODES_DIR / f"{split}.jsonl").read_bytes()
    other = dataclasses.replace(params.data, seed=params.data.seed + 1, sizes={})
    (split, specs), *_ = generate_episodes(other)
    assert split == "train" and [s.to_json() for s in specs] != \
        (builtin_data / EPISODES_DIR / "train.jsonl").read_text(encoding="utf-8").splitlines()


def test_manifest_counts_episodes(builtin_data, episodes):
    manifest = json.loads((builtin_data / "manifest.json").read_text())["episodes"]
    for split, specs in episodes.items():
        entry = manifest[split]
        assert entry["file"] == f"{EPISODES_DIR}/{split}.jsonl" and entry["episodes"] == len(specs)
        assert entry["kinds"] == dict(sorted(Counter(s.kind for s in specs).items()))
        assert entry["sha256"] == hashlib.sha256((builtin_data / entry["file"]).read_bytes()).hexdigest()


def test_no_episode_sizes_writes_no_episodes(tmp_path, params):
    data = dataclasses.replace(params.data, sizes={"train": 12}, episode_sizes={})
    manifest = write_dataset(tmp_path / "d", data)
    assert "episodes" not in manifest and not (tmp_path / "d" / EPISODES_DIR).exists()


def test_params_reject_unknown_kinds_and_splits():
    with pytest.raises(ConfigError, match="data.episode_mix.chitchat"):
        DataParams(episode_mix={"chitchat": 1.0})
    with pytest.raises(ConfigError, match="data.episode_sizes.dev"):
        DataParams(episode_sizes={"dev": 3})
    with pytest.raises(ConfigError, match="data.episode_mix"):
        DataParams(episode_sizes={"train": 3}, episode_mix={})


# -- the splits' rules --------------------------------------------------------------------------------------
def test_sizes_and_every_kind_in_every_split_by_the_mix(episodes, params):
    for split, specs in episodes.items():
        assert len(specs) == params.data.episode_sizes[split]
        counts = Counter(s.kind for s in specs)
        assert set(counts) == set(EPISODE_KINDS), split
        assert counts == turn_counts(len(specs), params.data.episode_mix, EPISODE_KINDS)
        assert all(s.split == split and s.system for s in specs)
        assert len({s.id for s in specs}) == len(specs)


def test_test_task_uses_only_held_out_tools_and_train_never_sees_them(episodes, params):
    held_out = set(params.data.held_out_domains)
    held_tools = {t.name for t in TOOLS if t.domain in held_out}
    for spec in episodes["test_task"]:
        assert spec.domain in held_out and {c.name for c in spec.gold_calls} <= held_tools, spec.id
    for split in ("train", "test_id", "test_env"):
        for spec in episodes[split]:
            assert spec.domain not in held_out and not held_tools & set(spec.tool_names), spec.id


def test_offered_tools_are_the_domains_plus_distractors(episodes, params):
    for spec in _all(episodes):
        domains = {TOOLS_BY_NAME[c.name].domain for c in spec.gold_calls} | {spec.domain}
        own = {t.name for t in TOOLS if t.domain in domains}
        assert own <= set(spec.tool_names), spec.id
        assert params.data.distractors.min <= len(spec.tool_names) - len(own) <= params.data.distractors.max


def test_no_opening_message_is_shared(episodes, builtin_examples):
    openings = [s.opening_key for s in _all(episodes)]
    assert len(openings) == len(set(openings))  # across all splits, hence between train and every evaluation split
    train = {s.opening_key for s in episodes["train"]}
    assert all(not train & {s.opening_key for s in episodes[split]} for split in EVAL_SPLITS)
    train_users = {m["content"] for e in builtin_examples["train"] for m in e.messages if m["role"] == "user"}
    assert not train_users & {s.user for s in episodes["test_env"]}  # test_env phrasings are never train's


# -- grounded in the simulators -----------------------------------------------------------------------------
def test_gold_calls_validate_against_their_tools(episodes):
    checker = FormatChecker()
    for spec in _all(episodes):
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in spec.tools}
        for call in spec.gold_calls:
            Draft202012Validator(schemas[call.name], format_checker=checker).validate(call.arguments)
        assert len(spec.gold_calls) == {"no_tool": 0, "single": 1, "clarify": 1, "chain": 2, "parallel": 2}[spec.kind]


def test_facts_are_in_the_gold_results_and_the_gold_answer(episodes):
    for spec in _all(episodes):
        results = [m["content"] for m in gold_conversation(spec) if m["role"] == "tool"]
        assert all(any(f in r for r in results) and f in spec.answer for f in spec.facts), spec.id
        assert bool(spec.facts) == bool(spec.gold_calls) and spec.answer, spec.id


def test_held_values_are_left_out_of_the_opening_and_used_by_the_gold_call(episodes):
    clarify = [s for s in _all(episodes) if s.kind == "clarify"]
    assert clarify and all(not s.held for s in _all(episodes) if s.kind != "clarify")
    for spec in clarify:
        assert spec.held and spec.question, spec.id
        for key, value in spec.held.items():
            assert str(value).casefold() not in spec.user.casefold(), spec.id
            assert spec.gold_calls[0].arguments[key] == value, spec.id


def test_chains_feed_a_result_value_into_the_second_call(episodes):
    for first, second in CHAINS:
        anchor = TOOLS_BY_NAME[second].anchor
        assert anchor not in TOOLS_BY_NAME[first].properties, (first, second)
    chains = [s for s in _all(episodes) if s.kind == "chain"]
    assert {s.split for s in chains} == set(SPLITS)
    for spec in chains:
        one, two = spec.gold_calls
        anchor = TOOLS_BY_NAME[two.name].anchor
        assert (one.name, two.name) in CHAINS
        value = simulate(one.name, one.arguments)[anchor]
        assert two.arguments[anchor] == value and str(value) not in spec.user, spec.id


def test_the_environment_plays_every_gold_episode(episodes):
    for spec in _all(episodes):
        env = ToolEnvironment()
        messages = gold_conversation(spec, env)
        assert len(env.calls) == len(spec.gold_calls) and env.invalid_calls == 0, spec.id
        assert all("error" not in json.loads(c.result) for c in env.calls), spec.id
        assert env.done and not env.failed and env.final_answer == spec.answer, spec.id
        if spec.kind == "clarify":
            turn = env.turns[0]
            assert turn.kind == "clarify" and turn.user == clarification_reply(spec.held), spec.id
            assert messages[3] == {"role": "user", "content": turn.user}
            assert all(str(v) in turn.user for v in spec.held.values())


def test_every_gold_turn_is_a_valid_per_turn_example(tmp_path, episodes):
    folder = tmp_path / "cuts"
    folder.mkdir()
    kinds = Counter()
    for split, specs in episodes.items():
        lines = []
        for spec in specs:
            examples = gold_examples(spec)
            assert len(examples) == {"no_tool": 1, "single": 2, "parallel": 2, "chain": 3, "clarify": 3}[spec.kind]
            for ex in examples:
                assert Example.from_dict(json.loads(ex.to_json())) == ex
                kinds[ex.turn_type] += 1
                lines.append(ex.to_json() + "\n")
        (folder / f"{split}.jsonl").write_text("".join(lines), encoding="utf-8")
    rows = read_rows(folder)  # the validate stage's own per-row checks: contract, roles, tools, arguments, leaks
    bad = [(r["where"], c, r[c]) for r in rows for c in ERROR_COLUMNS if r[c] is not None]
    assert not bad, bad[:5]
    assert set(kinds) == {"call", "call_from_history", "parallel", "answer", "clarify", "no_tool"}


# -- the validate stage -------------------------------------------------------------------------------------
def _lines(folder, split):
    return (folder / EPISODES_DIR / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()


def _write(folder, split, lines):
    (folder / EPISODES_DIR / f"{split}.jsonl").write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def _edit(lines, number, change):
    d = json.loads(lines[number - 1])
    change(d)
    lines[number - 1] = json.dumps(d)


def _pick(lines, kind, used):
    """The first line (1-based) of an episode of `kind` not in `used`; it is added to `used`."""
    number = next(n for n, line in enumerate(lines, start=1) if n not in used and json.loads(line)["kind"] == kind)
    used.add(number)
    return number


def _first_arg_wrong_type(d):
    call = d["gold_calls"][0]
    call["arguments"][next(iter(call["arguments"]))] = 7  # every catalog tool's first argument is a string


@pytest.fixture(scope="module")
def bad_data(tmp_path_factory, builtin_data):
    """The built-in data set with one defect per line in its episode files; {check: (where, words)}."""
    folder = tmp_path_factory.mktemp("bad") / "data"
    shutil.copytree(builtin_data, folder)
    train, test_id = _lines(folder, "train"), _lines(folder, "test_id")
    used: set[int] = set()
    call, fact, held, shape, opening, unreadable = (_pick(train, k, used) for k in
                                                   ("single", "chain", "clarify", "parallel", "no_tool", "single"))
    _edit(train, call, _first_arg_wrong_type)
    _edit(train, fact, lambda d: d.update(facts=[*d["facts"], "not-a-result-value"]))
    _edit(train, held, lambda d: d.update(user=d["user"] + " " + str(next(iter(d["held"].values())))))
    _edit(train, shape, lambda d: d.update(gold_calls="none"))
    _edit(test_id, 3, lambda d: d.update(user=json.loads(train[opening - 1])["user"].upper()))
    train[unreadable - 1] = train[unreadable - 1][:40]
    _write(folder, "train", train)
    _write(folder, "test_id", test_id)
    n_facts = len(json.loads(_lines(builtin_data, "train")[fact - 1])["facts"])
    return folder, {
        "episodes.gold_calls_valid": (f"episodes/train.jsonl:{call}", "gold_calls.0: call"),
        "episodes.facts_in_results": (f"episodes/train.jsonl:{fact}", f"facts.{n_facts}: 'not-a-result-value'"),
        "episodes.held_values": (f"episodes/train.jsonl:{held}", "held."),
        "episodes.contract": (f"episodes/train.jsonl:{shape}", "gold_calls: 'none' is not of type 'array'"),
        "episodes.no_shared_opening": ("episodes/test_id.jsonl:3", "user: same opening message as a train episode "
                                       f"(episodes/train.jsonl:{opening})"),
        "episodes.readable": (f"episodes/train.jsonl:{unreadable}", "invalid JSON"),
    }


def test_bad_episodes_fail_validation_naming_file_line_and_field(tmp_path, bad_data, params):
    folder, expected = bad_data
    report = validate_to_dir(folder, params.validate, tmp_path / "out")
    failed = {o.check: o for o in report.failed}
    assert set(failed) == set(expected), report.summary()
    summary = report.summary()
    for check, (where, words) in expected.items():
        rows = [r for r in failed[check].rows if r["where"] == where]
        assert rows and words in rows[0]["reason"], (check, failed[check].rows)
        assert f"{where}" in summary and check in summary
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {f["check"] for f in saved["failures"]} == set(expected) and saved["episodes"]["total"] == 780


def test_the_validate_stage_stops_on_bad_episodes(tmp_path, bad_data, monkeypatch, capsys):
    from tasks import validate as stage

    folder, expected = bad_data
    raw = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump({"paths": {"data": str(folder), "outputs": str(tmp_path / "outputs")},
                                           "validate": raw["validate"]}), encoding="utf-8")
    monkeypatch.setenv("THINKACT_PARAMS", str(params_file))
    assert stage.main([]) == 1
    err = capsys.readouterr().err
    where, words = expected["episodes.gold_calls_valid"]
    assert "episodes.gold_calls_valid" in err and where in err and words in err and "Traceback" not in err


def test_built_in_episodes_pass_and_a_folder_without_episodes_still_validates(tmp_path, builtin_data, params):
    report = validate(builtin_data, params.validate)
    assert report.success, report.summary()
    names = {o.check for o in report.outcomes}
    assert {"episodes.gold_calls_valid", "episodes.facts_in_results", "episodes.no_shared_opening",
            "episodes.contract"} <= names
    assert report.episodes == {"total": 780, **params.data.episode_sizes} and "780 episodes" in report.summary()
    plain = tmp_path / "plain"
    shutil.copytree(builtin_data, plain, ignore=shutil.ignore_patterns(EPISODES_DIR))
    report = validate(plain, params.validate)
    assert report.success and not any(o.check.startswith("episodes.") for o in report.outcomes)
    assert "episodes" not in report.to_dict()


def test_a_spec_names_the_file_line_and_field_of_a_bad_new_field(episodes):
    d = episodes["train"][0].to_dict()
    assert EpisodeSpec.from_dict(d) == episodes["train"][0]
    with pytest.raises(DataError) as info:
        EpisodeSpec.from_dict({**d, "kind": "chitchat"}, "episodes/train.jsonl", 7)
    assert info.value.field == "kind" and str(info.value).startswith("episodes/train.jsonl:7: field 'kind'")
    with pytest.raises(DataError) as info:
        EpisodeSpec.from_dict({**d, "gold_calls": [{"name": "nope", "arguments": {}}]}, "episodes/train.jsonl", 8)
    assert info.value.field == "gold_calls" and info.value.line == 8
