"""Shared fixtures. Every test runs offline with telemetry off and never writes into the repo's mlflow/."""
from __future__ import annotations

import os
from pathlib import Path

for _key, _value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                     "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "DVC_NO_ANALYTICS": "1",
                     "GX_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                     "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ[_key] = _value

import pytest  # noqa: E402
import yaml  # noqa: E402

from thinkact.project import PROJECT_ROOT  # noqa: E402
from thinkact.config import load_params


def pytest_collection_modifyitems(config, items):
    """GPU tests are skipped where no CUDA device is present (CI never has one)."""
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if not has_gpu:
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _mlflow_globals_restored():
    """mlflow keeps process-wide tracking/registry URIs and an active experiment: whatever a test sets there is
    undone after it, so no later test talks to a stale store."""
    from thinkact.tracking.model_registry import mlflow_globals_kept

    with mlflow_globals_kept():
        yield


@pytest.fixture(scope="session")
def params():
    return load_params(PROJECT_ROOT / "params.yaml")


@pytest.fixture(scope="session")
def builtin_data(tmp_path_factory, params):
    """The built-in data set with the default params, generated once per test session."""
    from thinkact.data.writer import write_dataset

    out = tmp_path_factory.mktemp("builtin") / "data"
    write_dataset(out, params.data)
    return out


@pytest.fixture(scope="session")
def builtin_examples(builtin_data):
    from thinkact.contract import SPLITS, read_jsonl

    return {split: read_jsonl(builtin_data / f"{split}.jsonl") for split in SPLITS}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(base.get(key) or {}, value) if isinstance(value, dict) else value
    return out


# The quick profile (profiles/quick.yaml: builtin:tiny at its smallest, a few steps of each stage) with a data set
# of its own for the tests: a few hundred examples, generated in seconds. Its own registry name is left out: every
# test has a registry of its own, and the tests name the project's model, thinkact-agent.
QUICK = _merge({k: v for k, v in yaml.safe_load((PROJECT_ROOT / "profiles" / "quick.yaml").read_text()).items()
                if k != "register"},
               {"data": {"sizes": {"train": 240, "test_id": 60, "test_env": 60, "test_task": 60}}})


def write_params(folder, overrides: dict | None = None):
    """params.yaml with the quick profile (and `overrides`), writing under `folder`; returns its path."""
    raw = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    raw = _merge(raw, QUICK)
    raw["paths"] = {**raw["paths"], "data": str(folder / "data"), "outputs": str(folder / "outputs"),
                    "models_cache": str(folder / "models")}
    raw = _merge(raw, overrides or {})
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def save_untrained(params, *stages: str) -> None:
    """The quick base model, untrained, saved where the given stages (sft, grpo) write theirs: a starting point for
    GRPO or models to evaluate, without training them."""
    from thinkact.contract import read_jsonl
    from thinkact.models.base import load_base

    model, tokenizer = load_base(params, read_jsonl(Path(params.paths.data) / "train.jsonl"))
    for stage in stages:
        folder = params.paths.stage_dir(stage) / "model"
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)


def make_project(tmp_path, monkeypatch, overrides: dict | None = None, models: tuple[str, ...] = ()):
    """A quick-profile project under tmp_path (params.yaml with `overrides`, its own data, outputs, model cache and
    MLflow store, THINKACT_PARAMS pointing at it), with untrained quick models saved as the `models` stages'."""
    from thinkact.data.writer import write_dataset

    path = write_params(tmp_path, overrides)
    monkeypatch.setenv("THINKACT_PARAMS", str(path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    params = load_params(path)
    write_dataset(params.paths.data, params.data)
    save_untrained(params, *models)
    return params


@pytest.fixture
def quick_project(tmp_path, monkeypatch):
    """A quick-profile params.yaml with its own data, outputs, model cache and MLflow store under tmp_path."""
    return make_project(tmp_path, monkeypatch)


@pytest.fixture
def no_tracking(monkeypatch):
    """Tracking off unless a test turns it on with a temporary store: never the repo's mlflow/."""
    monkeypatch.setenv("THINKACT_TRACKING", "0")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
