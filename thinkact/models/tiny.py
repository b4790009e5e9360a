"""builtin:tiny — a small Qwen3-architecture model with random weights and a tokenizer trained here.

The tokenizer is a byte-level BPE (pre-tokenizer recipe `TinySize.pretokens`: a key of PRETOKENS) trained with
`tokenizers` on a corpus (the data set's rendered conversations; a small built-in one when none is given). The chat
template's markers are single tokens: `<|endoftext|>` (pad), `<|im_start|>`, `<|im_end|>` (eos) are special;
`<think>`, `</think>`, `<tool_call>`, `</tool_call>`, `<tool_response>`, `</tool_response>` are added but not
special, as in Qwen3, so `decode(skip_special_tokens=True)` (what TRL does to completions) keeps them.
With `TinySize.warmup_steps` the random model is then taught to copy (`copy_warmup`: continue a span of random
tokens seen earlier in the context), which is what lets it repeat argument values it never saw in training.
Everything is deterministic in (corpus, size, seed), and built once into cache_dir/tiny-<hash>.

    from thinkact.models.tiny import TinySize, build_cached
    folder = build_cached(Path(".cache/models"), corpus=texts, seed=0, size=TinySize(hidden_size=128))
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, trainers
from tokenizers import models as bpe_models
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM
from transformers.utils.chat_template_utils import render_jinja_template

from thinkact.chat_format.template import CHAT_TEMPLATE, apply_template, render_target
from thinkact.io import META_FILE, atomic_dir, atomic_write_json
from thinkact.progress import Progress
from thinkact.models.params import PRETOKEN_RECIPES, TinySize  # noqa: F401  (TinySize: the shape built here)

SPEC = "builtin:tiny"

FORMAT_VERSION = 5  # bump when the build recipe changes, so old cache folders are not reused
PAD, BOS_TURN, EOS = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (PAD, BOS_TURN, EOS)
TEMPLATE_TOKENS = ("<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")
# Pre-tokenizer recipes (TinySize.pretokens), regexes for `tokenizers`' Split, first alternative first.
# "words": every digit alone, and a word (letters and `_`, so tool names are whole) together with the punctuation and
# spaces around it, so JSON schema syntax merges into few tokens: test_id prompts average ~322 tokens (~660 with
# Qwen's split).
# "compact": what makes a small model learn tool calls fast on a CPU, where prompt length sets the step time:
# - a tool's schema line is three pre-tokens: its fixed opening `{"type": "function", "function": {"name":`, its name
#   (` "get_invoice",`, the very token a call writes, so offered names can be copied) and the rest of the line
#   (description and parameters), which BPE turns into one token for every tool of the corpus (an unseen tool still
#   merges into its frequent pieces); the system prompt line is one pre-token too, and the template's fixed text
#   around the tool list becomes two added tokens (`template_pieces`): test_id prompts average ~60 tokens;
# - an id's letter prefix (`ORD-`, `C`, `INV-`) stands alone and digits go in runs of up to three (GPT-4's split), so
#   an id is the very same tokens in the user's message, a tool result and the call (`ORD-` `179` `17`): copying it
#   is matching tokens, not translating ` ORD-` into ` "ORD-`, and a 6-digit id is 2 tokens to copy, not 6.
_WORDS = r"\p{N}|[^\p{L}\p{N}]*[\p{L}_]+[^\p{L}\p{N}\s]*|[^\p{L}\p{N}]+"
_COMPACT = (r'\n?\{"type": "function", "function": \{"name":| "(?:description|parameters)": [^\n]*|'
            r"\n?system\n[^\n]*|"
            r"\p{Lu}+-?(?=\p{N})|\p{N}{1,3}|[^\p{L}\p{N}]*(?!\p{Lu}+-?\p{N})[\p{L}_]+[^\p{L}\p{N}\s]*|[^\p{L}\p{N}]+")
# "copy": "compact", and a value is the very same tokens wherever it occurs. In "compact" a word takes the punctuation
# around it (` Denver` in the message, ` "Denver",` in the call): a model must learn a mapping per city, enum and name
# and cannot copy one it never saw. Here a word stands bare (`Denver`), spaces and punctuation are tokens of their own
# and a JSON key keeps the punctuation before it (`", "destination":`), so copying a value is matching tokens, as for
# ids; a tool's name is one token in the tool list and in the call (` "search_flights",`). Text costs more tokens.
_COPY = (r'\n?\{"type": "function", "function": \{"name":| "[\p{L}\p{N}_.-]+",(?= "(?:description|parameters|arguments)":)|'
         r' "(?:description|parameters)": [^\n]*|\n?system\n[^\n]*|'
         r'\p{Lu}+-?(?=\p{N})|\p{N}{1,3}|[^\p{L}\p{N}]*[\p{L}_]+":|[\p{L}_]+|[^\p{L}\p{N}]+')
PRETOKENS = dict(zip(PRETOKEN_RECIPES, (_WORDS, _COMPACT, _COPY)))  # one regex per recipe, in that order


def default_corpus() -> list[str]:
    """A small stand-in corpus when none is given: the template's own text around a few made-up turns."""
    tool = {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather for a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "The city name."},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}
    call = {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]}
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "What is the weather like in Paris today? Please answer in celsius."},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"type": "function", "function": call["tool_calls"][0]}]},
                {"role": "tool", "content": json.dumps({"temperature": 21, "condition": "sunny"})},
                {"role": "assistant", "content": "It is 21 degrees and sunny in Paris.",
                 "reasoning_content": "The tool returned 21 degrees and sunny, so I can answer the user."}]
    rendered, _ = render_jinja_template([messages], tools=[tool], chat_template=CHAT_TEMPLATE)
    texts = [rendered[0], render_target(call, "The user wants the weather in Paris, so I call get_weather."),
             "The quick brown fox jumps over the lazy dog. 0123456789 {}[]():,.;!?\"'-_/\\@#$%^&*+=<>|~`"]
    return texts * 4


