"""Tracking: one experiment, a parent run per pipeline run with the stage runs as its children, standalone stage
runs outside a pipeline, and the context tags (git commit, DVC data md5, params md5) on every run."""
from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest
import yaml

from conftest import write_params
from thinkact.errors import ConfigError
from thinkact.tracking import (
    EXPERIMENT,
    PARENT_ENV,
    NullPipelineRun,
    PipelineRun,
    pipeline_run,
    stage_run,
    tracking_uri,
)

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory):
    """An empty, migrated MLflow sqlite store (creating one takes ~5 s; each test gets a copy)."""
    from mlflow.tracking import MlflowClient

    db = tmp_path_factory.mktemp("store") / "mlflow.db"
    MlflowClient(f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture
def project(tmp_path, monkeypatch, empty_store):
    """A git repo with a quick params.yaml and a data.dvc; runs go to a sqlite store in it."""
    shutil.copy(empty_store, tmp_path / "mlflow.db")
    params = write_params(tmp_path)
    (tmp_path / "data.dvc").write_text(yaml.safe_dump({"outs": [{"md5": "abc123.dir", "path": "data"}]}))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*GIT, "add", "params.yaml", "data.dvc"], cwd=tmp_path, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "init"], cwd=tmp_path, check=True)
    monkeypatch.setenv("THINKACT_PARAMS", str(params))
    monkeypatch.setenv("THINKACT_TRACKING", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv(PARENT_ENV, raising=False)
    return tmp_path


def _client():
    import os

    from mlflow.tracking import MlflowClient

    return MlflowClient(os.environ["MLFLOW_TRACKING_URI"])


def _runs(client):
    exp = client.get_experiment_by_name(EXPERIMENT)
    return {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}


def test_parent_run_with_stage_children_and_tags(project, monkeypatch):
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    params_md5 = hashlib.md5((project / "params.yaml").read_bytes()).hexdigest()
    with pipeline_run(project, tags={"prefect.flow_run_id": "fr-1"}) as parent:
        assert isinstance(parent, PipelineRun)
        env = parent.child_env()
        assert env == {PARENT_ENV: parent.run_id, "MLFLOW_TRACKING_URI": tracking_uri(project)}
        monkeypatch.setenv(PARENT_ENV, env[PARENT_ENV])  # what the flow passes to a stage process
        with stage_run("validate", params={"validate": {"show_ids": 3}}) as child:
            child.log_metrics({"rows_total": 10})
        parent.log_text("# summary", "summary.md")
    client = _client()
    runs = _runs(client)
    assert set(runs) == {"pipeline", "validate"}
    p, c = runs["pipeline"], runs["validate"]
    assert c.data.tags["mlflow.parentRunId"] == p.info.run_id and "mlflow.parentRunId" not in p.data.tags
    for run in (p, c):
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.source.git.commit"] == commit
        assert run.data.tags["thinkact.git_dirty"] == "false"
        assert run.data.tags["thinkact.data_md5"] == "abc123.dir"
        assert run.data.tags["thinkact.params_md5"] == params_md5
    assert p.data.tags["prefect.flow_run_id"] == "fr-1"
    # every resolved section, once, on the parent; the child keeps only what its stage logs
    sections = {k.split(".")[0] for k in p.data.params}
    assert {"paths", "data", "validate", "model", "sft", "grpo", "evaluate", "register", "schedule"} <= sections
    assert p.data.params["sft.trainer.max_steps"] == "6" and p.data.params["schedule.cron"]
    assert set(c.data.params) == {"validate.show_ids"}
    assert {a.path for a in client.list_artifacts(p.info.run_id)} >= {"params.yaml", "summary.md"}


def test_stage_run_outside_a_pipeline_stands_alone(project):
    with stage_run("sft") as run:
        run.log_metrics({"loss": 1.0})
    (found,) = _runs(_client()).values()
    assert "mlflow.parentRunId" not in found.data.tags and found.data.tags["thinkact.stage"] == "sft"


def test_failed_pipeline_marks_the_parent_failed(project):
    with pytest.raises(RuntimeError), pipeline_run(project):
        raise RuntimeError("stage failed")
    assert _runs(_client())["pipeline"].info.status == "FAILED"


def test_bad_params_fail_before_any_run(project):
    (project / "params.yaml").write_text((project / "params.yaml").read_text().replace("max_examples", "max_exampels", 1))
    with pytest.raises(ConfigError, match="max_exampels"), pipeline_run(project):
        pass
    assert _client().get_experiment_by_name(EXPERIMENT) is None


def test_tracking_off_and_default_store(project, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.delenv("THINKACT_PARAMS")
    assert tracking_uri(project) == f"sqlite:///{project / 'mlflow' / 'mlflow.db'}"
    monkeypatch.setenv("THINKACT_TRACKING", "0")
    with pipeline_run(project) as parent:
        assert isinstance(parent, NullPipelineRun) and parent.child_env() == {}
        parent.log_text("x", "x.md")
    assert not (project / "mlflow").exists()
