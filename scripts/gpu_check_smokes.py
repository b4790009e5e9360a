"""Steps 3-5 of scripts/gpu-check.sh (scripts/gpu_check.py): bf16 SFT / GRPO / vLLM smokes on a random-initialised
model of Qwen3-0.6B's shape (no download: transformers' Qwen3Config and `from_config`, the project's offline
`builtin:tiny` tokenizer). torch, transformers, TRL and vLLM are imported inside the steps.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from gpu_check_machine import mfu, mfu_text, peak_bf16_flops
from gpu_check_results import EXIT_OK, write_result

# Qwen3-0.6B's dimensions (its config.json); `tiny` is the same code path at toy size, for a CPU dry run.
SHAPES: dict[str, dict[str, Any]] = {
    "qwen3-0.6b": dict(vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                       num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
                       rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True),
    "tiny": dict(vocab_size=1024, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, max_position_embeddings=2048, rope_theta=1_000_000.0,
                 rms_norm_eps=1e-6, tie_word_embeddings=True),
}


# ---------------------------------------------------------------------------------------------------- the model

def _device(args: argparse.Namespace) -> tuple[str, Any]:
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return device, torch.float32  # a CPU dry run trains in fp32
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU for --device cuda")
    if "LOCAL_RANK" in os.environ:  # accelerate launch: one GPU per process
        device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
        torch.cuda.set_device(device)
    return device, torch.bfloat16


def _tokenizer(work: Path) -> Any:
    """The project's builtin:tiny tokenizer (trained here in seconds, offline), built once under `work`; in a
    multi-process launch the main process builds it first."""
    from accelerate import PartialState

    from thinkact.models.loading import load_tokenizer

    with PartialState().main_process_first():
        return load_tokenizer("builtin:tiny", work / "models")


def _model(shape: str, tokenizer: Any, device: str, dtype: Any) -> Any:
    """A random-initialised Qwen3 model of `shape`, built directly on `device` in `dtype` (seeded)."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen3Config

    dims = SHAPES[shape]
    if len(tokenizer) > dims["vocab_size"]:
        raise SystemExit(f"the tokenizer has {len(tokenizer)} tokens, more than the {shape} vocabulary")
    config = Qwen3Config(**dims, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id)
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _prepare(args: argparse.Namespace) -> tuple[Path, str, Any, Any]:
    """(work folder, device, dtype, tokenizer); refuses a GPU without bf16."""
    work = Path(args.work)
    device, dtype = _device(args)
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_bf16_supported():
            raise SystemExit(f"{torch.cuda.get_device_name()} has no bf16 support (compute capability < 8.0): the "
                             "bf16 smokes cannot run (the gpu-qwen3 profile trains in bf16)")
    return work, device, dtype, _tokenizer(work)


def _gpu_name(device: str) -> str | None:
    if not device.startswith("cuda"):
        return None
    import torch

    return torch.cuda.get_device_name()


# ---------------------------------------------------------------------------------------------------- step 3a: SFT

