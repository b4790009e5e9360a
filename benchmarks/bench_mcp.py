"""What an MCP tool call costs: thinkact's McpTools against the raw SDK session and against calling the function.

The server is tests/fixtures/mcp_server_fixture.py (the `mcp` SDK's MCPServer) over stdio, the tool its `add(a, b)`,
so the figures are the protocol's and the client's, not the tool's. Three ways, `--calls` timed calls each (after
`--warmup` untimed), in one run on the same machine:

- direct: the Python function itself, its result written as a tool message (thinkact.tools.base.result_text);
- raw SDK: `await session.call_tool(...)` on a `ClientSession` over `stdio_client`, inside one asyncio loop (the
  library on its own: no thread, no result text);
- McpTools: `McpTools.run(...)` from a plain thread (the session on its background loop, the result text).

Reported per way: the median and the 90th percentile (ms per call); McpTools' added milliseconds per call over the
direct call (issue #26's budget: <= 20 ms) and over the raw SDK, and its ratio to the raw SDK (medians).

    python benchmarks/bench_mcp.py                      # -> benchmarks/results/mcp.json
    python benchmarks/bench_mcp.py --calls 1000
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import platform
import shlex
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcp import ClientSession, StdioServerParameters, stdio_client  # noqa: E402

from thinkact.io import atomic_write_json  # noqa: E402
from thinkact.tools.base import result_text  # noqa: E402
from thinkact.tools.mcp_tools import McpTools  # noqa: E402

SERVER = ROOT / "tests" / "fixtures" / "mcp_server_fixture.py"
BUDGET_ADDED_MS = 20.0


def figures(seconds: list[float]) -> dict:
    ms = sorted(s * 1000 for s in seconds)
    return {"median_ms": round(statistics.median(ms), 3), "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 3),
            "calls": len(ms)}


def timed(call, n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        call(i)
        out.append(time.perf_counter() - t0)
    return out


def direct(calls: int, warmup: int) -> list[float]:
    spec = importlib.util.spec_from_file_location("mcp_server_fixture", SERVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    timed(lambda i: result_text(module.add(i, 1), "add"), warmup)
    return timed(lambda i: result_text(module.add(i, 1), "add"), calls)


async def raw_sdk(calls: int, warmup: int) -> list[float]:
    server = StdioServerParameters(command=sys.executable, args=[str(SERVER)], env=dict(os.environ))
    with open(os.devnull, "w") as quiet:
        async with stdio_client(server, errlog=quiet) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            await session.list_tools()
            out = []
            for i in range(warmup + calls):
                t0 = time.perf_counter()
                await session.call_tool("add", {"a": i, "b": 1}, read_timeout_seconds=10)
                out.append(time.perf_counter() - t0)
    return out[warmup:]


def mcp_tools(calls: int, warmup: int) -> list[float]:
    with McpTools(command=f"{shlex.quote(sys.executable)} {shlex.quote(str(SERVER))}", timeout_s=10) as tools:
        timed(lambda i: tools.run("add", {"a": i, "b": 1}), warmup)
        return timed(lambda i: tools.run("add", {"a": i, "b": 1}), calls)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "mcp.json")
    args = parser.parse_args(argv)
    ways = {"direct": figures(direct(args.calls, args.warmup)),
            "raw_sdk": figures(asyncio.run(raw_sdk(args.calls, args.warmup))),
            "mcp_tools": figures(mcp_tools(args.calls, args.warmup))}
    added = ways["mcp_tools"]["median_ms"] - ways["direct"]["median_ms"]
    command = "python benchmarks/bench_mcp.py " + " ".join(argv if argv is not None else sys.argv[1:])
    record = {"date": str(date.today()), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "load_average": [round(x, 2) for x in os.getloadavg()],
              "command": command.strip(),
              "transport": "stdio", "tool": "add(a, b) of tests/fixtures/mcp_server_fixture.py", **ways,
              "added_ms_per_call_over_direct": round(added, 3),
              "added_ms_per_call_over_raw_sdk": round(ways["mcp_tools"]["median_ms"] - ways["raw_sdk"]["median_ms"], 3),
              "ratio_mcp_tools_over_raw_sdk": round(ways["mcp_tools"]["median_ms"] / ways["raw_sdk"]["median_ms"], 3),
              "budget_added_ms": BUDGET_ADDED_MS, "within_budget": added <= BUDGET_ADDED_MS}
    atomic_write_json(args.out, record)
    print(f"direct {ways['direct']['median_ms']} ms, raw SDK {ways['raw_sdk']['median_ms']} ms (p90 "
          f"{ways['raw_sdk']['p90_ms']}), McpTools {ways['mcp_tools']['median_ms']} ms (p90 "
          f"{ways['mcp_tools']['p90_ms']}): +{added:.2f} ms per call over direct (budget {BUDGET_ADDED_MS:g}), "
          f"x{record['ratio_mcp_tools_over_raw_sdk']} the raw SDK -> {args.out}")
    return 0 if record["within_budget"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
