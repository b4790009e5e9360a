"""The steps of scripts/gpu-check.sh (issue #16 item 6): what the GPU machine has, and bf16 SFT / GRPO / vLLM
smokes on a random-initialised model of Qwen3-0.6B's shape (no download: transformers' Qwen3Config and
`from_config`, the project's offline `builtin:tiny` tokenizer; the model's vocabulary stays Qwen3's 151936, larger
than the tokenizer's, so the compute is Qwen3-0.6B's and every input id is a real token).

Each step writes one JSON result (`--result`), whose `line` the shell script prints; `record` completes a step's
result from its exit code and log (a timeout, a crash, pytest's summary line) and prints that line; `summary`
writes the final JSON and returns the script's exit code:
    0 every step passed (or was skipped because it does not apply: no vLLM, one GPU)
    1 a step failed or ran out of time
    2 the stack is missing (python, torch, transformers, trl, accelerate, datasets, pytest or thinkact do not import)
    3 no CUDA GPU: only step 1 ran

    python scripts/gpu_check.py sft --work /tmp/w --result /tmp/w/sft.json [--shape tiny --device cpu]

Only the standard library is imported at module level: `record`, `summary` and the MFU arithmetic start fast.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_MISSING, EXIT_NO_CUDA = 0, 1, 2, 3
REQUIRED = ("torch", "transformers", "trl", "accelerate", "datasets", "pytest", "thinkact")
VERSIONS = ("torch", "transformers", "trl", "accelerate", "vllm")
STEPS = ("gpu", "gpu_tests", "sft", "grpo", "vllm", "sft_2proc")  # the order of the summary

# Dense bf16 tensor-core peak per GPU (NVIDIA datasheets; the "with sparsity" figures halved), matched against
# torch.cuda.get_device_name() in order, first match wins: the PCIe / NVL variants before the SXM default.
PEAK_BF16: tuple[tuple[str, float], ...] = (
    (r"\bH100\b.*\b(PCIE|PCI-E)\b", 756e12),
    (r"\bH100\b.*\bNVL\b", 835e12),
    (r"\bH200\b.*\bNVL\b", 835e12),
    (r"\bGH200\b", 989e12),
    (r"\bH100\b", 989e12),  # SXM ("NVIDIA H100 80GB HBM3")
    (r"\bH200\b", 989e12),  # SXM ("NVIDIA H200")
    (r"\bA100\b", 312e12),
    (r"\bL40S\b", 362e12),
    (r"\bL4\b", 121e12),
)

# Qwen3-0.6B's dimensions (its config.json); `tiny` is the same code path at toy size, for a CPU dry run.
SHAPES: dict[str, dict[str, Any]] = {
    "qwen3-0.6b": dict(vocab_size=151936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28,
                       num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
                       rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True),
    "tiny": dict(vocab_size=1024, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=16, max_position_embeddings=2048, rope_theta=1_000_000.0,
                 rms_norm_eps=1e-6, tie_word_embeddings=True),
}


# ---------------------------------------------------------------------------------------------------- arithmetic

def peak_bf16_flops(gpu_name: str | None) -> float | None:
    """The dense bf16 peak FLOP/s of the GPU named `gpu_name`, or None when it is not in PEAK_BF16."""
    name = (gpu_name or "").upper()
    for pattern, peak in PEAK_BF16:
        if re.search(pattern, name):
            return peak
    return None


def mfu(params: int, tokens_per_s: float, peak_flops: float | None) -> float | None:
    """Model FLOPs utilisation of training: 6 FLOPs per parameter per token (forward 2, backward 4) over the peak;
    None when the peak is unknown."""
    if not peak_flops or tokens_per_s <= 0:
        return None
    return 6.0 * params * tokens_per_s / peak_flops


def mfu_text(value: float | None, peak: float | None) -> str:
    if value is None or peak is None:
        return "MFU: unknown peak"
    return f"MFU {100 * value:.1f}% of {peak / 1e12:.0f} TFLOP/s bf16"


# ---------------------------------------------------------------------------------------------------- results

def write_result(path: str | Path, result: dict[str, Any]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(result, indent=2, default=str))
    tmp.replace(path)


def read_result(path: str | Path) -> dict[str, Any] | None:
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _log_tail(log: str | None, lines: int = 25) -> list[str]:
    if not log or not Path(log).is_file():
        return []
    return Path(log).read_text(errors="replace").splitlines()[-lines:]


def pytest_summary(text: str) -> str | None:
    """pytest -q's last summary line ("3 passed, 1 skipped in 12.3s"), or None."""
    hits = re.findall(r"^=*\s*(\d+ (?:passed|failed|skipped|error|errors|deselected|xfailed|xpassed)\b.*?)\s*=*$",
                      text, flags=re.M)
    return hits[-1] if hits else None