def _step_timer(device: str, warmup: int) -> Any:
    """A TrainerCallback timing each optimizer step (device synchronised), the first `warmup` steps left out."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self._start = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            _sync(device)
            self._start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            _sync(device)
            self.times.append(time.perf_counter() - self._start)

        def measured(self) -> list[float]:
            return self.times[warmup:] if len(self.times) > warmup else self.times

    return StepTimer()


def _train_sft(args: argparse.Namespace, work: Path, device: str, dtype: Any, tokenizer: Any
               ) -> tuple[Any, Any, int, int, list[int]]:
    """SFTTrainer.train() on random sequences, the batch halved after each out-of-memory error:
    (trainer, its step timer, the model's parameter count, the batch that fitted, the batches that did not)."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    on_gpu = device.startswith("cuda")
    batch = args.batch
    attempts = []
    while True:
        model = _model(args.shape, tokenizer, device, dtype)  # afresh on a retry: the trainer patches its forward
        params = model.num_parameters()
        generator = torch.Generator().manual_seed(0)
        rows = torch.randint(0, len(tokenizer), (max(batch * args.steps, 1), args.seq), generator=generator)
        dataset = Dataset.from_dict({"input_ids": rows.tolist()})
        config = SFTConfig(output_dir=str(work / f"{args.name}-out"), max_steps=args.steps,
                           per_device_train_batch_size=batch, max_length=args.seq, learning_rate=1e-5,
                           lr_scheduler_type="constant", warmup_steps=0, logging_steps=max(args.steps // 4, 1),
                           save_strategy="no", report_to="none", gradient_checkpointing=False, disable_tqdm=True,
                           bf16=on_gpu, use_cpu=not on_gpu, dataloader_num_workers=0, seed=0)
        timer = _step_timer(device, args.warmup)
        trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                             callbacks=[timer])
        try:
            trainer.train()
            return trainer, timer, params, batch, attempts
        except torch.OutOfMemoryError:
            attempts.append(batch)
            del trainer, model
            torch.cuda.empty_cache()
            if batch == 1:
                raise
            batch //= 2
            print(f"out of GPU memory at batch {attempts[-1]}: retrying with batch {batch}", flush=True)


def step_sft(args: argparse.Namespace) -> int:
    """SFTTrainer on random token sequences (pre-tokenized `input_ids`, all of length --seq, no padding):
    tokens/s over the timed steps (all processes together) and MFU = 6 x params x tokens/s / peak."""
    import torch
    from accelerate import PartialState

    work, device, dtype, tokenizer = _prepare(args)
    on_gpu = device.startswith("cuda")
    state = PartialState()
    trainer, timer, params, batch, attempts = _train_sft(args, work, device, dtype, tokenizer)
    times = timer.measured()
    world = state.num_processes
    tokens_per_step = batch * args.seq * world
    tokens_per_s = tokens_per_step * len(times) / sum(times) if times and sum(times) > 0 else 0.0
    name = _gpu_name(device)
    peak = peak_bf16_flops(name)
    value = mfu(params, tokens_per_s, peak)
    memory = torch.cuda.max_memory_allocated() / 2**30 if on_gpu else None
    dtype_name = str(dtype).replace("torch.", "")
    line = (f"SFTTrainer {args.shape} random init, {params / 1e6:.1f}M params, {dtype_name}, {world} process(es) x "
            f"{batch} x {args.seq} tokens/step, {tokens_per_s:,.0f} tokens/s over {len(times)} timed steps, "
            f"{mfu_text(value, peak)}" + (f", peak memory {memory:.1f} GiB" if memory is not None else "")
            + (f" (batch halved after OOM at {attempts})" if attempts else ""))
    if state.is_main_process:
        write_result(args.result, {
            "status": "ok", "line": line, "shape": args.shape, "params": params, "dtype": dtype_name,
            "device": device, "gpu": name, "processes": world, "batch_per_process": batch, "seq": args.seq,
            "steps": args.steps, "timed_steps": len(times), "step_seconds": [round(t, 4) for t in times],
            "tokens_per_s": round(tokens_per_s, 1), "peak_bf16_flops": peak,
            "mfu": None if value is None else round(value, 4), "mfu_formula": "6 * params * tokens_per_s / peak",
            "max_memory_gib": None if memory is None else round(memory, 2), "oom_batches": attempts,
            "final_loss": next((h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h), None)})
        print(line, flush=True)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------------- step 3b: GRPO

def length_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """A trivial reward (the completion's length in characters / 100): the smoke checks the machinery, not
    learning."""
    return [len(str(c)) / 100.0 for c in completions]


def _time_generation(trainer: Any, device: str) -> list[tuple[float, int]]:
    """Wrap the trainer's `_generate_single_turn` so each call is timed (device synchronised); the list it returns
    fills with (seconds, completion tokens) per call, tokens -1 when the output has an unexpected shape."""
    calls: list[tuple[float, int]] = []
    original = trainer._generate_single_turn

    def timed(*a: Any, **kw: Any) -> Any:
        _sync(device)
        start = time.perf_counter()
        out = original(*a, **kw)
        _sync(device)
        seconds = time.perf_counter() - start
        try:
            tokens = sum(len(ids) for ids in out[0])
        except (TypeError, IndexError):
            tokens = -1
        calls.append((seconds, tokens))
        return out

    trainer._generate_single_turn = timed
    return calls


def _generation_rate(calls: list[tuple[float, int]]) -> tuple[float | None, str]:
    """(generation tokens/s, the text saying so) over the timed calls, the first left out when there are several;
    None when not measurable."""
    counted = calls[1:] if len(calls) > 1 else calls
    rate = None
    if counted and all(t >= 0 for _, t in counted):
        rate = sum(t for _, t in counted) / sum(s for s, _ in counted)
    gen_text = (f"generation {rate:,.0f} tokens/s (HF generate inside GRPOTrainer, {len(counted)} timed calls, "
                f"{sum(t for _, t in counted) // max(len(counted), 1):,} tokens/call)" if rate is not None
                else f"generation tokens/s: not measured (TRL's _generate_single_turn was called {len(calls)} times"
                     " or returned an unexpected shape)")
    return rate, gen_text


def step_grpo(args: argparse.Namespace) -> int:
    """GRPOTrainer (transformers generate, no vLLM) for a few steps with `length_reward`; the generation is timed
    inside the trainer (its `_generate_single_turn`, device synchronised): completion tokens / seconds, first call
    left out when there are several."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    work, device, dtype, tokenizer = _prepare(args)
    model = _model(args.shape, tokenizer, device, dtype)
    on_gpu = device.startswith("cuda")
    prompts = [f"Question {i}: what is the weather in city number {i}? Think, then call a tool." for i in range(64)]
    config = GRPOConfig(output_dir=str(work / "grpo-out"), max_steps=args.steps,
                        per_device_train_batch_size=args.batch, num_generations=args.generations,
                        max_completion_length=args.completion, temperature=1.0, beta=0.0, learning_rate=1e-6,
                        lr_scheduler_type="constant", logging_steps=1, save_strategy="no", report_to="none",
                        gradient_checkpointing=False, disable_tqdm=True, use_vllm=False, bf16=on_gpu,
                        use_cpu=not on_gpu, seed=0)
    trainer = GRPOTrainer(model=model, reward_funcs=length_reward, args=config,
                          train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
                          processing_class=tokenizer)
    calls = _time_generation(trainer, device)
    timer = _step_timer(device, 1)
    trainer.add_callback(timer)
    start = time.perf_counter()
    trainer.train()
    total = time.perf_counter() - start
    rate, gen_text = _generation_rate(calls)
    steps = timer.measured()
    step_s = sum(steps) / len(steps) if steps else None
    line = (f"GRPOTrainer {args.shape} random init, {str(dtype).replace('torch.', '')}, {args.steps} steps of "
            f"{args.batch} completions ({args.generations} per prompt, {args.completion} tokens max), {gen_text}"
            + (f", {step_s:.2f} s/step" if step_s else ""))
    write_result(args.result, {
        "status": "ok", "line": line, "shape": args.shape, "device": device, "gpu": _gpu_name(device),
        "steps": args.steps, "completions_per_step": args.batch, "num_generations": args.generations,
        "max_completion_length": args.completion, "generation_method": "transformers generate inside GRPOTrainer",
        "generate_calls": [{"seconds": round(s, 3), "tokens": t} for s, t in calls],
        "generation_tokens_per_s": None if rate is None else round(rate, 1),
        "step_seconds": [round(t, 3) for t in timer.times], "train_seconds": round(total, 1)})
    print(line, flush=True)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------------- step 4: vLLM

def step_vllm(args: argparse.Namespace) -> int:
    """vLLM offline generation with the random Qwen3-0.6B-shaped model saved to a folder: prompts as token ids
    (skip_tokenizer_init: the model samples ids the small tokenizer does not have), ignore_eos, so every sequence
    is --completion tokens; tokens/s of one timed generate call after a short warm-up."""
    try:
        import vllm
        from vllm import LLM, SamplingParams
    except Exception as err:  # noqa: BLE001 - installed but not importable (a CUDA / torch mismatch)
        write_result(args.result, {"status": "skipped", "line": f"vLLM not importable ({type(err).__name__}: "
                                                                 f"{str(err).splitlines()[0][:160]}): skipped"})
        return EXIT_OK
    import torch

    work, device, dtype, tokenizer = _prepare(args)
    if not device.startswith("cuda"):
        raise SystemExit("the vLLM smoke needs a CUDA GPU")
    model = _model(args.shape, tokenizer, device, dtype)
    folder = work / "vllm-model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    del model
    torch.cuda.empty_cache()
    eager = os.environ.get("GPU_CHECK_VLLM_EAGER", "1") != "0"
    start = time.perf_counter()
    llm = LLM(model=str(folder), dtype="bfloat16", skip_tokenizer_init=True, enforce_eager=eager, seed=0,
              gpu_memory_utilization=args.memory, max_model_len=args.prompt + args.completion + 64)
    load_s = time.perf_counter() - start
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, len(tokenizer), (args.batch, args.prompt), generator=generator).tolist()
    prompts = [{"prompt_token_ids": row} for row in ids]
    llm.generate(prompts[:4], SamplingParams(max_tokens=8, ignore_eos=True, detokenize=False), use_tqdm=False)
    params = SamplingParams(max_tokens=args.completion, temperature=1.0, ignore_eos=True, detokenize=False, seed=0)
    start = time.perf_counter()
    outputs = llm.generate(prompts, params, use_tqdm=False)
    seconds = time.perf_counter() - start
    tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
    rate = tokens / seconds if seconds > 0 else 0.0
    line = (f"vLLM {vllm.__version__} {'eager' if eager else 'CUDA graphs'}, {args.batch} prompts x "
            f"{args.completion} tokens, {rate:,.0f} generation tokens/s (engine start {load_s:.0f} s)")
    write_result(args.result, {"status": "ok", "line": line, "vllm": vllm.__version__, "enforce_eager": eager,
                               "prompts": args.batch, "prompt_tokens": args.prompt,
                               "completion_tokens": args.completion, "generated_tokens": tokens,
                               "seconds": round(seconds, 2),
                               "generation_tokens_per_s": round(rate, 1), "engine_start_seconds": round(load_s, 1)})
    print(line, flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_OK)  # the result is written: do not let the engine's teardown hang into the step's timeout
