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

The steps live beside this file, one module per job: gpu_check_results.py (the results, `record`, `summary`),
gpu_check_machine.py (step 1 and the MFU arithmetic), gpu_check_smokes.py (the SFT / GRPO / vLLM smokes).
Only the standard library is imported at module level: `record`, `summary` and the MFU arithmetic start fast.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:  # the sibling modules, however this file is loaded (a script, accelerate launch, a test)
    sys.path.insert(0, HERE)

from gpu_check_machine import PEAK_BF16, mfu, mfu_text, peak_bf16_flops, step_info  # noqa: E402
from gpu_check_results import (EXIT_FAILED, EXIT_MISSING, EXIT_NO_CUDA, EXIT_OK, STEPS,  # noqa: E402
                               complete_result, exit_code, format_line, pytest_summary, read_result, step_record,
                               step_summary, write_result)
from gpu_check_smokes import SHAPES, length_reward, step_grpo, step_sft, step_vllm  # noqa: E402

__all__ = ["EXIT_FAILED", "EXIT_MISSING", "EXIT_NO_CUDA", "EXIT_OK", "PEAK_BF16", "SHAPES", "STEPS", "complete_result",
           "exit_code", "format_line", "length_reward", "main", "mfu", "mfu_text", "peak_bf16_flops", "pytest_summary",
           "read_result", "write_result"]


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
