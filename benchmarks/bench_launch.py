"""The sft stage on 2 processes (accelerate launch, DDP; gloo on a CPU) against 1 process, same global batch.

Both runs are the real stage (`python -m tasks.sft`) on the quick profile's builtin:tiny with a project of their
own under a temporary folder, the same data and steps; 1 process with `per_device_train_batch_size` B, 2 processes
with B/2 each (the same global batch). Reported: training steps per second of each and their ratio (2 / 1: on 2 CPU
cores expect <= 1; the point of the CPU path is correctness, GPUs are where it scales), and what the launcher adds to
the stage: (wall - training time) with 2 processes minus the same with 1 (target <= 5 s).

    python benchmarks/bench_launch.py            # -> benchmarks/results/launch.json
    python benchmarks/bench_launch.py --steps 60 --batch 16
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from thinkact.io import atomic_write_json  # noqa: E402
from thinkact.profiles import merge  # noqa: E402


def project(folder: Path, steps: int, per_device: int, processes: int) -> Path:
    """params.yaml of the quick profile under `folder` (its own outputs, models cache; no tracking)."""
    raw = merge(yaml.safe_load((ROOT / "params.yaml").read_text()),
                yaml.safe_load((ROOT / "profiles" / "quick.yaml").read_text()))
    raw = merge(raw, {"paths": {"data": str(ROOT / "data"), "outputs": str(folder / "outputs"),
                                "models_cache": str(folder / "models")},
                      "launch": {"num_processes": processes},
                      "sft": {"max_examples": 0, "trainer": {"max_steps": steps, "per_device_train_batch_size": per_device,
                                                             "logging_steps": steps, "save_steps": 10 * steps}}})
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def run_sft(params: Path) -> dict:
    env = {**os.environ, "THINKACT_PARAMS": str(params), "THINKACT_TRACKING": "0"}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tasks.sft"], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stdout[-3000:] + proc.stderr[-3000:])
    metrics = json.loads((params.parent / "outputs" / "sft" / "metrics.json").read_text())
    return {"wall_s": round(wall, 2), "train_s": metrics["seconds"], "steps": metrics["steps"],
            "steps_per_s": round(metrics["steps"] / metrics["seconds"], 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=16, help="global batch (per process: batch / processes)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "launch.json")
    args = parser.parse_args(argv)
    runs = {}
    with tempfile.TemporaryDirectory(prefix="thinkact-launch-") as tmp:
        for n in (1, 2):
            folder = Path(tmp) / f"p{n}"
            folder.mkdir()
            run_sft(project(folder, 2, args.batch // n, n))   # builds the tiny model into its cache: not timed
            runs[n] = run_sft(project(folder, args.steps, args.batch // n, n))
    overhead = (runs[2]["wall_s"] - runs[2]["train_s"]) - (runs[1]["wall_s"] - runs[1]["train_s"])
    record = {"date": str(date.today()), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "command": "python benchmarks/bench_launch.py " + " ".join(argv or sys.argv[1:]),
              "global_batch": args.batch, "steps": args.steps, "one_process": runs[1], "two_processes": runs[2],
              "steps_per_s_ratio_2_over_1": round(runs[2]["steps_per_s"] / runs[1]["steps_per_s"], 3),
              "launcher_overhead_s": round(overhead, 2), "launcher_overhead_target_s": 5.0,
              "within_target": overhead <= 5.0}
    atomic_write_json(args.out, record)
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