def complete_result(name: str, rc: int, secs: float, limit: float | None, log: str | None,
                    result: dict[str, Any] | None, kind: str = "python") -> dict[str, Any]:
    """A step's final result: what it wrote (if anything), overruled by a timeout or a non-zero exit code."""
    result = dict(result or {})
    tail = _log_tail(log)
    if rc in (124, 137):
        result.update(status="timeout", line=f"timed out after {limit:.0f} s (the step's limit)")
    elif kind == "pytest":
        found = pytest_summary("\n".join(_log_tail(log, 400)))
        summary = found or f"pytest exited {rc} with no summary line"
        if rc == 0:
            result.update(status="ok", line=summary)
        elif rc == 5:
            result.update(status="failed", line=f"no gpu-marked tests were collected ({summary})")
        else:
            result.update(status="failed", line=summary)
        result["pytest"] = found
    elif not result:
        result.update(status="failed", line=f"exited {rc} without a result"
                      + (f": {tail[-1].strip()[:200]}" if tail else ""))
    elif rc != 0 and result.get("status") == "ok":
        result.update(status="failed", line=f"exited {rc} after reporting: {result.get('line', '')}")
    result.setdefault("status", "failed")
    result.setdefault("line", "")
    result.update(step=name, rc=rc, secs=round(secs, 1))
    if log:
        result["log"] = str(log)
    if result["status"] in ("failed", "timeout") and tail:
        result["log_tail"] = tail
    return result


def format_line(index: str, name: str, result: dict[str, Any]) -> str:
    secs = f" ({result['secs']:.0f} s)" if result.get("secs") else ""
    return f"[gpu-check] {index} {name}: {result.get('status', '?')} — {result.get('line', '')}{secs}"


def exit_code(results: dict[str, dict[str, Any]]) -> int:
    gpu = results.get("gpu", {})
    if gpu.get("status") == "missing":
        return EXIT_MISSING
    if gpu.get("status") == "no_cuda":
        return EXIT_NO_CUDA
    if any(r.get("status") in ("failed", "timeout") for r in results.values()):
        return EXIT_FAILED
    return EXIT_OK


# ---------------------------------------------------------------------------------------------------- step 1

def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in VERSIONS:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _nvidia_smi() -> tuple[list[str], str | None]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return [], "nvidia-smi not found (no NVIDIA driver on PATH)"
    try:
        done = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return [], "nvidia-smi -L timed out after 20 s"
    if done.returncode != 0:
        return [], f"nvidia-smi -L failed: {(done.stderr or done.stdout).strip()[:200]}"
    return [line for line in done.stdout.splitlines() if line.strip()], None


