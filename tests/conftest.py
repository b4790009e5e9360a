"""Shared fixtures. Every test runs offline with telemetry off and never writes into the repo's mlflow/ or
.prefect/ (nor reads them: a checkout where the pipeline has run holds both)."""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

for _key, _value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                     "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "DVC_NO_ANALYTICS": "1",
                     "GX_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                     "TOKENIZERS_PARALLELISM": "false",
                     # the MLflow servers the tests start run no job runner: its huey consumers (MLflow's GenAI
                     # jobs, which nothing here uses) cost each server ~12 CPU-seconds and 10 s to stop
                     "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}.items():
    os.environ[_key] = _value
# Prefect's home (profiles, memo store, its ephemeral database) is one of this test process's own, not the
# checkout's .prefect/ that scripts/env.sh names; tests that start a Prefect server give it one of its own too.
_PREFECT_HOME = os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="thinkact-tests-prefect-")

import pytest  # noqa: E402
import yaml  # noqa: E402

from thinkact.project import PROJECT_ROOT  # noqa: E402
from thinkact.config import load_params


# scripts/run-tests.sh runs the suite on worker processes (pytest-xdist, `--dist loadfile --no-loadscope-reorder`):
# a test module is one unit of work, so the tests that share a module-scoped fixture (a server, a trained model, a
# project its tests run on in order) run on one worker, in file order, and the fixture is made once. The scheduler
# hands out the units in collection order, each worker taking the next as it runs dry: the longest go first, so
# that no long module starts last. Listed: the longest modules (a real model through every stage, the pipeline and
# servers, 2-process launches, dvc repro per data defect), longest first (seconds on the 2-core dev machine,
# docs/experiments.md "Test suite time"); then the other modules with slow tests, then the rest, in file order.
# A module renamed or missing here only runs later; nothing is skipped.
LONGEST_FIRST = ["test_flows.py", "test_distributed.py", "test_real_model.py", "test_reliability_tracking.py",
                 "test_servers.py", "test_validate.py", "test_models.py", "test_sft.py", "test_grpo.py",
                 "test_profiles.py", "test_params_fuzz.py", "test_profile_gpu_qwen3.py", "test_gpu_check.py", "test_serve_chat.py",
                 "test_lineage.py", "test_evaluate_stage.py", "test_episode_stage.py", "test_rollout.py"]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """The longest modules first (each module's tests together, in file order); GPU tests are skipped where no CUDA
    device is present (CI never has one)."""
    order = {name: i for i, name in enumerate(LONGEST_FIRST)}
    with_slow = {item.path.name for item in items if item.get_closest_marker("slow")}

    def rank(pair):
        index, item = pair
        module = item.path.name
        return (order.get(module, len(order) + (module not in with_slow)), index)

    items[:] = [item for _, item in sorted(enumerate(items), key=rank)]
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


def pytest_unconfigure(config):
    shutil.rmtree(_PREFECT_HOME, ignore_errors=True)
    if empty_mlflow_db.cache_info().currsize:
        shutil.rmtree(empty_mlflow_db().parent, ignore_errors=True)


def pytest_configure(config):
    """On an xdist worker, torch's intra-op threads are the worker's share of the cores (2 workers on 2 cores: 1
    each), so that two workers' models do not fight over every core. Subprocesses keep their own settings."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


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


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(model, tokenizer): builtin:tiny at the quick size, on one thread for the module (token by token, a tiny model
    is fastest on one), restored after it."""
    import torch

    from thinkact.models.loading import load_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_model("builtin:tiny", tmp_path_factory.mktemp("models"), tiny_size=QUICK["model"]["tiny"])
    torch.set_num_threads(threads)


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


@functools.cache
def empty_mlflow_db() -> Path:
    """An empty MLflow sqlite store as MLflow itself creates one (its tables, the Default experiment), made once per
    test process: a copy of it is a new store without the ~1 s of schema migrations MLflow runs on a new file."""
    from mlflow.tracking import MlflowClient

    db = Path(tempfile.mkdtemp(prefix="thinkact-tests-mlflow-")) / "mlflow.db"
    MlflowClient(f"sqlite:///{db}").search_experiments()
    return db


def new_mlflow_store(db: Path) -> str:
    """A new, empty MLflow store at `db` (a copy of empty_mlflow_db()); its tracking URI."""
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(empty_mlflow_db(), db)
    return f"sqlite:///{db}"


def make_project(tmp_path, monkeypatch, overrides: dict | None = None, models: tuple[str, ...] = ()):
    """A quick-profile project under tmp_path (params.yaml with `overrides`, its own data, outputs, model cache and
    MLflow store, THINKACT_PARAMS pointing at it), with untrained quick models saved as the `models` stages'."""
    from thinkact.data.writer import write_dataset

    path = write_params(tmp_path, overrides)
    monkeypatch.setenv("THINKACT_PARAMS", str(path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", new_mlflow_store(tmp_path / "mlflow.db"))
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
