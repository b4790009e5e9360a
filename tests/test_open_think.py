"""prompt.open_think (issue #24 item 4): the generation prompt ends inside the think block, the same prompt in GRPO,
evaluation, `thinkact chat` and the served model, and every completion is the whole assistant turn (the opening +
what the model wrote) wherever it is scored or shown. And model.cpu_dtype: a trained model runs in the dtype its
card records."""
from __future__ import annotations

import copy
import dataclasses
import json
import queue
import threading
from types import SimpleNamespace

import pytest
import torch

from thinkact.chat_format.prompt import PromptParams
from thinkact.chat_format.template import apply_template, assistant_opening, opening
from thinkact.contract import Example, Target
from thinkact.errors import ConfigError
from thinkact.generation import generate_completions, generated_tokens, prompt_text

OPEN = {"system": "Think first.", "tool_json": "compact", "open_think": True, "think_start": "The user wants"}
OPENED = "<think>\nThe user wants"
TOOLS = ({"type": "function", "function": {"name": "get_weather", "description": "Weather in a city.", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},)
EXAMPLE = Example(id="t1", domain="chat", split="test_id", tools=TOOLS,
                  messages=({"role": "user", "content": "Weather in Oslo?"},), target=Target(content=""))


@pytest.fixture(scope="module")
def opened_folder(tiny, tmp_path_factory):
    """The tiny model saved as a stage saves a model trained with OPEN: its tokenizer with the opened template and
    a card naming the prompt and model.cpu_dtype (bfloat16)."""
    model, tokenizer = tiny
    folder = tmp_path_factory.mktemp("opened") / "model"
    tokenizer = copy.deepcopy(tokenizer)
    apply_template(tokenizer, OPEN)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "thinkact-card.json").write_text(json.dumps(
        {"stage": "grpo", "prompt": OPEN, "params": {"model": {"cpu_dtype": "bfloat16"}}}), encoding="utf-8")
    return folder


def test_the_opening_is_read_off_the_template():
    assert opening(OPEN) == OPENED and opening({**OPEN, "think_start": ""}) == "<think>\n" and opening(None) == ""


@pytest.mark.parametrize("fields, key", [({"think_start": "The user"}, "prompt.think_start"),
                                         ({"open_think": True, "think_start": "<tool_call>"}, "prompt.think_start")])
def test_a_think_start_without_open_think_or_with_a_tag_is_refused_by_name(fields, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        PromptParams(**fields)


def test_grpo_evaluation_chat_and_the_served_model_render_the_same_opened_prompt(opened_folder, params):
    """GRPO renders its rows with params' prompt (grpo_rows); evaluation and `thinkact chat` load the folder the way
    evaluation does (its card's prompt wins); `thinkact serve` through ServedModel; the MLflow pyfunc from the saved
    tokenizer. One prompt, ending inside the think block."""
    from thinkact.evaluation.predict import load_for_eval
    from thinkact.models.loading import load_model
    from thinkact.serving.engine import ServedModel
    from thinkact.tracking.chat_pyfunc import ARTIFACT, ThinkactChatModel
    from thinkact.training.grpo import grpo_rows

    grpo_params = dataclasses.replace(params, prompt=PromptParams(**OPEN))
    _, grpo_tokenizer = load_model(str(opened_folder), params.paths.models_cache, prompt=grpo_params.prompt)
    model, eval_tokenizer = load_for_eval(str(opened_folder), params)  # params' own prompt: the card's wins
    served = ServedModel.load(str(opened_folder), params)
    pyfunc = ThinkactChatModel()
    pyfunc.load_context(SimpleNamespace(artifacts={ARTIFACT: str(opened_folder)}, model_config={}))
    prompts = {"grpo": grpo_rows([EXAMPLE], grpo_tokenizer)[0]["prompt"],
               "evaluation and chat": prompt_text(eval_tokenizer, EXAMPLE), "serve": served.prompt(EXAMPLE),
               "pyfunc": prompt_text(pyfunc.tokenizer, EXAMPLE)}
    assert len(set(prompts.values())) == 1, prompts
    assert prompts["grpo"].endswith("<|im_start|>assistant\n" + OPENED) and "Think first." in prompts["grpo"]
    # model.cpu_dtype: the card's bfloat16 in evaluation, chat, serving and the pyfunc alike
    assert {m.dtype for m in (model, served.model, pyfunc.model)} == {torch.bfloat16}


def test_completions_are_the_whole_turn_in_generation_streaming_and_grpo_rewards(tiny, opened_folder, tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig

    from thinkact.serving.engine import _Streamer
    from thinkact.training.shared_prefix import SharedPrefixGRPOTrainer

    model, _ = tiny
    tokenizer = apply_template(copy.deepcopy(tiny[1]), OPEN)
    assert assistant_opening(tokenizer) == OPENED
    [text] = generate_completions(model, tokenizer, [EXAMPLE], max_new_tokens=6, progress=False)
    pieces: queue.Queue = queue.Queue()
    [streamed] = generate_completions(model, tokenizer, [EXAMPLE], max_new_tokens=6, progress=False,
                                      streamer=_Streamer(tokenizer, pieces, threading.Event()))
    joined = "".join(pieces.queue)
    assert text == streamed and text.startswith(OPENED) and len(text) > len(OPENED)
    assert joined.startswith(OPENED) and text.startswith(joined)
    # usage counts what the model generated: the opening came with the prompt (max_new_tokens=6 bounds the rest)
    assert generated_tokens(tokenizer, text) <= 6 < len(tokenizer(text, add_special_tokens=False).input_ids)
    seen: list[str] = []

    def reward(completions, **_):
        seen.extend(completions)
        return [0.0] * len(completions)

    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=2, num_generations=2,
                      max_completion_length=4, report_to=[], use_cpu=True, save_strategy="no")
    trainer = SharedPrefixGRPOTrainer(model=model, reward_funcs=reward, args=args, processing_class=tokenizer,
                                      train_dataset=Dataset.from_list([{"prompt": "x"}] * 2))
    trainer._calculate_rewards([{"prompt": "x"}] * 2, ["x", "x"], [" a city</think>", " b"], [[1], [2]])
    assert seen == [OPENED + " a city</think>", OPENED + " b"]


def test_without_open_think_nothing_is_added(tiny):
    model, tokenizer = tiny
    assert assistant_opening(tokenizer) == ""
    [text] = generate_completions(model, tokenizer, [EXAMPLE], max_new_tokens=4, progress=False)
    assert not text.startswith("<think>\nThe")


def test_cpu_dtype_is_checked_by_name_and_a_card_without_one_keeps_params(tiny, tmp_path, params):
    from thinkact.models.loading import card_cpu_dtype, load_model
    from thinkact.models.params import ModelParams

    with pytest.raises(ConfigError, match=r"model\.cpu_dtype"):
        ModelParams(cpu_dtype="float16")
    model, tokenizer = tiny
    model.save_pretrained(tmp_path / "m")
    tokenizer.save_pretrained(tmp_path / "m")
    assert card_cpu_dtype(tmp_path / "m") is None
    loaded, _ = load_model(str(tmp_path / "m"), params.paths.models_cache, cpu_dtype="bfloat16")
    assert loaded.dtype == torch.bfloat16
