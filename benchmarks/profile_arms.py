"""The arms of benchmarks/bench_profile.py (`--arms`): each arm's overlay on the profile's params, the stage it trains
again and the main run's models it is paired with; which arms a `--arms` value selects; each arm's params (its own
outputs folder, its one model to evaluate) and their check, so a bad overlay stops in one line before any work.

    from profile_arms import ARMS, arm_raw, check_arm, select_arms
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from thinkact import profiles
from thinkact.config import params_from_raw
from thinkact.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


class Arm(NamedTuple):
    overlay: dict   # merged into the profile's params
    trains: str     # the stage it trains again, and so the model it evaluates
    vs: tuple       # the main run's models it is paired with


ARMS = {"base_grpo": Arm({"grpo": {"init": "base"}}, "grpo", ("base", "sft")),
        "think": Arm({"prompt": {"open_think": True, "think_start": "The user wants"}}, "grpo", ("sft", "grpo")),
        "sft_reasoning": Arm({"sft": {"with_reasoning": True}}, "sft", ("sft",))}



def select_arms(text: str) -> list[str]:
    """The comma-separated arm names, in the order given ("" : none); an unknown one stops here."""
    names = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in names if a not in ARMS]
    if unknown:
        raise SystemExit(f"unknown arm(s) {', '.join(unknown)}; arms: {', '.join(ARMS)}")
    return list(dict.fromkeys(names))


def arm_raw(base: dict, arm: str, outputs: str) -> dict:
    """The profile's params with the arm's overlay, its own outputs folder and its one model to evaluate."""
    spec = ARMS[arm]
    raw = profiles.merge(base, spec.overlay)
    raw["paths"] = {**(raw.get("paths") or {}), "outputs": f"{outputs}/arms/{arm}"}
    raw["evaluate"] = {**(raw.get("evaluate") or {}), "models": [spec.trains]}
    return raw


def check_arm(raw: dict, profile: str, arm: str) -> None:
    """Load the arm's params as a stage would: a bad overlay is one line, before any work."""
    try:
        params_from_raw(raw, f"{profiles.params_file(profile).relative_to(ROOT)} + bench_profile.py arm {arm}")
    except ConfigError as e:
        raise SystemExit(f"arm {arm}: {e}") from None
