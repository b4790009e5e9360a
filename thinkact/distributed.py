"""Several processes per stage: who is main, how work is split and gathered, and the `accelerate launch` command.

A training or evaluation stage with `launch.num_processes` > 1 re-runs itself under `accelerate launch` (DDP: gloo
on CPUs, NCCL on GPUs; or the accelerate config file `launch.config_file` names, for FSDP / DeepSpeed). Inside,
every process reads the same params; only the main process (rank 0) opens MLflow runs, writes `outputs/`, saves
the final model, writes samples and plots and registers; the others train (TRL and accelerate keep them in step)
or generate their slice of the evaluation and wait. With one process every function here is a no-op.

    from thinkact import distributed
    if distributed.is_main(): ...
    completions = distributed.shard_map(examples, generate)   # each rank its slice; everyone gets all, in order
"""
from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional, TypeVar

from thinkact.errors import ConfigError
from thinkact.project import PROJECT_ROOT

@dataclass(frozen=True)
class LaunchParams:
    """The `launch:` section of params.yaml: how many processes run the sft, grpo and evaluate stages: 1 is a plain
    python process; more re-run the stage under `accelerate launch` (DDP, or the accelerate config `config_file`
    names: FSDP, DeepSpeed ZeRO); `timeout_s` bounds how long a process waits for the others."""

    num_processes: int = 1
    config_file: Optional[str] = None
    timeout_s: int = 1800

    def __post_init__(self):
        if self.num_processes < 1:
            raise ConfigError("launch.num_processes", "must be >= 1 (1: one plain process)")
        if self.config_file is not None and (not self.config_file.strip() or "\0" in self.config_file):
            raise ConfigError("launch.config_file", f"must be a file path or null, not {self.config_file!r}")
        if self.config_file is not None and not (Path(self.config_file).is_file()
                                                 or (PROJECT_ROOT / self.config_file).is_file()):
            raise ConfigError("launch.config_file", f"{self.config_file} does not exist (an accelerate config file: "
                                                    "e.g. configs/accelerate/zero2.yaml, or null for DDP)")
        if not 10 <= self.timeout_s <= 86400:
            raise ConfigError("launch.timeout_s", "must be in [10, 86400] seconds")


LAUNCHED_ENV = "THINKACT_LAUNCHED"   # set for the processes `accelerate launch` starts for a stage
T = TypeVar("T")
R = TypeVar("R")


def rank() -> int:
    """This process's global rank (0 without a launcher)."""
    return int(os.environ.get("RANK", "0") or 0)


def world_size() -> int:
    """How many processes run this stage (1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def is_main() -> bool:
    """Whether this process is the one that writes, logs and registers (rank 0)."""
    return rank() == 0


def launched() -> bool:
    """Whether this process was started by the stage's `accelerate launch` (one of several)."""
    return os.environ.get(LAUNCHED_ENV) == "1" and world_size() > 1


def state(timeout_s: float | None = None) -> Any:
    """accelerate's PartialState for this process (gloo on a CPU), created once; None with one process."""
    if world_size() <= 1:
        return None
    import torch
    from accelerate import PartialState

    kwargs = {"cpu": not torch.cuda.is_available()}
    if timeout_s:
        kwargs["timeout"] = timedelta(seconds=timeout_s)
    return PartialState(**kwargs)


def barrier() -> None:
    """Wait for every process (no-op with one)."""
    s = state()
    if s is not None:
        s.wait_for_everyone()


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """The main process runs the block first (e.g. builds a cached model folder); the others wait, then run it
    (finding the work done). Every process must enter it; a no-op with one process."""
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def shard_map(items: Sequence[T], fn: Callable[[list[T]], list[R]]) -> list[R]:
    """fn over `items`, split among the processes in contiguous slices (rank order), the results gathered to every
    process in the items' order; fn(items) itself with one process. fn must return one result per item."""
    items = list(items)
    n = world_size()
    if n <= 1:
        return fn(items)
    from accelerate.utils import gather_object

    r = rank()
    bounds = [len(items) * i // n for i in range(n + 1)]
    local = fn(items[bounds[r]:bounds[r + 1]]) if bounds[r] < bounds[r + 1] else []
    if len(local) != bounds[r + 1] - bounds[r]:
        raise RuntimeError(f"rank {r}: {len(local)} results for {bounds[r + 1] - bounds[r]} items")
    state()  # the process group gather_object uses
    return list(gather_object(local))


def check_launch(num_processes: int, config_file: str | None, source: str | None = None) -> None:
    """A launch that cannot work stops here, naming the key, before any model loads: more processes than GPUs (or
    CPU cores without a GPU), a config file that is missing, FSDP or DeepSpeed asked on a machine without CUDA."""
    import torch

    cuda = torch.cuda.is_available()
    devices = torch.cuda.device_count() if cuda else (os.cpu_count() or 1)
    what = "GPUs" if cuda else "CPU cores (no CUDA GPU)"
    config = _read_config(config_file, source) if config_file is not None else {}
    machines = int(config.get("num_machines", 1) or 1)   # several nodes: num_processes counts all of them
    if num_processes > devices * machines:
        where = "this machine has" if machines == 1 else f"{machines} machines of this one's size have"
        raise ConfigError("launch.num_processes", f"{num_processes} processes but {where} {devices * machines} "
                                                  f"{what}; use at most {devices * machines}", source)
    if config_file is None:
        return
    kind = str(config.get("distributed_type", "")).upper()
    if kind in ("FSDP", "DEEPSPEED") and not cuda:
        raise ConfigError("launch.config_file", f"{config_file} asks for {kind}, which needs CUDA GPUs; this machine "
                                                "has none (use launch.config_file: null for DDP on CPUs)", source)
    stage = (config.get("deepspeed_config") or {}).get("zero_stage") if kind == "DEEPSPEED" else None
    if kind == "FSDP" or (stage is not None and int(stage) >= 3):
        raise ConfigError("launch.config_file", f"{config_file} shards the model itself ({kind}"
                                                f"{f' ZeRO-{stage}' if stage else ''}); the stages save the final model "
                                                "from the main process, which needs it whole: use DDP (null) or "
                                                "configs/accelerate/zero2.yaml", source)


def _read_config(config_file: str, source: str | None) -> dict[str, Any]:
    import yaml

    path = Path(config_file)
    if not path.is_file():
        raise ConfigError("launch.config_file", f"{config_file} does not exist (an accelerate config: `accelerate "
                                                "config --config_file FILE` writes one)", source)
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError("launch.config_file", f"{config_file} is not valid YAML: {e}", source) from None
    if not isinstance(config, dict):
        raise ConfigError("launch.config_file", f"{config_file} is not an accelerate config (a mapping)", source)
    return config


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS picks it): for a launch's rendezvous, a server, a test's server."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def launch_command(module: str, num_processes: int, config_file: str | None) -> list[str]:
    """`accelerate launch` of `python -m module` on `num_processes` processes: of this machine (DDP), or as the
    accelerate config file says (several machines: its num_machines, machine_rank, main_process_ip/port)."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(num_processes)]
    if config_file:
        cmd += ["--config_file", config_file]
    else:  # DDP on this machine; accelerate's torchrun path also starts several CPU processes (gloo) without a GPU
        cmd += ["--multi_gpu", "--num_machines", "1", "--main_process_port", str(free_port()),
                "--mixed_precision", "no", "--dynamo_backend", "no"]
    return cmd + ["-m", module]
