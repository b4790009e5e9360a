"""The chat template (TRL's Qwen3 training template), render_target, and parsing what it renders with the
project's one completion parser (thinkact.chat_format.parsing.parse)."""
from __future__ import annotations

import json

import pytest

from thinkact.chat_format.template import (
    CHAT_TEMPLATE,
    apply_template,
    json_arguments,
    render_target,
    target_message,
)
from thinkact.chat_format.parsing import MAX_CALL_CHARS, MAX_COMPLETION_CHARS, parse

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "book_table", "description": "Book a table.",
        "parameters": {"type": "object", "properties": {"people": {"type": "integer"}, "time": {"type": "string"}},
                       "required": ["people"]}}},
]
CALL = {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Zürich"}}]}
PARALLEL = {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}},
                           {"name": "book_table", "arguments": {"people": 2, "time": "19:30", "notes": {"a": [1, 2.5]}}}]}
ANSWER = {"content": "It is 21 °C and sunny."}
NO_ARGS = {"tool_calls": [{"name": "ping", "arguments": {}}]}
HISTORY = [
    {"role": "system", "content": "You are a support assistant."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "name": "get_weather", "content": json.dumps({"temp": 21, "sky": "sunny"})},
]
SHORT = [{"role": "user", "content": "Weather in Zürich, and a table for 2 at 19:30?"}]
CASES = [(t, r) for t in (CALL, PARALLEL, ANSWER, NO_ARGS) for r in (None, "I need the weather first.")]


def calls_of(target):
    """A target's tool calls as parse() returns them: (name, arguments) tuples."""
    return [(c["name"], c["arguments"]) for c in target["tool_calls"]]


@pytest.fixture(scope="module")
def tokenizer():
    from thinkact.models.tiny import default_corpus, train_tokenizer

    return train_tokenizer(default_corpus(), vocab_size=600)


def test_template_is_trls_qwen3_training_template():
    assert "{%- generation %}" in CHAT_TEMPLATE and "{%- endgeneration %}" in CHAT_TEMPLATE
    assert "<tool_call>" in CHAT_TEMPLATE and "<think>" in CHAT_TEMPLATE


@pytest.mark.parametrize(("target", "reasoning"), CASES)
def test_render_then_parse_round_trip(target, reasoning):
    parsed = parse(render_target(target, reasoning))
    assert parsed.well_formed and parsed.error is None
    assert parsed.think == (reasoning or "")
    if "tool_calls" in target:
        assert parsed.calls == calls_of(target) and parsed.answer is None
    else:
        assert parsed.calls == [] and parsed.answer == target["content"]


def test_render_target_shape():
    assert render_target(CALL) == ('<think>\n\n</think>\n\n<tool_call>\n{"name": "get_weather", '
                                   '"arguments": {"city": "Zürich"}}\n</tool_call>')
    assert render_target(ANSWER, "r").startswith("<think>\nr\n</think>\n\nIt is")


@pytest.mark.parametrize("history", [SHORT, HISTORY], ids=["first-turn", "after-tool"])
@pytest.mark.parametrize(("target", "reasoning"), CASES)
def test_template_renders_target_and_is_prefix_preserving(tokenizer, history, target, reasoning):
    full_messages = history + [target_message(target, reasoning)]
    prompt = tokenizer.apply_chat_template(history, tools=TOOLS, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(full_messages, tools=TOOLS, tokenize=False)
    assert full == prompt + render_target(target, reasoning) + "<|im_end|>\n"
    prompt_ids = tokenizer.apply_chat_template(history, tools=TOOLS, add_generation_prompt=True,
                                               tokenize=True, return_dict=False)
    full_ids = tokenizer.apply_chat_template(full_messages, tools=TOOLS, tokenize=True, return_dict=False)
    assert full_ids[: len(prompt_ids)] == prompt_ids  # token-level too: TRL's prompt/completion split holds


def test_string_arguments_render_raw(tokenizer):
    """Datasets keep arguments as JSON strings: the template inserts them verbatim, so they must be
    json.dumps(args, ensure_ascii=False) (the template's tojson) to render like dict arguments."""
    as_string = {"tool_calls": [{"name": "get_weather", "arguments": json.dumps({"city": "Zürich"}, ensure_ascii=False)}]}
    a = tokenizer.apply_chat_template(SHORT + [target_message(as_string)], tokenize=False)
    b = tokenizer.apply_chat_template(SHORT + [target_message(CALL)], tokenize=False)
    assert a == b and render_target(as_string) == render_target(CALL)
    messages = HISTORY + [target_message(PARALLEL, "r")]
    converted = json_arguments(messages)
    assert all(isinstance(c["function"]["arguments"], str) for m in converted for c in m.get("tool_calls", []))
    assert messages[2]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}  # input untouched
    assert (tokenizer.apply_chat_template(converted, tools=TOOLS, tokenize=False)
            == tokenizer.apply_chat_template(messages, tools=TOOLS, tokenize=False))


