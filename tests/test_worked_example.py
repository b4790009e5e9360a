"""The worked example (examples/units/, docs/your-tools.md): its committed conversations and data are what the
generator and the importer make of them, and its MCP server (examples/units/mcp_server.py, the `mcp` SDK's
MCPServer) answers the tool calls of two GRPO episode steps and of an episode evaluation, started by thinkact
itself from `episodes.tools: {source: mcp, command: ...}`.

The whole pipeline on the example's profile (profiles/units.yaml) is not run here: it is the quick profile's
budget on other data, run end to end by `THINKACT_PROFILE=units bash scripts/run-pipeline.sh`."""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import new_mlflow_store, write_params
from thinkact.config import load_params
from thinkact.project import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "examples" / "units"
SPLITS = ("train", "test_id")
TAUGHT = ("units-train-001", "units-test_id-006")  # a days_between and a weekday episode, both single calls


def _tools_module():
    spec = importlib.util.spec_from_file_location("units_example_tools", EXAMPLE / "tools.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_conversations_and_data_are_what_the_generator_and_importer_make(tmp_path):
    from thinkact.importers import import_with_episodes

    subprocess.run([sys.executable, str(EXAMPLE / "make_conversations.py"), "--out", str(tmp_path / "conv"),
                    "--tools-json", str(tmp_path / "tools.json")], check=True, capture_output=True, cwd=PROJECT_ROOT)
    assert (tmp_path / "tools.json").read_bytes() == (EXAMPLE / "tools.json").read_bytes()
    for split in SPLITS:
        assert (tmp_path / "conv" / f"{split}.jsonl").read_bytes() == \
            (EXAMPLE / "conversations" / f"{split}.jsonl").read_bytes(), split
        found = import_with_episodes(EXAMPLE / "conversations" / f"{split}.jsonl", tmp_path / f"{split}.jsonl",
                                     tmp_path / "episodes" / f"{split}.jsonl", split=split, domain="units")
        assert not found.skipped and len(found.episodes) == found.conversations
        for name in (f"{split}.jsonl", f"episodes/{split}.jsonl"):
            assert (tmp_path / name).read_bytes() == (EXAMPLE / "data" / name).read_bytes(), name
    kinds = {json.loads(line)["kind"] for line in (EXAMPLE / "data/episodes/train.jsonl").read_text().splitlines()}
    assert kinds == {"single", "chain", "parallel", "clarify", "no_tool"}


def test_tool_results_in_the_conversations_are_the_real_tools_results():
    tools = _tools_module()
    for split in SPLITS:
        for line in (EXAMPLE / "conversations" / f"{split}.jsonl").read_text().splitlines():
            calls = {}
            for m in json.loads(line)["messages"]:
                for c in m.get("tool_calls") or []:
                    calls[c["id"]] = getattr(tools, c["function"]["name"])(**json.loads(c["function"]["arguments"]))
                if m["role"] == "tool":
                    assert json.loads(m["content"]) == calls[m["tool_call_id"]]
    with pytest.raises(ValueError, match="cannot convert length"):
        tools.convert_units(1, "km", "kg")


@pytest.fixture
def mcp_project(tmp_path, monkeypatch):
    """A quick-profile project on the example's data whose tools are the example's MCP server (stdio), GRPO in
    episode mode; its sft model is builtin:tiny taught to open TAUGHT's episodes with their gold call."""
    from thinkact.tools.registry import close_all

    command = f"{sys.executable} {EXAMPLE / 'mcp_server.py'}"
    path = write_params(tmp_path, {
        "episodes": {"max_turns": 2, "max_tool_calls": 2, "max_new_tokens": 48,
                     "tools": {"source": "mcp", "command": command, "timeout_s": 10.0}},
        "grpo": {"mode": "episodes", "max_examples": 2, "sample_every": 1,
                 "rewards": ["episode_success", "episode_call_recall", "episode_valid_calls"], "trainer": {
                     "max_steps": 2, "per_device_train_batch_size": 4, "num_generations": 2, "temperature": 0.7,
                     "max_completion_length": 96, "beta": 0.0, "save_steps": 1, "reward_weights": [1.0, 0.5, 0.2]}}})
    monkeypatch.setenv("THINKACT_PARAMS", str(path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", new_mlflow_store(tmp_path / "mlflow.db"))
    params = load_params(path)
    shutil.copytree(EXAMPLE / "data", params.paths.data)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    teach_opening_calls(params)
    yield params
    close_all()  # stops the server
    torch.set_num_threads(threads)


def teach_opening_calls(params, steps: int = 60) -> None:
    """builtin:tiny (quick size) taught, on TAUGHT's opening prompts, to answer with the gold call; saved as the sft
    stage's model (where GRPO starts)."""
    from thinkact.chat_format.template import render_target
    from thinkact.contract import read_jsonl
    from thinkact.env.spec import episode_path, read_episodes
    from thinkact.models.base import load_base
    from thinkact.training.episode_rollouts import episode_rows

    model, tok = load_base(params, read_jsonl(Path(params.paths.data) / "train.jsonl"))
    specs = [s for split in SPLITS for s in read_episodes(episode_path(params.paths.data, split)) if s.id in TAUGHT]
    data = []
    for spec, row in zip(specs, episode_rows(specs, tok)):
        prompt = tok(row["prompt"], add_special_tokens=False)["input_ids"]
        call = render_target({"tool_calls": [c.to_dict() for c in spec.gold_calls]})
        target = tok(call + "<|im_end|>", add_special_tokens=False)["input_ids"]
        data.append((torch.tensor([prompt + target]), torch.tensor([[-100] * len(prompt) + target])))
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = sum(model(input_ids=x, labels=y).loss for x, y in data)
        opt.zero_grad()
        loss.backward()
        opt.step()
    folder = params.paths.stage_dir("sft") / "model"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)


@pytest.mark.slow
def test_two_grpo_episode_steps_and_an_episode_evaluation_against_the_examples_mcp_server(mcp_project, monkeypatch,
                                                                                          tmp_path):
    from tasks.grpo import run
    from thinkact.env.spec import episode_path, read_episodes
    from thinkact.evaluation.episode_eval import evaluate_episodes
    from thinkact.models.loading import load_model
    from thinkact.tools.mcp_tools import McpTools
    from thinkact.tools.registry import open_tools

    answered = []  # every call the MCP tool set sent to the server, with the server's answer
    original = McpTools.run

    def recording(self, name, arguments):
        result = original(self, name, arguments)
        answered.append((name, arguments, result))
        return result

    monkeypatch.setattr(McpTools, "run", recording)
    params = mcp_project
    tools = open_tools(params.episodes.tools)  # what GRPO and the evaluation open: the server, started once
    assert isinstance(tools, McpTools)
    assert tools.names() == ["convert_units", "days_between", "add_days", "weekday"]  # the server's tools/list

    metrics = run(params)
    assert metrics["steps"] == 2
    real = _tools_module()
    in_grpo = list(answered)
    assert in_grpo, "no GRPO rollout called a tool"
    for name, arguments, result in in_grpo:  # each answer is what the real function computes
        assert json.loads(result) == getattr(real, name)(**arguments)
    assert ("days_between", {"start_date": "2025-12-16", "end_date": "2026-03-14"},
            '{"start_date": "2025-12-16", "end_date": "2026-03-14", "days": 88}') in in_grpo

    grpo_model = lambda: load_model(str(params.paths.stage_dir("grpo") / "model"), params.paths.models_cache)  # noqa: E731
    specs = read_episodes(episode_path(params.paths.data, "test_id"))
    played = [s for s in specs if s.id == TAUGHT[1]] + [s for s in specs if s.id != TAUGHT[1]][:2]
    ev = evaluate_episodes({"grpo": grpo_model}, {"test_id": played}, params, k=0, out_dir=tmp_path / "eval")
    (transcript,) = [t for t in ev.transcripts["grpo"]["test_id"] if t["id"] == TAUGHT[1]]
    assert [m["role"] for m in transcript["messages"][:4]] == ["system", "user", "assistant", "tool"]
    assert transcript["messages"][3]["content"] == json.dumps(real.weekday("2026-08-28"))  # Friday, from the server
    assert len(answered) > len(in_grpo)
    assert ev.rows["grpo"]["test_id"][0]["episode_call_recall"] == 1.0


def test_episode_cuts_run_the_examples_own_tools():
    """sft.episode_cuts plays each gold episode on the project's tools: an imported episode's cuts carry the
    results its own tools compute (as logged), not the built-in world's 'not available' errors."""
    from thinkact.data.episode_gen import gold_examples
    from thinkact.env.spec import read_episodes
    from thinkact.tools.params import ToolsParams
    from thinkact.tools.python_tools import PythonTools

    spec = next(s for s in read_episodes(EXAMPLE / "data" / "episodes" / "train.jsonl") if s.gold_calls)
    tools = PythonTools.from_params(ToolsParams(source="python", module="examples/units/tools.py"))
    last = gold_examples(spec, tools)[-1]
    results = [m["content"] for m in last.messages if m["role"] == "tool"]
    assert len(results) == len(spec.gold_calls) and not any('"error"' in r for r in results), results
    assert all(fact in " ".join(results) for fact in spec.facts), (spec.facts, results)
    builtin = [m["content"] for m in gold_examples(spec)[-1].messages if m["role"] == "tool"]
    assert all('"kind": "tool_error"' in r for r in builtin)   # what the cuts held before: the world lacks these tools
