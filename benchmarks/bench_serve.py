"""`thinkact serve` under load: first-token latency once the server is ready, and completions per second with
concurrent clients on short requests (issue #26's budgets: first token <= 2 s, >= 20 completions/s with 4 clients).

A real `thinkact serve --model SPEC` is started as its own process on a free loopback port (the champion by
default: run it from the project root, where the MLflow store is) and polled until /health answers (`ready_s`).
Then:
- first token: streamed requests (`stream: true`) one after another; the time from sending to the first SSE event
  that carries reasoning, a tool call or content, and to the stream's end (`reply_s_median`). The first request
  after ready is reported on its own. Streams are token by token: the first such event carries the first generated
  token of the reasoning or the answer (a tool call is sent whole at the end: for a call after an empty think
  block the two times are close). A record without `reply_s_median` predates token-by-token streaming: its first event came with the whole
  reply.
- throughput: `--clients` threads, each sending non-streamed requests back to back until `--requests` are answered;
  completions per second over the wall time, and the latency median and 95th percentile.
Short requests: the conversations and tools of the first `--examples` examples of `--data` (default
`<paths.data>/test_id.jsonl`, the split the model was trained for: its replies are 20-60 tokens), in turn,
max_tokens 64. The mean completion length is reported with the numbers, and the machine's load average: on a CPU
that other work is using, every figure is slower than the machine's own.

    python benchmarks/bench_serve.py                                  # the champion -> benchmarks/results/serve.json
    python benchmarks/bench_serve.py --model outputs/sft/model --requests 200
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from thinkact.config import load_params  # noqa: E402
from thinkact.contract import read_jsonl  # noqa: E402
from thinkact.io import atomic_write_json  # noqa: E402
from thinkact.serving.server import free_port  # noqa: E402

BUDGET_FIRST_TOKEN_S, BUDGET_COMPLETIONS_PER_S = 2.0, 20.0


def request_bodies(data: Path, model: str, n: int) -> list[dict]:
    """Chat requests with the conversations and tools of the first `n` examples of a contract file."""
    return [{"model": model, "messages": ex.messages, "tools": ex.tools, "max_tokens": 64}
            for ex in read_jsonl(data)[:n]]


def start_server(model: str, port: int, log: Path, timeout: float) -> tuple[subprocess.Popen, float]:
    """`thinkact serve` in its own process; (the process, seconds until /health answered)."""
    t0 = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "thinkact.cli", "serve", "--model", model, "--port", str(port)],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"thinkact serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc, time.monotonic() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"thinkact serve not ready in {timeout} s:\n{log.read_text()[-3000:]}")


def first_token_s(client: httpx.Client, url: str, body: dict) -> tuple[float, float]:
    """Seconds from sending a streamed request to its first event with reasoning, a tool call or content, and to its
    `data: [DONE]`."""
    t0, first = time.perf_counter(), None
    with client.stream("POST", f"{url}/v1/chat/completions", json={**body, "stream": True}) as answer:
        answer.raise_for_status()
        for line in answer.iter_lines():
            if first is None and line.startswith("data: {"):
                delta = (json.loads(line[6:]).get("choices") or [{}])[0].get("delta") or {}
                if delta.get("reasoning_content") or delta.get("tool_calls") or delta.get("content"):
                    first = time.perf_counter() - t0
            elif line == "data: [DONE]":
                break
    if first is None:
        raise RuntimeError("the stream ended without a token")
    return first, time.perf_counter() - t0


def throughput(url: str, bodies: list[dict], clients: int, requests: int) -> dict:
    """`clients` threads sending requests back to back until `requests` are answered."""
    latencies: list[float] = []
    tokens: list[int] = []
    left = [requests]
    lock = threading.Lock()

    def client_loop() -> None:
        with httpx.Client(timeout=120) as client:
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                    body = bodies[left[0] % len(bodies)]
                t0 = time.perf_counter()
                answer = client.post(f"{url}/v1/chat/completions", json=body)
                answer.raise_for_status()
                with lock:
                    latencies.append(time.perf_counter() - t0)
                    tokens.append(answer.json()["usage"]["completion_tokens"])

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {"clients": clients, "requests": requests, "wall_s": round(wall, 2),
            "completions_per_s": round(requests / wall, 2), "completion_tokens_mean": round(statistics.mean(tokens), 1),
            "latency_p50_s": round(statistics.median(latencies), 3),
            "latency_p95_s": round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models:/thinkact-agent@champion", help="what `thinkact serve` serves")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=100, help="requests answered in the throughput run")
    parser.add_argument("--first-token-runs", type=int, default=5)
    parser.add_argument("--data", type=Path, default=None, help="contract JSONL of the requests (default: "
                                                                 "<paths.data>/test_id.jsonl)")
    parser.add_argument("--examples", type=int, default=20, help="distinct requests taken from --data")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serve.json")
    args = parser.parse_args(argv)
    data = args.data or Path(load_params().paths.data) / "test_id.jsonl"
    bodies = request_bodies(data, args.model, args.examples)
    port, load_before = free_port(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="thinkact-bench-serve-") as tmp:
        proc, ready = start_server(args.model, port, Path(tmp) / "serve.log", timeout=300)
        url = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(timeout=120) as client:
                streams = [first_token_s(client, url, bodies[i % len(bodies)]) for i in range(args.first_token_runs)]
                first, whole = [f for f, _ in streams], [w for _, w in streams]
            load = throughput(url, bodies, args.clients, args.requests)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    record = {"date": str(date.today()), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "load_average_1m_before": round(load_before[0], 2), "load_average_1m_after": round(os.getloadavg()[0], 2),
              "command": "python benchmarks/bench_serve.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "model": args.model, "data": str(data), "examples": len(bodies), "ready_s": round(ready, 2),
              "first_token_s": {"first_request": round(first[0], 3), "median": round(statistics.median(first), 3),
                                "reply_s_median": round(statistics.median(whole), 3), "runs": len(first)},
              "throughput": load,
              "budgets": {"first_token_s": BUDGET_FIRST_TOKEN_S, "completions_per_s": BUDGET_COMPLETIONS_PER_S},
              "within_budgets": {"first_token": first[0] <= BUDGET_FIRST_TOKEN_S,
                                 "completions_per_s": load["completions_per_s"] >= BUDGET_COMPLETIONS_PER_S}}
    atomic_write_json(args.out, record)
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
