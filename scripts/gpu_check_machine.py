"""Step 1 of scripts/gpu-check.sh (scripts/gpu_check.py): what the GPU machine has (nvidia-smi -L, each CUDA device
with its memory, bf16 support and dense bf16 peak, the stack's versions, the packages that do not import), and the
MFU arithmetic the smokes report against that peak. Only the standard library at module level.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from gpu_check_results import EXIT_MISSING, EXIT_NO_CUDA, EXIT_OK, write_result

REQUIRED = ("torch", "transformers", "trl", "accelerate", "datasets", "pytest", "thinkact")
VERSIONS = ("torch", "transformers", "trl", "accelerate", "vllm")

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
