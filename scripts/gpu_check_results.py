"""scripts/gpu-check.sh's bookkeeping (scripts/gpu_check.py): each step's JSON result, completed from its exit code and
log (a timeout, a crash, pytest's summary line) by `record`, and the final JSON with the script's exit code written
by `summary`. Only the standard library: these start fast.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_MISSING, EXIT_NO_CUDA = 0, 1, 2, 3
STEPS = ("gpu", "gpu_tests", "sft", "grpo", "vllm", "sft_2proc")  # the order of the summary


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
