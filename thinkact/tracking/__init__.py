"""Experiment tracking and the model registry: the ONLY package that imports mlflow (docs/design.md).

- `runs`:     one MLflow run per stage (`stage_run`), a parent run per pipeline run (`pipeline_run`),
              where runs go (`tracking_uri`)
- `registry`: registered model versions, aliases and the promotion gate's bookkeeping
- `server`:   the tracking server probed before work (`TrackingUnavailable`), and `redact_uri` / `redact_text`:
              the one way a tracking URI is shown or stored (credentials and token-like query values as ***)

    from thinkact.tracking import stage_run
"""
from thinkact.tracking.runs import (
    EXPERIMENT,
    PARENT_ENV,
    NullPipelineRun,
    NullRun,
    PipelineRun,
    StageRun,
    flatten,
    pipeline_run,
    resolved_params,
    stage_run,
    tracking_uri,
)
from thinkact.tracking.server import TrackingUnavailable, redact_text, redact_uri

__all__ = ["EXPERIMENT", "PARENT_ENV", "NullPipelineRun", "NullRun", "PipelineRun", "StageRun", "flatten",
           "pipeline_run", "redact_text", "redact_uri", "resolved_params", "stage_run", "tracking_uri",
           "TrackingUnavailable"]
