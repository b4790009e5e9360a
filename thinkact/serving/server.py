"""uvicorn around the OpenAI app: in the foreground for `thinkact serve`, or in a thread for tests and benchmarks.

    serve("models:/thinkact-agent@champion", params, host="127.0.0.1", port=8000)   # blocks; Ctrl-C stops it
    with running(ServedModel.load("sft", params)) as url:                           # http://127.0.0.1:PORT
        openai.OpenAI(base_url=url + "/v1", api_key="-").chat.completions.create(...)
"""
from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn

from thinkact.distributed import free_port
from thinkact.errors import ThinkactError
from thinkact.models.base import set_cpu_threads
from thinkact.serving.engine import ServedModel
from thinkact.serving.openai_api import create_app

if TYPE_CHECKING:  # the root of params (thinkact.config) composes the layers' sections: a type only here
    from thinkact.config import Params


def check_port(host: str, port: int) -> None:
    """A ThinkactError naming the address when it cannot be listened on (checked before the model loads)."""
    try:
        with socket.create_server((host, port), reuse_port=False) as _:
            pass
    except OSError as e:
        raise ThinkactError(f"cannot listen on {host}:{port} ({e.strerror or e}): pick another --port, or stop "
                            "what holds it") from None


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def serve(spec: str, params: Params, *, host: str = "127.0.0.1", port: int = 8000, log=_stderr) -> None:
    """Load `spec` and answer on http://host:port until interrupted; `log` gets the lines a person reads."""
    check_port(host, port)
    set_cpu_threads(params.evaluate.cpu_threads)  # as evaluation generates (a small model decodes faster on 1 thread)
    log(f"[serve] loading {spec} ...")
    t0 = time.perf_counter()
    served = ServedModel.load(spec, params)
    version = f" (registered {served.info['name']} version {served.info['version']})" if served.info["version"] else ""
    log(f"[serve] {spec}{version} loaded in {time.perf_counter() - t0:.1f} s; OpenAI API at http://{host}:{port}/v1 "
        f"(model name {spec!r}); Ctrl-C stops")
    uvicorn.Server(uvicorn.Config(create_app(served), host=host, port=port, log_level="info")).run()


@contextlib.contextmanager
def running(served: ServedModel, *, host: str = "127.0.0.1", port: int | None = None,
            timeout: float = 30.0) -> Iterator[str]:
    """Serve `served` from a thread of this process while the block runs; yields the base URL once it listens."""
    port = port or free_port(host)
    server = uvicorn.Server(uvicorn.Config(create_app(served), host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="thinkact-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server on {host}:{port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