def template_pieces() -> tuple[str, ...]:
    """The chat template's fixed text around the tool list of the system turn (its instructions, `<tools>` tags and
    the `<tool_call>` format line): found by rendering a conversation with placeholder content and one tool."""
    system, tool = "\x01SYSTEM\x01", {"type": "function", "function": {"name": "\x01TOOL\x01", "parameters": {}}}
    rendered, _ = render_jinja_template([[{"role": "system", "content": system}, {"role": "user", "content": "u"}]],
                                        tools=[tool], chat_template=CHAT_TEMPLATE)
    text = rendered[0]
    line = json.dumps(tool, ensure_ascii=False)
    if line not in text or system not in text:
        return ()
    head = text[text.index(system) + len(system):text.index(line)]
    tail = text[text.index(line) + len(line):]
    tail = tail[:tail.index(EOS)] if EOS in tail else ""
    return tuple(p for p in (head.rstrip("\n"), tail) if len(p) > 1)


def train_tokenizer(corpus: Iterable[str], vocab_size: int = 4096, max_length: int = 4096,
                    pretokens: str = "words") -> Any:
    """A byte-level BPE tokenizer trained on `corpus`, as a transformers fast tokenizer with the chat template."""
    markers = (*SPECIAL_TOKENS, *TEMPLATE_TOKENS)

    def clean(texts: Iterable[str]) -> Iterable[str]:
        # The markers become whole tokens below; keep BPE from spending merges on their pieces.
        for text in texts:
            for marker in markers:
                text = text.replace(marker, "\n")
            yield text

    tok = Tokenizer(bpe_models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENS[pretokens]), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(TEMPLATE_TOKENS), min_frequency=2, show_progress=False,
        special_tokens=list(SPECIAL_TOKENS), initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(clean(corpus), trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TEMPLATE_TOKENS])
    if pretokens in ("compact", "copy"):  # longest match wins, so the pieces' own `<tool_call>` markers stay inside them
        tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in template_pieces()])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=PAD,
                                   extra_special_tokens=[BOS_TURN], padding_side="right",
                                   model_max_length=max_length)
    return apply_template(fast)


def build_model(tokenizer: Any, size: TinySize, seed: int = 0) -> Any:
    """A Qwen3ForCausalLM with weights drawn from `seed` (the global torch RNG is left untouched)."""
    config = Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=size.hidden_size, intermediate_size=size.intermediate_size,
        num_hidden_layers=size.num_layers, num_attention_heads=size.num_heads,
        num_key_value_heads=size.num_kv_heads, head_dim=size.hidden_size // size.num_heads,
        max_position_embeddings=size.max_positions, tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


WARMUP_BATCH, WARMUP_CONTEXT, WARMUP_SPAN = 32, 24, 8  # sequences per step; random tokens; the span repeated
WARMUP_DONE = 0.98  # stop once the last WARMUP_WINDOW steps continued spans this well on average
WARMUP_WINDOW = 20


def copy_sequences(count: int, tokenizer: Any, generator: torch.Generator) -> torch.Tensor:
    """`count` rows of WARMUP_CONTEXT random tokens of the tokenizer's BPE vocabulary (not its special or template
    tokens) followed by a span of WARMUP_SPAN of them taken from a random place in that context."""
    context = torch.randint(len(SPECIAL_TOKENS), tokenizer.vocab_size, (count, WARMUP_CONTEXT), generator=generator)
    starts = torch.randint(0, WARMUP_CONTEXT - WARMUP_SPAN + 1, (count, 1), generator=generator)
    return torch.cat([context, context.gather(1, starts + torch.arange(WARMUP_SPAN))], 1)


