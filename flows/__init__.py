"""Prefect flows: compose the DVC stages, schedules and promotion (flows -> tasks -> thinkact)."""