def test_assistant_mask_covers_exactly_the_assistant_turns(tokenizer):
    messages = HISTORY + [target_message(ANSWER, "The tool said 21.")]
    out = tokenizer.apply_chat_template(messages, tools=TOOLS, tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    masked = tokenizer.decode([i for i, m in zip(ids, mask) if m])
    # Every assistant turn (the history one too) from <think> to <|im_end|>\n; no header, no other role.
    assert masked == (render_target(CALL | {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]})
                      + "<|im_end|>\n" + render_target(ANSWER, "The tool said 21.") + "<|im_end|>\n")
    # The mask is one contiguous run per assistant turn, and the final run ends the sequence.
    runs = sum(1 for i in range(len(mask)) if mask[i] and (i == 0 or not mask[i - 1]))
    assert runs == 2 and mask[-1] == 1


def test_history_assistant_turns_keep_an_empty_think_block(tokenizer):
    """Unlike Qwen3's original template, every assistant turn renders a think block (reasoning kept)."""
    text = tokenizer.apply_chat_template(HISTORY, tokenize=False)
    assert "<|im_start|>assistant\n<think>\n\n</think>\n\n<tool_call>" in text


def test_enable_thinking_false_prefills_an_empty_think_block(tokenizer):
    on = tokenizer.apply_chat_template(SHORT, tokenize=False, add_generation_prompt=True)
    off = tokenizer.apply_chat_template(SHORT, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    assert on.endswith("<|im_start|>assistant\n") and off == on + "<think>\n\n</think>\n\n"
    completion = render_target(CALL).split("</think>\n\n", 1)[1]
    parsed = parse(completion)
    # The calls parse cleanly, but well_formed needs the leading think block, which here is in the prompt.
    assert parsed.error is None and parsed.think is None and parsed.calls == calls_of(CALL)
    assert not parsed.well_formed
    assert parse(off[len(on):] + completion).well_formed  # with the prefilled think block put back


def test_trl_accepts_the_template_as_is(tokenizer):
    """TRL (trl/chat_template_utils.py) keeps it: tool calling works, prefix-preserving, generation markers,
    end-of-turn token inside the mask -> get_training_chat_template returns None (no swap)."""
    from trl.chat_template_utils import (
        get_training_chat_template,
        is_chat_template_prefix_preserving,
        is_chat_template_stop_token_trained,
        parse_response,
        supports_tool_calling,
    )

    from thinkact.chat_format.template import add_response_parsing

    assert supports_tool_calling(tokenizer) and is_chat_template_prefix_preserving(tokenizer)
    assert is_chat_template_stop_token_trained(tokenizer)
    assert get_training_chat_template(tokenizer) is None
    add_response_parsing(tokenizer)
    ids = tokenizer.encode(render_target(PARALLEL, "two things") + "<|im_end|>", add_special_tokens=False)
    prompt_ids = tokenizer.apply_chat_template(SHORT, add_generation_prompt=True, tokenize=True, return_dict=False)
    # Without prefix= (transformers >= 5.13 needs it) TRL silently falls back to the whole text as content.
    assert "tool_calls" not in parse_response(tokenizer, ids)
    parsed = parse_response(tokenizer, ids, prefix=prompt_ids)
    assert parsed["reasoning_content"] == "two things"
    assert [c["function"] for c in parsed["tool_calls"]] == PARALLEL["tool_calls"]


def test_apply_template_sets_it():
    class Tok:
        chat_template = None

    assert apply_template(Tok()).chat_template == CHAT_TEMPLATE


@pytest.mark.parametrize("text", [
    ' \n<think>  why \n</think>\n<tool_call>{"name":"get_weather","arguments":{"city":"Zürich"}}</tool_call>\n',
    '<think>why</think><tool_call>\n  {"name": "get_weather", "arguments": "{\\"city\\": \\"Zürich\\"}"}  \n'
    '</tool_call><|im_end|>',
])
def test_parse_tolerates_whitespace_end_token_and_string_arguments(text):
    parsed = parse(text)
    assert parsed.well_formed, parsed.error
    assert parsed.think == "why" and parsed.calls == calls_of(CALL)


GOOD = '<tool_call>{"name": "f", "arguments": {}}</tool_call>'


@pytest.mark.parametrize(("text", "error", "n_calls"), [
    ("<think>never closed", "unclosed <think>", 0),
    ("<think>a</think> b </think>", "stray tag", 0),
    ('<think></think><tool_call>{"name": "f", "arguments": {}}', "stray tag", 0),  # unclosed <tool_call>
    ("<think></think>" + GOOD + "</tool_call>", "text beside tool calls", 1),       # unbalanced close
    ("<think></think>" + GOOD + "<think>more</think>", "text beside tool calls", 1),
    ("<think></think><tool_call>{'name': 'f', 'arguments': {}}</tool_call>", "invalid tool call JSON", 0),
    ("<think></think><tool_call>[1, 2]</tool_call>", "invalid tool call JSON", 0),            # not an object
    ('<think></think><tool_call>{"arguments": {}}</tool_call>', "invalid tool call JSON", 0),  # no name
    ('<think></think><tool_call>{"name": " ", "arguments": {}}</tool_call>', "invalid tool call JSON", 0),
    ('<think></think><tool_call>{"name": "f", "arguments": [1]}</tool_call>', "invalid tool call JSON", 0),
    ('<think></think><tool_call>{"name": "f", "arguments": "[1]"}</tool_call>', "invalid tool call JSON", 0),
    ('<think></think><tool_call>{"name": "f", "arguments": {"x": NaN}}</tool_call>', "invalid tool call JSON", 0),
    ('<think></think><tool_call>{"name": "f", "arguments": {"x": -Infinity}}</tool_call>',
     "invalid tool call JSON", 0),
    ('<think></think><tool_call>{"name": "f", "arguments": "{\\"x\\": NaN}"}</tool_call>',
     "invalid tool call JSON", 0),
    ('<think></think><tool_call>{"name": "f", "arguments": {"x": 1' + "0" * 5000 + "}}</tool_call>",
     "invalid tool call JSON", 0),  # int past Python's digit limit
    ('<think></think><tool_call>{"name": "f", "arguments": ' + "[" * 5000 + "]" * 5000 + "}</tool_call>",
     "invalid tool call JSON", 0),  # RecursionError, not a crash
    ('<think></think><tool_call>{"name": "f", "arguments": {"x": "' + "y" * MAX_CALL_CHARS + '"}}</tool_call>',
     "invalid tool call JSON", 0),  # one call body over MAX_CALL_CHARS
    ("<think></think>" + GOOD + "<tool_call>oops</tool_call>", "invalid tool call JSON", 1),  # the good one is kept
])
def test_parse_rejects_malformed(text, error, n_calls):
    parsed = parse(text)
    assert not parsed.well_formed and error in parsed.error
    assert len(parsed.calls) == n_calls  # well-formed calls beside a bad one are kept, but never well_formed


def test_parse_missing_arguments_means_no_arguments():
    """Unlike a stricter parser, `"arguments"` may be left out (read as {}), as targets' own calls are read."""
    parsed = parse('<think></think><tool_call>{"name": "f"}</tool_call>')
    assert parsed.well_formed and parsed.calls == [("f", {})]


def test_parse_rejects_oversized_completion():
    parsed = parse("<think></think>" + "x" * MAX_COMPLETION_CHARS)
    assert not parsed.well_formed and f"over {MAX_COMPLETION_CHARS} characters" in parsed.error
    assert parse("<think></think>" + "x" * (MAX_COMPLETION_CHARS - len("<think></think>"))).well_formed


def test_parse_plain_answer_and_text_beside_calls():
    plain = parse("Sure, which city?")
    assert plain.think is None and plain.calls == [] and plain.answer == "Sure, which city?"
    assert plain.error is None and not plain.well_formed  # parsed, but well_formed needs the think block
    thought = parse("<think>no city given</think>\n\nSure, which city?")
    assert thought.well_formed and thought.answer == "Sure, which city?" and not thought.calls
    mixed = parse('<think></think>Let me check.\n<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>')
    assert not mixed.well_formed and mixed.error == "text beside tool calls"
    assert mixed.calls == [("f", {})] and mixed.answer is None
