"""Experiment tracking and the model registry: the ONLY package that imports mlflow (docs/design.md).

- `runs`:     one MLflow run per stage (`stage_run`), a parent run per pipeline run (`pipeline_run`),
              where runs go (`tracking_uri`)
- `context`:  what every run is tagged with (`context_tags`: git, DVC data hash, params md5 and profile)
- `store`:    artifact locations relative to the project in the embedded store (`artifact_anchor`)
- `registry`: registered model versions, aliases and the promotion gate's bookkeeping
- `server`:   the tracking server probed before work (`TrackingUnavailable`), and `redact_uri` / `redact_text`:
              the one way a tracking URI is shown or stored (credentials and token-like query values as ***)

    from thinkact.tracking import stage_run
"""
from thinkact.tracking.context import DATA_DVC_MD5_TAG, PIPELINE_FILES, TRAIN_MD5_TAG, context_tags
from thinkact.tracking.runs import (
    EXPERIMENT,
    PARENT_ENV,
    NullPipelineRun,
    NullRun,
    PipelineRun,
    StageRun,
    flatten,
    pipeline_run,
    stage_run,
    tracking_uri,
)
from thinkact.tracking.server import TrackingUnavailable, redact_text, redact_uri
from thinkact.tracking.store import artifact_anchor

__all__ = ["DATA_DVC_MD5_TAG", "EXPERIMENT", "PARENT_ENV", "PIPELINE_FILES", "TRAIN_MD5_TAG", "NullPipelineRun",
           "NullRun", "PipelineRun", "StageRun", "artifact_anchor", "context_tags", "flatten", "pipeline_run",
           "redact_text", "redact_uri", "stage_run", "tracking_uri", "TrackingUnavailable"]
