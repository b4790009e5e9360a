"""Model specs: the built-in tiny model, SmolLM2 from GGUF (slow), Hub ids / folders offline, device choice."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch

from thinkact.models import tiny
from thinkact.chat_format.template import CHAT_TEMPLATE, render_target, target_message
from thinkact.errors import ConfigError, ThinkactError
from thinkact.models.loading import SMOLLM2, TINY, load_model, load_tokenizer, model_folder, read_meta, resolve_device
from thinkact.chat_format.parsing import parse

CORPUS = ["The user asks for the weather in Paris. 42 degrees, 7 days.",
          '{"name": "get_weather", "arguments": {"city": "Paris"}}'] * 20
CPU = resolve_device("cpu")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def tiny_pair(cache):
    return load_model(TINY, cache, device=CPU)


def test_tiny_builds_offline_with_the_template(tiny_pair):
    model, tok = tiny_pair
    assert type(model).__name__ == "Qwen3ForCausalLM" and not model.training
    assert 2_000_000 <= model.num_parameters() <= 10_000_000
    assert tok.chat_template == CHAT_TEMPLATE
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert model.config.vocab_size == len(tok) and model.generation_config.eos_token_id == tok.eos_token_id
    for marker in (*tiny.SPECIAL_TOKENS, *tiny.TEMPLATE_TOKENS):
        assert len(tok.encode(marker, add_special_tokens=False)) == 1, marker


def test_template_tokens_survive_skip_special_tokens(tiny_pair):
    _, tok = tiny_pair
    text = render_target({"tool_calls": [{"name": "f", "arguments": {"x": 1}}]}, "why")
    ids = tok.encode("<|im_start|>assistant\n" + text + "<|im_end|>", add_special_tokens=False)
    assert tok.decode(ids, skip_special_tokens=True) == "assistant\n" + text  # what TRL decodes completions with
    parsed = parse(tok.decode(ids, skip_special_tokens=True).split("\n", 1)[1])
    assert parsed.well_formed and parsed.think == "why" and parsed.calls == [("f", {"x": 1})]


def test_tiny_trains_and_generates(tiny_pair):
    model, tok = tiny_pair
    messages = [{"role": "user", "content": "Weather in Paris?"},
                target_message({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]})]
    ids = torch.tensor([tok.apply_chat_template(messages, tokenize=True, return_dict=False)])
    model.train()
    try:
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        assert torch.isfinite(loss) and model.model.embed_tokens.weight.grad is not None
    finally:
        model.zero_grad(set_to_none=True)
        model.eval()
    out = model.generate(ids[:, :10], max_new_tokens=5, do_sample=False)
    assert out.shape[1] <= 15


def test_tiny_is_cached(cache, tiny_pair, monkeypatch):
    folder = model_folder(TINY, cache)
    assert read_meta(folder)["parameters"] == tiny_pair[0].num_parameters()
    for name in ("train_tokenizer", "build_model", "copy_warmup"):
        monkeypatch.setattr(tiny, name, lambda *a, **k: pytest.fail("rebuilt instead of cached"))
    model, _ = load_model(TINY, cache, device=CPU)
    assert model.num_parameters() == tiny_pair[0].num_parameters()


def test_tiny_is_deterministic(tmp_path, cache):
    a = tiny.build_cached(tmp_path / "a", corpus=CORPUS, seed=3)
    b = tiny.build_cached(tmp_path / "b", corpus=iter(CORPUS), seed=3)  # any iterable
    assert a.name == b.name
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    other_seed = tiny.build_cached(tmp_path / "a", corpus=CORPUS, seed=4)
    other_corpus = tiny.build_cached(tmp_path / "a", corpus=CORPUS[:-1], seed=3)
    assert len({a.name, other_seed.name, other_corpus.name}) == 3
    assert (a / "tokenizer.json").read_bytes() == (other_seed / "tokenizer.json").read_bytes()
    assert (a / "model.safetensors").read_bytes() != (other_seed / "model.safetensors").read_bytes()


def test_tiny_seed_leaves_global_rng_alone(tiny_pair):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny.build_model(tiny_pair[1], tiny.TinySize(hidden_size=64, intermediate_size=128, num_layers=1), seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_tiny_size_is_a_parameter(tmp_path):
    size = {"vocab_size": 512, "hidden_size": 64, "intermediate_size": 128, "num_layers": 2, "num_heads": 2,
            "num_kv_heads": 1}
    model, tok = load_model(TINY, tmp_path, corpus=CORPUS, tiny_size=size, device=CPU)
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 64
    assert len(tok) <= 512 and model.num_parameters() < 200_000


@pytest.mark.parametrize("recipe", ["compact", "copy"])
def test_short_pretokens_shorten_prompts_and_keep_values_copyable(builtin_examples, recipe):
    """"compact" and "copy": tools and the template's fixed text collapse, offered tool names and id values are the
    same tokens in the prompt and in the call, and every text still decodes back exactly. "copy" also keeps every
    other string value that the user wrote (cities, enum values, names) the same tokens in both."""
    import json

    from thinkact.generation import prompt_text
    from thinkact.models.base import tiny_corpus

    corpus = tiny_corpus(builtin_examples["train"][:600])
    words, short = (tiny.train_tokenizer(corpus, 2048, pretokens=p) for p in ("words", recipe))
    calls = [e for e in builtin_examples["test_id"] if e.target.is_call][:40]
    lengths = {}
    for tok in (words, short):
        ids = [tok.encode(prompt_text(tok, e), add_special_tokens=False) for e in calls]
        assert all(tok.decode(i) == prompt_text(tok, e) for i, e in zip(ids, calls))
        lengths[tok] = sum(map(len, ids))
    assert lengths[short] * 3 < lengths[words]
    for piece in tiny.template_pieces():
        assert len(short.encode(piece, add_special_tokens=False)) == 1
    copied = {"id": 0, "word": 0}
    for ex in calls:
        prompt = short.encode(prompt_text(short, ex), add_special_tokens=False)
        completion = short.encode(render_target(ex.target.to_dict(), None), add_special_tokens=False)
        assert parse(short.decode(completion)).calls == [(c["name"], c["arguments"]) for c in
                                                           ex.target.to_dict()["tool_calls"]]
        for call in ex.target.to_dict()["tool_calls"]:
            name = short.encode(f' "{call["name"]}", "arguments":', add_special_tokens=False)[:1]
            assert short.decode(name) == f' "{call["name"]}",' and name[0] in prompt and name[0] in completion
            for value in call["arguments"].values():
                kind = "id" if isinstance(value, str) and any(ch.isdigit() for ch in value) else "word"
                if not isinstance(value, str) or value not in ex.messages[-1]["content"] or \
                        (kind == "word" and recipe == "compact"):
                    continue
                value_ids = short.encode(value, add_special_tokens=False)
                in_prompt = any(prompt[i:i + len(value_ids)] == value_ids for i in range(len(prompt)))
                in_call = any(completion[i:i + len(value_ids)] == value_ids for i in range(len(completion)))
                assert in_prompt and in_call, value
                copied[kind] += 1
    assert copied["id"] >= 10 and (recipe == "compact" or copied["word"] >= 10), copied


def test_copy_warmup_teaches_a_random_model_to_continue_a_span_it_has_seen():
    """What the warm-up is for: a freshly built model cannot continue a repeated span of random tokens; after it,
    it can, on sequences it never trained on (~20 s on one thread: the skill appears in a jump, ~1,000 steps in)."""
    tok = tiny.train_tokenizer(tiny.default_corpus(), 4096, pretokens="copy")
    size = tiny.TinySize(hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2, num_kv_heads=2)
    model = tiny.build_model(tok, size, seed=0)
    held_out = tiny.copy_sequences(256, tok, torch.Generator().manual_seed(123))
    assert tiny.copy_accuracy(model, held_out) < 0.1
    stats = tiny.copy_warmup(model, tok, steps=1200, learning_rate=1e-3, seed=0)
    assert tiny.copy_accuracy(model, held_out) >= 0.85
    assert 0 < stats["steps"] <= 1200 and stats["copy_accuracy"] >= 0.85 and not model.training


def test_copy_warmup_is_part_of_the_build_and_of_its_cache_key(tmp_path):
    size = {"vocab_size": 512, "hidden_size": 64, "intermediate_size": 128, "num_layers": 2, "num_heads": 2,
            "num_kv_heads": 1, "warmup_steps": 30}
    warmed = tiny.build_cached(tmp_path, corpus=CORPUS, seed=0, size=size)
    plain = tiny.build_cached(tmp_path, corpus=CORPUS, seed=0, size={**size, "warmup_steps": 0})
    assert warmed != plain and read_meta(plain)["copy_warmup"] is None
    assert read_meta(warmed)["copy_warmup"]["steps"] == 30  # 30 steps are far too few to stop early
    assert (warmed / "model.safetensors").read_bytes() != (plain / "model.safetensors").read_bytes()


def test_tiny_tokenizer_alone_skips_the_copy_warmup(tmp_path):
    size = {"vocab_size": 512, "hidden_size": 64, "intermediate_size": 128, "num_layers": 2, "num_heads": 2,
            "num_kv_heads": 1, "warmup_steps": 5}
    _, tok = load_model(TINY, tmp_path, corpus=CORPUS, tiny_size=size, device=CPU)
    alone = load_tokenizer(TINY, tmp_path, corpus=CORPUS, tiny_size=size)
    assert alone.get_vocab() == tok.get_vocab() and alone.chat_template == tok.chat_template
    metas = sorted((read_meta(f)["copy_warmup"] or {}).get("steps", 0) for f in tmp_path.glob("tiny-*"))
    assert metas == [0, 5]  # the model's build warmed up; the tokenizer's did not


@pytest.mark.parametrize("field, value", [("warmup_steps", -1), ("warmup_steps", 2.5),
                                          ("warmup_learning_rate", "1e-3"), ("warmup_learning_rate", 0)])
def test_bad_copy_warmup_settings_are_refused(field, value):
    with pytest.raises(ConfigError, match=field):
        tiny.TinySize.of({field: value})


def test_unknown_pretokens_recipe_is_refused():
    with pytest.raises(ConfigError, match="pretokens"):
        tiny.TinySize.of({"pretokens": "letters"})


def test_local_folder_spec(cache, tiny_pair):
    model, tok = load_model(model_folder(TINY, cache), cache, device=CPU)
    assert model.num_parameters() == tiny_pair[0].num_parameters() and tok.chat_template == CHAT_TEMPLATE
    assert len(load_tokenizer(model_folder(TINY, cache), cache)) == len(tok)


@pytest.mark.parametrize(("spec", "words"), [
    ("builtin:nope", ["unknown built-in", TINY, SMOLLM2]),
    ("./no/such/model", ["does not exist"]),
    ("/no/such/model", ["does not exist"]),
    ("no-such-org-xyz/no-such-model", ["not found offline", "hf download no-such-org-xyz/no-such-model",
                                       "--local-dir", TINY]),
    ("bad id with spaces", ["not found offline"]),
])
def test_bad_spec_is_one_clear_error(spec, words, tmp_path):
    with pytest.raises(ThinkactError) as err:
        load_model(spec, tmp_path, device=CPU)
    for word in words:
        assert word in str(err.value)


def test_hub_id_loads_from_the_local_hub_cache(cache, tmp_path):
    """A Hub id resolves offline from the Hugging Face cache (layout faked with the tiny model)."""
    repo = tmp_path / "hub" / "models--some-org--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    shutil.copytree(model_folder(TINY, cache), repo / "snapshots" / "abc123")
    code = ("from thinkact.models.loading import load_model, resolve_device\n"
            "m, t = load_model('some-org/tiny', 'unused', device=resolve_device('cpu'))\n"
            "print(type(m).__name__, t.eos_token)")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["Qwen3ForCausalLM", "<|im_end|>"]


def test_folder_without_model_is_a_clear_error(tmp_path):
    with pytest.raises(ThinkactError, match="no config.json"):
        load_model(str(tmp_path), tmp_path, device=CPU)


def test_resolve_device():
    assert resolve_device("cpu") == CPU and CPU.dtype == torch.float32 and not CPU.bf16
    auto = resolve_device()
    if torch.cuda.is_available():
        assert auto.device == "cuda" and auto.dtype in (torch.bfloat16, torch.float32)
    else:
        assert auto == CPU
        with pytest.raises(ThinkactError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_gguf_parsed_once_shares_then_restores_even_on_error(monkeypatch):
    import gguf

    from thinkact.models import smollm2

    made = []
    monkeypatch.setattr(gguf, "GGUFReader", lambda path, mode="r": made.append((path, mode)) or object())
    monkeypatch.setattr(gguf, "get_tensor_name_map", lambda arch, n_blocks: object())
    reader, name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    with pytest.raises(RuntimeError, match="mid-conversion"):
        with smollm2._gguf_parsed_once():
            assert gguf.GGUFReader is not reader and gguf.get_tensor_name_map is not name_map
            assert gguf.GGUFReader("a.gguf") is gguf.GGUFReader("a.gguf") is not gguf.GGUFReader("b.gguf")
            assert gguf.get_tensor_name_map("llama", 30) is gguf.get_tensor_name_map("llama", 30)
            assert gguf.get_tensor_name_map("llama", 30) is not gguf.get_tensor_name_map("llama", 2)
            raise RuntimeError("mid-conversion")
    assert made == [("a.gguf", "r"), ("b.gguf", "r")]
    assert gguf.GGUFReader is reader and gguf.get_tensor_name_map is name_map


@pytest.mark.slow
def test_smollm2_loads_from_gguf_then_from_cache(cache, monkeypatch):
    import gguf
    from transformers.trainer_utils import validate_quantization_for_training

    from thinkact.models import smollm2

    model, tok = load_model(SMOLLM2, cache, device=CPU)
    assert type(model).__name__ == "LlamaForCausalLM" and model.dtype == torch.float32
    assert 130e6 < model.num_parameters() < 140e6
    assert not getattr(model, "is_quantized", False) and getattr(model, "hf_quantizer", None) is None
    assert getattr(model.config, "quantization_config", None) is None
    validate_quantization_for_training(model)  # what Trainer/TRL check: raises for a "quantized" model
    assert tok.chat_template == CHAT_TEMPLATE and tok.eos_token == "<|im_end|>"
    assert len(tok.encode("<tool_call>", add_special_tokens=False)) > 1  # not one token in its vocabulary
    with monkeypatch.context() as patch:  # the second load comes from the cached folder and never reads the GGUF
        patch.setattr(smollm2, "smollm2_gguf_path", lambda: pytest.fail("converted the GGUF again"))
        patch.setattr(gguf, "GGUFReader", lambda *a, **k: pytest.fail("read the GGUF instead of the cache"))
        again, _ = load_model(SMOLLM2, cache, device=CPU)
    ids = torch.tensor([[1, 504, 3458, 314]])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, again(ids).logits)
    # The pretrained model still answers through our template.
    prompt = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                     add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt")
    out = model.generate(**prompt, max_new_tokens=20, do_sample=False)
    assert "Paris" in tok.decode(out[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True)


@pytest.mark.slow
def test_smollm2_template_is_prefix_preserving_in_tokens(cache):
    tok = load_tokenizer(SMOLLM2, cache)
    history = [{"role": "user", "content": "Weather in Paris?"}]
    target = {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
    prompt = tok.apply_chat_template(history, add_generation_prompt=True, tokenize=True, return_dict=False)
    full = tok.apply_chat_template(history + [target_message(target, "why")], tokenize=True, return_dict=True,
                                   return_assistant_tokens_mask=True)
    assert full["input_ids"][: len(prompt)] == prompt
    masked = [i for i, m in zip(full["input_ids"], full["assistant_masks"]) if m]
    assert tok.decode(masked) == render_target(target, "why") + "<|im_end|>\n"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_tiny_on_gpu(cache):
    model, _ = load_model(TINY, cache)
    assert model.device.type == "cuda" and model.dtype == resolve_device().dtype
