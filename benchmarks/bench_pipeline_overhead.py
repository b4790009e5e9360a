"""The whole pipeline's wall time against the raw TRL training and generation it contains, in one run.

Clones the committed project into a fresh folder (its own outputs/, DVC cache, MLflow store, Prefect home;
data/ copied from this checkout after its md5 is checked), runs the Prefect flow there (every stage of dvc.yaml,
as README command 1 does) and reads back what the stages measured inside themselves: SFTTrainer.train() and
GRPOTrainer.train() seconds (outputs/<stage>/metrics.json) and generation seconds in evaluate (run.json; in a
fresh clone there is no champion to re-evaluate in register). ratio = wall / raw; the target is <= 1.10.

    python benchmarks/bench_pipeline_overhead.py                 # default params; writes results/pipeline_overhead.json
    python benchmarks/bench_pipeline_overhead.py --keep /tmp/run  # keep the clone to inspect it
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "pipeline_overhead.json"


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def raw_seconds(outputs: Path) -> dict[str, float]:
    """Seconds spent inside the libraries' own training and generation loops, per stage."""
    parts = {"sft_train": _read(outputs / "sft" / "metrics.json").get("seconds", 0.0),
             "grpo_train": _read(outputs / "grpo" / "metrics.json").get("seconds", 0.0),
             "evaluate_generate": sum(_read(outputs / "evaluate" / "run.json").get("generation_seconds", {}).values())}
    return {k: round(float(v or 0.0), 1) for k, v in parts.items()}


def run(workdir: Path) -> dict:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(workdir)], check=True)
    shutil.copytree(ROOT / "data", workdir / "data")
    env = {**os.environ, "PREFECT_HOME": str(workdir / ".prefect"), "PYTHONUNBUFFERED": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("MLFLOW_TRACKING_URI", None)   # the clone's own embedded store
    env.pop("THINKACT_PARAMS", None)
    subprocess.run([sys.executable, "scripts/check_data.py"], cwd=workdir, env=env, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "commit", "-q", "-f", "data.dvc"], cwd=workdir, env=env, check=True)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "flows.pipeline"], cwd=workdir, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"the pipeline failed (exit {proc.returncode}); see the output above")
    raw = raw_seconds(workdir / "outputs")
    total = sum(raw.values())
    return {"wall_seconds": round(wall, 1), "raw_seconds": raw, "raw_total_seconds": round(total, 1),
            "overhead_seconds": round(wall - total, 1), "ratio": round(wall / total, 3) if total else None,
            "target": 1.10, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "load_average_before": os.getloadavg()[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="clone here and keep it (default: a temporary folder, removed)")
    ap.add_argument("--out", type=Path, default=RESULT)
    args = ap.parse_args()
    if args.keep:
        if args.keep.exists():
            raise SystemExit(f"{args.keep} exists; give a new folder")
        result = run(args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="thinkact-bench-") as tmp:
            result = run(Path(tmp) / "project")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
