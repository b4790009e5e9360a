"""scripts/gpu-check.sh without a GPU: with CUDA hidden it says "no CUDA GPU: <reason>", writes its summary JSON and
exits 3 after step 1; a package that does not import is named, exit 2. The MFU arithmetic, the peak lookup and
the result bookkeeping of scripts/gpu_check.py; and (slow) its SFT and GRPO smokes at toy size on the CPU, the
same code path the GPU runs at Qwen3-0.6B's size."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from thinkact.project import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "gpu-check.sh"
_spec = importlib.util.spec_from_file_location("gpu_check", PROJECT_ROOT / "scripts" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_check)


def _run(tmp_path, **env):
    full = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    full.pop("OUT", None)
    full.update(env)
    return subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, env=full, capture_output=True, text=True, timeout=120)


def test_without_cuda_the_script_says_why_writes_the_summary_and_exits_3(tmp_path):
    out = tmp_path / "out"
    done = _run(tmp_path, OUT=str(out))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "nvidia-smi -L:" in done.stdout and "versions: torch " in done.stdout
    assert "[gpu-check] 1 gpu: no_cuda — no CUDA GPU: " in done.stdout
    assert "CUDA_VISIBLE_DEVICES=''" in done.stdout  # the reason names what hid the GPU
    assert "[gpu-check] 2 " not in done.stdout  # nothing after step 1
    assert "[gpu-check] result: no CUDA GPU (exit 3)" in done.stdout
    summary = json.loads((out / "gpu-check.json").read_text())
    assert summary["verdict"] == "no CUDA GPU" and summary["exit_code"] == 3
    assert list(summary["steps"]) == ["gpu"] and summary["steps"]["gpu"]["status"] == "no_cuda"
    assert summary["steps"]["gpu"]["versions"]["torch"]
    assert (out / "gpu-check-logs" / "gpu.log").is_file()


def test_a_package_that_does_not_import_is_named_and_exits_2(tmp_path):
    shim = tmp_path / "shim" / "trl"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('trl hidden by the test')\n")
    done = _run(tmp_path, PYTHONPATH=str(tmp_path / "shim"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "missing packages: trl" in done.stdout and "scripts/setup-env.sh" in done.stdout
    summary = json.loads((tmp_path / "gpu-check.json").read_text())  # OUT unset: the current folder
    assert summary["verdict"] == "missing packages" and list(summary["steps"]["gpu"]["missing"]) == ["trl"]


@pytest.mark.parametrize("name, peak", [
    ("NVIDIA H100 80GB HBM3", 989e12), ("NVIDIA H100 PCIe", 756e12), ("NVIDIA H100 NVL", 835e12),
    ("NVIDIA H200", 989e12), ("NVIDIA H200 NVL", 835e12), ("NVIDIA GH200 480GB", 989e12),
    ("NVIDIA A100-SXM4-80GB", 312e12), ("NVIDIA A100 80GB PCIe", 312e12), ("NVIDIA L40S", 362e12),
    ("NVIDIA L4", 121e12), ("NVIDIA L40", None), ("Tesla T4", None), ("", None), (None, None)])
def test_peak_lookup_by_gpu_name(name, peak):
    assert gpu_check.peak_bf16_flops(name) == peak


def test_mfu_is_six_params_tokens_over_peak():
    params = 596_049_920  # Qwen3-0.6B's shape, embeddings tied (what the smoke builds)
    assert gpu_check.mfu(params, 100_000.0, 989e12) == pytest.approx(6 * params * 100_000 / 989e12)
    assert gpu_check.mfu(params, 100_000.0, 989e12) == pytest.approx(0.3616, abs=1e-4)
    assert gpu_check.mfu(params, 100_000.0, None) is None and gpu_check.mfu(params, 0.0, 989e12) is None
    assert gpu_check.mfu_text(None, None) == "MFU: unknown peak"
    assert gpu_check.mfu_text(0.3616, 989e12) == "MFU 36.2% of 989 TFLOP/s bf16"


def test_the_qwen3_shape_has_qwen3_06b_parameter_count():
    import torch
    from transformers import AutoModelForCausalLM, Qwen3Config

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(Qwen3Config(**gpu_check.SHAPES["qwen3-0.6b"]))
    assert model.num_parameters() == 596_049_920


def test_results_timeout_crash_pytest_and_exit_codes(tmp_path):
    log = tmp_path / "step.log"
    log.write_text("collecting ...\n..s\n3 passed, 1 skipped, 600 deselected in 41.20s\n")
    ok = gpu_check.complete_result("gpu_tests", 0, 41.5, 150, str(log), None, kind="pytest")
    assert ok["status"] == "ok" and ok["line"] == "3 passed, 1 skipped, 600 deselected in 41.20s"
    assert gpu_check.complete_result("gpu_tests", 1, 9, 150, str(log), None, kind="pytest")["status"] == "failed"
    late = gpu_check.complete_result("sft", 124, 100, 100, str(log), {"status": "ok", "line": "x"})
    assert late["status"] == "timeout" and "100 s" in late["line"] and late["log_tail"]
    log.write_text("Traceback ...\nRuntimeError: CUDA error: out of memory\n")
    crash = gpu_check.complete_result("grpo", 1, 5, 100, str(log), None)
    assert crash["status"] == "failed" and "CUDA error: out of memory" in crash["line"]
    assert gpu_check.format_line("3", "grpo", crash).startswith("[gpu-check] 3 grpo: failed — exited 1")
    skipped = {"status": "skipped"}
    assert gpu_check.exit_code({"gpu": {"status": "ok"}, "vllm": skipped}) == 0
    assert gpu_check.exit_code({"gpu": {"status": "ok"}, "sft": late}) == 1
    assert gpu_check.exit_code({"gpu": {"status": "missing"}}) == 2
    assert gpu_check.exit_code({"gpu": {"status": "no_cuda"}}) == 3


@pytest.mark.slow
def test_sft_and_grpo_smokes_run_at_toy_size_on_the_cpu(tmp_path):
    """The GPU smokes' code (TRL trainers, timing, result files) at toy size, fp32 on the CPU (~25 s)."""
    cli = [sys.executable, str(PROJECT_ROOT / "scripts" / "gpu_check.py")]
    common = ["--shape", "tiny", "--device", "cpu", "--work", str(tmp_path)]
    subprocess.run([*cli, "sft", *common, "--result", str(tmp_path / "sft.json"), "--steps", "3", "--warmup", "1",
                    "--batch", "2", "--seq", "32"], check=True, capture_output=True, timeout=300)
    sft = json.loads((tmp_path / "sft.json").read_text())
    assert sft["status"] == "ok" and sft["timed_steps"] == 2 and sft["tokens_per_s"] > 0
    assert sft["mfu"] is None and "MFU: unknown peak" in sft["line"]
    subprocess.run([*cli, "grpo", *common, "--result", str(tmp_path / "grpo.json"), "--steps", "2", "--batch", "4",
                    "--generations", "2", "--completion", "8"], check=True, capture_output=True, timeout=300)
    grpo = json.loads((tmp_path / "grpo.json").read_text())
    assert grpo["status"] == "ok" and grpo["generation_tokens_per_s"] > 0
    assert len(grpo["generate_calls"]) == 2  # 4 completions of at most 8 tokens per call
    assert all(0 < c["tokens"] <= 32 for c in grpo["generate_calls"])
