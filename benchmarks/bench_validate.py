"""Benchmark: the validate stage on 10,000 examples must take under 10 s here, GX import included.

Generates 10,000 built-in examples (train 7,000, each evaluation split 1,000), then times, each in a fresh
Python process so every import is paid:
  stage   `python -m tasks.validate` on that data (reads, checks, GX suite, data docs, report.json)
  raw GX  import GX, then the same suite on the same DataFrame with batch.validate(): no reading, no
          checkpoint, no data docs, no report (the library work thinkact wraps)
and prints the medians, the ratio stage / raw, and the stage's own phase timings.

    python benchmarks/bench_validate.py [--repeat 3] [--examples 10000]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENV = {**os.environ, "THINKACT_TRACKING": "0", "GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "true",
       "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1"}

RAW_GX = """
import pickle, sys, time
start = time.perf_counter()
import great_expectations as gx
imported = time.perf_counter()
from thinkact.config import load_params
from thinkact.validation.suite import build_expectations
df = pickle.load(open(sys.argv[1], "rb"))
context = gx.get_context(mode="ephemeral")
batch = context.data_sources.add_pandas("raw").add_dataframe_asset("rows") \\
    .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": df})
suite = gx.ExpectationSuite(name="raw", expectations=[e for _, e in build_expectations(load_params().validate, True)])
result_format = {"result_format": "SUMMARY", "unexpected_index_column_names": ["where", "id"]}
result = batch.validate(suite, result_format=result_format)
assert result.success, "raw GX run failed"
print(imported - start, time.perf_counter() - imported)
"""


def _generate(folder: Path, examples: int) -> None:
    from thinkact.config import load_params
    from thinkact.data.writer import write_dataset

    per_eval = examples // 10
    sizes = {"train": examples - 3 * per_eval, "test_id": per_eval, "test_env": per_eval, "test_task": per_eval}
    write_dataset(folder, dataclasses.replace(load_params().data, sizes=sizes))


def _params(tmp: Path, data: Path) -> Path:
    text = (ROOT / "params.yaml").read_text(encoding="utf-8")
    text = text.replace("  data: data ", f"  data: {data} ", 1)
    text = text.replace("  outputs: outputs ", f"  outputs: {tmp / 'outputs'} ", 1)
    path = tmp / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--examples", type=int, default=10_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_validate.") as name:
        tmp = Path(name)
        data = tmp / "data"
        t = time.perf_counter()
        _generate(data, args.examples)
        print(f"generated {args.examples:,} examples in {time.perf_counter() - t:.1f} s "
              f"({sum(f.stat().st_size for f in data.glob('*.jsonl')) / 1e6:.1f} MB)")
        params = _params(tmp, data)
        env = {**ENV, "THINKACT_PARAMS": str(params)}

        from thinkact.validation.rows import frame, read_rows

        frame_file = tmp / "rows.pkl"
        frame_file.write_bytes(pickle.dumps(frame(read_rows(data))))

        stage, raw, raw_import, phases = [], [], [], []
        for i in range(args.repeat):
            t = time.perf_counter()
            run = subprocess.run([sys.executable, "-m", "tasks.validate"], cwd=ROOT, env=env,
                                 capture_output=True, text=True)
            stage.append(time.perf_counter() - t)
            if run.returncode != 0:
                print(run.stdout, run.stderr, sep="\n")
                return 1
            report = json.loads((tmp / "outputs" / "validate" / "report.json").read_text())
            assert report["success"] and report["rows"]["total"] == args.examples, report["rows"]
            phases.append(report["seconds"])
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", RAW_GX, str(frame_file)], cwd=ROOT, env=env,
                                 capture_output=True, text=True, check=True).stdout.split()
            raw.append(time.perf_counter() - t)
            raw_import.append(float(out[0]))
            print(f"run {i + 1}: stage {stage[-1]:.2f} s (validate() {phases[-1]:.2f} s) | "
                  f"raw GX {raw[-1]:.2f} s (import {float(out[0]):.2f} s, suite {float(out[1]):.2f} s)")

    s, r = statistics.median(stage), statistics.median(raw)
    print(f"\n{args.examples:,} examples, median of {args.repeat}:")
    print(f"  stage (python -m tasks.validate, fresh process): {s:.2f} s   limit 10 s: {'PASS' if s < 10 else 'FAIL'}")
    print(f"  raw GX suite on the same DataFrame (fresh process): {r:.2f} s "
          f"(GX import {statistics.median(raw_import):.2f} s)")
    print(f"  ratio stage / raw GX: {s / r:.2f}")
    return 0 if s < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
