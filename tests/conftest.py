"""Shared fixtures. Every test runs offline with telemetry off and never writes into the repo's mlflow/."""
from __future__ import annotations

import os

for _key, _value in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                     "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "DVC_NO_ANALYTICS": "1",
                     "GX_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                     "TOKENIZERS_PARALLELISM": "false"}.items():
    os.environ[_key] = _value

import pytest  # noqa: E402

from thinkact.config import PROJECT_ROOT, load_params  # noqa: E402


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
