"""Training cores for the `sft` and `grpo` stages (pure library code: no Prefect, no DVC)."""