def _span_logits(model: Any, sequences: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, targets) for the span's tokens after its first, which cannot be known (the rest can be copied).
    Logits at the span's positions only: the LM head is half of builtin:tiny's compute."""
    logits = model(input_ids=sequences, logits_to_keep=WARMUP_SPAN).logits[:, :-1]
    return logits, sequences[:, WARMUP_CONTEXT + 1:]


def _share_right(logits: torch.Tensor, targets: torch.Tensor) -> float:
    return (logits.argmax(-1) == targets).float().mean().item()


@torch.no_grad()
def copy_accuracy(model: Any, sequences: torch.Tensor) -> float:
    """Share of the span tokens (after the first) of `copy_sequences` the model predicts right, greedily."""
    return _share_right(*_span_logits(model, sequences))


def copy_warmup(model: Any, tokenizer: Any, steps: int, learning_rate: float, seed: int = 0) -> dict[str, Any]:
    """Teach a freshly built model to continue a span it saw earlier in its context (an induction head), in place.

    A tool call must repeat values the user wrote, many never seen in training (`ORD-` `482` `13`): after copying
    `482` the model has to find it in the prompt and write the token that followed it there. A 2-layer model trained
    from random weights on the data set learns the format and the first token of a value but not this (test_id exact
    match ~0.14 after 5 minutes). Here it learns it alone, on `copy_sequences`: the copy accuracy jumps from ~0 to
    ~1 after ~1,000 steps (a phase change, as in Olsson et al. 2022, "In-context learning and induction heads").
    Stops early once it copies; returns the steps, the final accuracy and the seconds."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    recent: list[float] = []
    start, step = time.monotonic(), 0
    bar = Progress("[tiny] copy warm-up", steps, unit="steps")  # a line every few seconds; the ETA is an upper bound
    model.train()
    for step in range(1, steps + 1):
        logits, targets = _span_logits(model, copy_sequences(WARMUP_BATCH, tokenizer, generator))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        recent = [*recent[-WARMUP_WINDOW + 1:], _share_right(logits, targets)]
        bar.update(1, f"loss={loss.item():.3f} copy accuracy={sum(recent) / len(recent):.3f} (stops at "
                      f"{WARMUP_DONE} over {WARMUP_WINDOW} steps)")
        if len(recent) == WARMUP_WINDOW and sum(recent) / WARMUP_WINDOW >= WARMUP_DONE:
            break
    model.eval()
    accuracy = round(sum(recent) / len(recent), 3) if recent else None
    seconds = round(time.monotonic() - start, 1)
    print(f"[tiny] copy warm-up: {step} steps, copy accuracy {accuracy}, {seconds} s", flush=True)
    return {"steps": step, "copy_accuracy": accuracy, "seconds": seconds}


def cache_key(texts: list[str], size: TinySize, seed: int) -> str:
    h = hashlib.sha256(json.dumps({"format": FORMAT_VERSION, "size": dataclasses.asdict(size), "seed": seed,
                                   "template": CHAT_TEMPLATE, "pretokens": PRETOKENS[size.pretokens]},
                                  sort_keys=True).encode())
    for text in texts:
        h.update(len(text).to_bytes(8, "little"))
        h.update(text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


def build_cached(cache_dir: Path, corpus: Iterable[str] | None = None, seed: int = 0, size: Any = None) -> Path:
    """cache_dir/tiny-<key>: the tiny model and tokenizer for (corpus, size, seed), built on first use."""
    size = TinySize.of(size)
    texts = list(corpus) if corpus is not None else default_corpus()
    key = cache_key(texts, size, seed)
    folder = Path(cache_dir) / f"tiny-{key}"
    if (folder / META_FILE).is_file():
        return folder
    tokenizer = train_tokenizer(texts, size.vocab_size, size.max_positions, size.pretokens)
    model = build_model(tokenizer, size, seed)
    warmup = None
    if size.warmup_steps:
        warmup = copy_warmup(model, tokenizer, size.warmup_steps, size.warmup_learning_rate, seed)
    with atomic_dir(folder) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / META_FILE, {
            "spec": SPEC, "key": key, "seed": seed, "size": dataclasses.asdict(size),
            "corpus_texts": len(texts), "vocab": len(tokenizer), "parameters": model.num_parameters(),
            "copy_warmup": warmup})
    return folder
