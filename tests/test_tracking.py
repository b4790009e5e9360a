"""Tracking: one experiment, a parent run per pipeline run with the stage runs as its children, standalone stage
runs outside a pipeline, the context tags (git commit and whether the USER's tree is dirty, DVC's hash of data/,
params md5) on every run, and data files as MLflow dataset inputs."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import asdict

import pytest
import yaml

from conftest import new_mlflow_store, write_params
from thinkact.config import load_params
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
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    (tmp_path / ".gitignore").write_text("/outputs/\n/mlflow/\n/data\n/mlflow.db\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*GIT, "add", "params.yaml", "data.dvc", "dvc.lock", ".gitignore"], cwd=tmp_path, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "init"], cwd=tmp_path, check=True)
    monkeypatch.setenv("THINKACT_PARAMS", str(params))
    monkeypatch.setenv("THINKACT_TRACKING", "1")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", new_mlflow_store(tmp_path / "mlflow.db"))
    monkeypatch.delenv(PARENT_ENV, raising=False)
    return tmp_path


def _client():
    import os

    from mlflow.tracking import MlflowClient

    return MlflowClient(os.environ["MLFLOW_TRACKING_URI"])


def _resolved(project):
    """What the flow passes: the loaded (so checked) params as a mapping."""
    return asdict(load_params(project / "params.yaml"))


def _runs(client):
    exp = client.get_experiment_by_name(EXPERIMENT)
    return {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}


def test_parent_run_with_stage_children_and_tags(project, monkeypatch):
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    params_md5 = hashlib.md5((project / "params.yaml").read_bytes()).hexdigest()
    with pipeline_run(project, _resolved(project), tags={"prefect.flow_run_id": "fr-1"}) as parent:
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
        assert run.data.tags["thinkact.git_dirty"] == "false" and "thinkact.git_dirty_paths" not in run.data.tags
        assert run.data.tags["thinkact.data_dvc_md5"] == "abc123.dir"   # DVC's hash of data/, named for what it is
        assert "thinkact.data_md5" not in run.data.tags                  # (was a second meaning of "data md5")
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
    with pytest.raises(RuntimeError), pipeline_run(project, _resolved(project)):
        raise RuntimeError("stage failed")
    assert _runs(_client())["pipeline"].info.status == "FAILED"


def test_bad_params_fail_before_any_run(project):
    (project / "params.yaml").write_text((project / "params.yaml").read_text().replace("max_examples", "max_exampels", 1))
    with pytest.raises(ConfigError, match="max_exampels"), pipeline_run(project, _resolved(project)):
        pass
    assert _client().get_experiment_by_name(EXPERIMENT) is None


def test_tracking_off_and_default_store(project, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.delenv("THINKACT_PARAMS")
    assert tracking_uri(project) == f"sqlite:///{project / 'mlflow' / 'mlflow.db'}"
    monkeypatch.setenv("THINKACT_TRACKING", "0")
    with pipeline_run(project, _resolved(project)) as parent:
        assert isinstance(parent, NullPipelineRun) and parent.child_env() == {}
        parent.log_text("x", "x.md")
    assert not (project / "mlflow").exists()


def test_git_dirty_is_the_users_tree_not_the_pipelines_own_writes(project, monkeypatch):
    """Issue #15 item 4: a fresh clone after `dvc repro` was tagged dirty because every finished stage rewrites
    dvc.lock. dvc.lock and git-ignored outputs (outputs/, mlflow/) are the pipeline's; any other tracked change is
    the user's, and the tag names it."""
    from thinkact.tracking.runs import context_tags

    (project / "dvc.lock").write_text("schema: '2.0'\nstages: {sft: {cmd: python -m tasks.sft}}\n")  # DVC's rewrite
    (project / "outputs" / "sft").mkdir(parents=True)
    (project / "outputs" / "sft" / "metrics.json").write_text("{}")
    (project / "mlflow").mkdir()
    (project / "mlflow" / "mlflow.db").write_text("")
    subprocess.run([*GIT, "add", "dvc.lock"], cwd=project, check=True)  # staged or not: the same
    tags = context_tags(project)
    assert tags["thinkact.git_dirty"] == "false" and "thinkact.git_dirty_paths" not in tags
    with stage_run("sft") as run:  # the same tags on the stage runs (and registered versions: context_tags too)
        pass
    assert _client().get_run(run.run_id).data.tags["thinkact.git_dirty"] == "false"

    (project / "data.dvc").write_text(yaml.safe_dump({"outs": [{"md5": "def456.dir", "path": "data"}]}))  # the user's
    tags = context_tags(project)
    assert tags["thinkact.git_dirty"] == "true" and tags["thinkact.git_dirty_paths"] == "data.dvc"
    assert tags["thinkact.data_dvc_md5"] == "def456.dir"


def test_data_files_are_logged_as_dataset_inputs_with_their_md5(project):
    """The run page lists the data a stage read, each with its md5 and path (relative to the project), without
    the file being parsed: the evaluation splits here, the train split on the sft / grpo runs (test_lineage)."""
    from thinkact.io import file_md5

    data = project / "data"
    data.mkdir()
    for split in ("test_id", "test_env"):
        (data / f"{split}.jsonl").write_text(f'{{"id": "{split}-1"}}\n')
    with stage_run("evaluate") as run:
        run.log_datasets({s: data / f"{s}.jsonl" for s in ("test_id", "test_env")}, context="evaluation",
                         digests={"test_env": "0" * 32})
    inputs = _client().get_run(run.run_id).inputs.dataset_inputs
    found = {i.dataset.name: (i.dataset.digest, yaml.safe_load(i.dataset.source)["uri"], i.dataset.source_type,
                              {t.key: t.value for t in i.tags}["mlflow.data.context"]) for i in inputs}
    assert found == {"test_id": (file_md5(data / "test_id.jsonl"), "data/test_id.jsonl", "local", "evaluation"),
                     "test_env": ("0" * 32, "data/test_env.jsonl", "local", "evaluation")}
