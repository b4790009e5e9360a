"""Promotion: whether a challenger becomes the registered `@champion`.

`gate` is the pure decision (per-example scores in, a Decision out); `promote` runs it against the MLflow registry
for the register stage, `promote_challenger` / `promote_version` for `thinkact promote` (re-run, rollback).

    from thinkact.promotion import promote
    decision = promote(registry, challenger_version, params, local=predictions_folder)
"""
from thinkact.promotion.champion import promote, promote_challenger, promote_version
from thinkact.promotion.gate import Decision, forced, gate

__all__ = ["Decision", "forced", "gate", "promote", "promote_challenger", "promote_version"]