def _no_cuda_reason(torch: Any, smi_problem: str | None) -> str:
    reasons = []
    if torch.version.cuda is None:
        reasons.append(f"torch {torch.__version__} is a CPU-only build (no CUDA)")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        reasons.append(f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU")
    if smi_problem:
        reasons.append(smi_problem)
    if not reasons:
        try:
            torch.cuda.init()
            reasons.append(f"torch sees {torch.cuda.device_count()} CUDA devices")
        except Exception as err:  # noqa: BLE001 - the driver's own words are the reason
            reasons.append(str(err).splitlines()[0][:200] or type(err).__name__)
    return "; ".join(reasons)


def step_info(args: argparse.Namespace) -> int:
    versions = _versions()
    print("versions: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in versions.items()), flush=True)
    smi, smi_problem = _nvidia_smi()
    print("nvidia-smi -L:" + ("".join(f"\n  {line}" for line in smi) if smi else f" {smi_problem}"), flush=True)
    missing: dict[str, str] = {}
    for name in REQUIRED:
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - an import that fails for any reason is a missing package
            missing[name] = f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}"
    result: dict[str, Any] = {"versions": versions, "nvidia_smi": smi, "nvidia_smi_problem": smi_problem,
                              "missing": missing, "python": sys.version.split()[0], "gpus": []}
    gpus: list[dict[str, Any]] = []
    cuda = False
    if "torch" not in missing:
        import torch

        cuda = torch.cuda.is_available()
        result["torch_cuda"] = torch.version.cuda
        for i in range(torch.cuda.device_count() if cuda else 0):
            props = torch.cuda.get_device_properties(i)
            with torch.cuda.device(i):
                bf16 = torch.cuda.is_bf16_supported()
            peak = peak_bf16_flops(props.name)
            gpus.append({"index": i, "name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
                         "capability": f"{props.major}.{props.minor}", "bf16": bf16, "peak_bf16_flops": peak})
            print(f"cuda:{i}: {props.name}, {props.total_memory / 2**30:.1f} GiB, capability {props.major}."
                  f"{props.minor}, bf16 {'yes' if bf16 else 'NO'}, peak bf16 "
                  f"{f'{peak / 1e12:.0f} TFLOP/s' if peak else 'unknown peak'}", flush=True)
        if not cuda:
            result["no_cuda_reason"] = _no_cuda_reason(torch, smi_problem)
            print(f"no CUDA GPU: {result['no_cuda_reason']}", flush=True)
    result["gpus"] = gpus
    versions_text = ", ".join(f"{k} {v}" for k, v in versions.items() if v) or "no packages"
    if missing:
        print("missing packages: " + "; ".join(f"{k} ({v})" for k, v in missing.items()), flush=True)
        result.update(status="missing", line=f"missing packages: {', '.join(missing)} — install the stack with "
                                             "`bash scripts/setup-env.sh` (constraints.txt pins)"
                                             + (f"; no CUDA GPU: {result['no_cuda_reason']}"
                                                if result.get("no_cuda_reason") else ""))
        rc = EXIT_MISSING
    elif not cuda:
        result.update(status="no_cuda", line=f"no CUDA GPU: {result['no_cuda_reason']}; nothing else checked "
                                             f"({versions_text})")
        rc = EXIT_NO_CUDA
    else:
        names = ", ".join(f"{g['name']} ({g['memory_gib']} GiB, bf16 {'yes' if g['bf16'] else 'NO'})" for g in gpus)
        result.update(status="ok", line=f"{len(gpus)} GPU(s): {names}; {versions_text}")
        rc = EXIT_OK
    write_result(args.result, result)
    if args.env:  # what the shell script needs to decide the later steps
        Path(args.env).write_text(f"GPU_COUNT={len(gpus)}\nHAS_VLLM={0 if versions['vllm'] is None else 1}\n")
    return rc


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


def step_sft(args: argparse.Namespace) -> int:
    """SFTTrainer on random token sequences (pre-tokenized `input_ids`, all of length --seq, no padding):
    tokens/s over the timed steps (all processes together) and MFU = 6 x params x tokens/s / peak."""
    import torch
    from accelerate import PartialState
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    work, device, dtype, tokenizer = _prepare(args)
    on_gpu = device.startswith("cuda")
    state = PartialState()
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
            break
        except torch.OutOfMemoryError:
            attempts.append(batch)
            del trainer, model
            torch.cuda.empty_cache()
            if batch == 1:
                raise
            batch //= 2
            print(f"out of GPU memory at batch {attempts[-1]}: retrying with batch {batch}", flush=True)
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
    timer = _step_timer(device, 1)
    trainer.add_callback(timer)
    start = time.perf_counter()
    trainer.train()
    total = time.perf_counter() - start
    counted = calls[1:] if len(calls) > 1 else calls
    rate = None
    if counted and all(t >= 0 for _, t in counted):
        rate = sum(t for _, t in counted) / sum(s for s, _ in counted)
    gen_text = (f"generation {rate:,.0f} tokens/s (HF generate inside GRPOTrainer, {len(counted)} timed calls, "
                f"{sum(t for _, t in counted) // max(len(counted), 1):,} tokens/call)" if rate is not None
                else f"generation tokens/s: not measured (TRL's _generate_single_turn was called {len(calls)} times"
                     " or returned an unexpected shape)")
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


# ---------------------------------------------------------------------------------------------------- shell glue

def step_record(args: argparse.Namespace) -> int:
    """Complete a step's result (`complete_result`), or record a skipped one (--skip), and print its line."""
    path = Path(args.work) / f"{args.name}.json"
    if args.skip is not None:
        result = {"status": args.status, "line": args.skip, "step": args.name}
    else:
        result = complete_result(args.name, args.rc, args.secs, args.limit, args.log, read_result(path), args.kind)
    write_result(path, result)
    print(format_line(args.index, args.name, result), flush=True)
    if result["status"] in ("failed", "timeout") and result.get("log_tail"):
        print(f"  last lines of {result.get('log')}:", flush=True)
        for line in result["log_tail"][-12:]:
            print(f"  | {line[:300]}", flush=True)
    return EXIT_OK


def step_summary(args: argparse.Namespace) -> int:
    """The final JSON (every step's result) at --out; prints the verdict; returns the script's exit code."""
    work = Path(args.work)
    results = {name: r for name in STEPS if (r := read_result(work / f"{name}.json")) is not None}
    code = exit_code(results)
    verdict = {EXIT_OK: "ok", EXIT_FAILED: "failed", EXIT_MISSING: "missing packages",
               EXIT_NO_CUDA: "no CUDA GPU"}[code]
    failed = [n for n, r in results.items() if r.get("status") in ("failed", "timeout")]
    summary = {"verdict": verdict, "exit_code": code, "seconds": round(args.secs, 1), "budget_seconds": args.budget,
               "failed_steps": failed, "steps": results,
               "exit_codes": {"0": "every step passed or did not apply", "1": "a step failed or timed out",
                              "2": "missing packages", "3": "no CUDA GPU"}}
    write_result(args.out, summary)
    print(f"[gpu-check] result: {verdict} (exit {code})" + (f", failed: {', '.join(failed)}" if failed else "")
          + f", {args.secs:.0f} s; summary: {args.out}", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    info = sub.add_parser("info")
    info.add_argument("--result", required=True)
    info.add_argument("--env")
    for name, steps, batch in (("sft", 30, 8), ("grpo", 3, 16), ("vllm", 0, 64)):
        p = sub.add_parser(name)
        p.add_argument("--work", required=True)
        p.add_argument("--result", required=True)
        p.add_argument("--name", default=name)
        p.add_argument("--shape", choices=sorted(SHAPES), default="qwen3-0.6b")
        p.add_argument("--device", choices=("cuda", "cpu"))
        p.add_argument("--steps", type=int, default=steps)
        p.add_argument("--batch", type=int, default=batch)
        p.add_argument("--seq", type=int, default=1024)  # sft: tokens per sequence
        p.add_argument("--warmup", type=int, default=5)  # sft: steps left out of the timing
        p.add_argument("--generations", type=int, default=8)  # grpo: completions per prompt
        p.add_argument("--completion", type=int, default=256)  # grpo / vllm: completion tokens
        p.add_argument("--prompt", type=int, default=64)  # vllm: prompt tokens
        p.add_argument("--memory", type=float, default=0.5)  # vllm: gpu_memory_utilization
    record = sub.add_parser("record")
    record.add_argument("index")
    record.add_argument("name")
    record.add_argument("--work", required=True)
    record.add_argument("--rc", type=int, default=0)
    record.add_argument("--secs", type=float, default=0.0)
    record.add_argument("--limit", type=float)
    record.add_argument("--log")
    record.add_argument("--kind", choices=("python", "pytest"), default="python")
    record.add_argument("--skip", help="record the step as not run, with this line")
    record.add_argument("--status", choices=("skipped", "timeout"), default="skipped")
    summary = sub.add_parser("summary")
    summary.add_argument("--work", required=True)
    summary.add_argument("--out", required=True)
    summary.add_argument("--secs", type=float, default=0.0)
    summary.add_argument("--budget", type=float)
    args = parser.parse_args(argv)
    return {"info": step_info, "sft": step_sft, "grpo": step_grpo, "vllm": step_vllm, "record": step_record,
            "summary": step_summary}[args.step](args)


if __name__ == "__main__":
    sys.exit(main())
