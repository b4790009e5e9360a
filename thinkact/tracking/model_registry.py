"""The MLflow model registry: versions of one registered model, their tags and aliases, and loading them back.

- `Registry(name).log_model(folder, role=..., run_id=...)`: a saved model folder (safetensors, tokenizer with the
  chat template and response parser, thinkact-card.json) is logged as a chat model (thinkact.tracking.
  chat_pyfunc: the folder is its artifact; `mlflow models serve` and `mlflow.pyfunc.load_model` answer OpenAI chat
  requests with tools) and registered as a new version of `name`. It is logged to the run that TRAINED it, so the
  version's `run_id` is that sft / grpo run: the one the card's `mlflow_run_id` names (`CARD_RUN_KEY`, written by
  the training stage), when this store holds it as a run of the card's stage. Otherwise (tracking was off during
  training, a folder from elsewhere, another store) it goes to `run_id`, the registering run, and the version's
  `thinkact.source_run_why` says why. Either way the version carries `thinkact.source_run` ("training" or
  "register"), `thinkact.register_run_id` (the run that registered it, which holds the evaluation artifacts),
  `thinkact.training_run_id` when known, the card's `thinkact.train_md5` and the context tags (git commit,
  `thinkact.data_dvc_md5`).
- aliases: `challenger` (the newest GRPO version), `champion` (moved only by the gate or by hand, always in one
  `set_registered_model_alias` call, so once a champion exists the registry never lacks one).
- `resolve_model("models:/NAME@ALIAS" | "models:/NAME/VERSION" | folder, cache_dir)`: downloads a version once
  into `cache_dir/NAME/v<version>-<key>/` as one flat folder thinkact.models loads (weights, config, tokenizer,
  chat template, card); a folder is returned as is; an unknown name, alias or version is one error listing what
  exists.

The store is `thinkact.tracking.tracking_uri()` (MLFLOW_TRACKING_URI, or the embedded mlflow/mlflow.db); a server
that is down is one TrackingUnavailable error within seconds (`Registry(...)` probes it first), and the URI appears
in messages and in the downloaded folder's marker only redacted (`redact_uri`). In the embedded store artifact
locations are relative to the project (thinkact.tracking.runs): every call here resolves them against the
project, from any working directory, so a moved or copied checkout reads its own models.

    from thinkact.tracking.model_registry import Registry, resolve_model
    reg = Registry("thinkact-agent")
    v = reg.log_model("outputs/grpo/model", role="grpo", run_id=run.run_id, tags={"thinkact.eval_md5": md5})
    reg.set_alias("challenger", v.version)
    folder = resolve_model("models:/thinkact-agent@champion", ".cache/models/registry")
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

# mlflow and transformers are imported inside the functions that use them (start-up time of `thinkact`).
from thinkact.errors import ThinkactError
from thinkact.io import atomic_dir, atomic_write_json
from thinkact.tracking.context import TRAIN_MD5_TAG, context_tags
from thinkact.tracking.runs import EXPERIMENT, tracking_uri
from thinkact.tracking.store import artifact_anchor, artifact_repo, portable_store, resolve_location, store_cwd
from thinkact.tracking.server import connect, redact_uri

PREFIX = "models:/"
CHAMPION, CHALLENGER = "champion", "challenger"
ROLE_TAG = "thinkact.role"
LOCK_TAG = "thinkact.lock"  # on a register run: the stage lock it ran under (thinkact.io.stage_lock's identity)
MARKER = "thinkact-registry.json"  # written last into a downloaded folder: its presence means "complete"
CARD = "thinkact-card.json"
CARD_RUN_KEY = "mlflow_run_id"             # in a model card: the MLflow run of the stage that trained the folder
SOURCE_RUN_TAG = "thinkact.source_run"     # on a version: "training" (its run trained it) or "register"
SOURCE_RUN_WHY_TAG = "thinkact.source_run_why"  # why a version's run is the registering run, not the training run
TRAINING_RUN_TAG = "thinkact.training_run_id"
REGISTER_RUN_TAG = "thinkact.register_run_id"   # the run that registered the version (the evaluation artifacts)
RUNS_PREFIX = "runs:/"
# a logged model's pip requirements besides mlflow (MLflow adds it); jsonschema: thinkact.contract (the chat model)
REQUIREMENTS = ("transformers", "torch", "tokenizers", "safetensors", "accelerate", "jsonschema")


class RegistryError(ThinkactError):
    """A registered model, alias or version that does not exist (the message lists what does)."""


@contextlib.contextmanager
def mlflow_globals_kept() -> Iterator[None]:
    """Whatever the block does to mlflow's process-wide tracking/registry URIs, the MLFLOW_TRACKING_URI and
    MLFLOW_REGISTRY_URI variables (set_tracking_uri / set_registry_uri write them) and the active experiment is undone
    after it: a library must not leave them changed for the caller's other clients, nor a test for the next test."""
    from mlflow.tracking import fluent
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    variables = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved = (tracking_utils._tracking_uri, registry_utils._registry_uri, fluent._active_experiment_id)
    saved_env = {name: os.environ.get(name) for name in variables}
    try:
        yield
    finally:
        tracking_utils._tracking_uri, registry_utils._registry_uri, fluent._active_experiment_id = saved
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass(frozen=True)
class Version:
    """One registered model version, as the registry holds it."""

    name: str
    version: str
    run_id: str | None
    source: str
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def role(self) -> str | None:
        return self.tags.get(ROLE_TAG)

    @property
    def uri(self) -> str:
        return f"{PREFIX}{self.name}/{self.version}"


def parse_uri(spec: str) -> tuple[str, str | None, str | None]:
    """models:/NAME@ALIAS -> (NAME, ALIAS, None); models:/NAME/VERSION -> (NAME, None, VERSION)."""
    rest = spec[len(PREFIX):] if spec.startswith(PREFIX) else ""
    if "@" in rest:
        name, alias = rest.rsplit("@", 1)
        if name and alias and "/" not in name:
            return name, alias, None
    elif rest.count("/") == 1:
        name, version = rest.split("/")
        if name and version.isdigit():
            return name, None, version
    raise RegistryError(f"'{spec}' is not a registry model URI: use models:/NAME@ALIAS (e.g. "
                        "models:/thinkact-agent@champion) or models:/NAME/VERSION (e.g. models:/thinkact-agent/3)")


def pip_requirements() -> list[str]:
    """Pinned requirements of the installed stack (a local build tag like +cpu dropped: not on PyPI)."""
    out = []
    for dist in REQUIREMENTS:
        try:
            out.append(f"{dist}=={metadata.version(dist).split('+')[0]}")
        except metadata.PackageNotFoundError:
            continue
    return out


class Registry:
    """The versions of one registered model in the tracking store (all calls through one MlflowClient)."""

    def __init__(self, name: str, uri: str | None = None):
        self.name = name
        self.uri = uri or tracking_uri()
        if self.uri is None:
            raise ThinkactError("the model registry needs MLflow tracking, which THINKACT_TRACKING=0 turns off: "
                                "unset THINKACT_TRACKING (or point MLFLOW_TRACKING_URI at a store)")
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        if self.uri.startswith("sqlite:///"):
            Path(self.uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        connect(self.uri)  # a server that is down: one clear error in seconds, not minutes of MLflow retries
        import mlflow
        from mlflow.tracking import MlflowClient

        self.mlflow = mlflow
        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        portable_store(self.uri)  # a store written with absolute artifact paths (perhaps elsewhere): made relative

    @contextlib.contextmanager
    def _global_store(self) -> Iterator[None]:
        """mlflow's process-wide URIs point at this store for the block (the flavor's log_model and
        download_artifacts read only those), and are put back after (`mlflow_globals_kept`)."""
        with mlflow_globals_kept():
            self.mlflow.set_tracking_uri(self.uri)
            self.mlflow.set_registry_uri(self.uri)
            yield

    # ---- reading -------------------------------------------------------------------------------------------
    def _version(self, mv: Any) -> Version:
        aliases = tuple(getattr(mv, "aliases", None) or ())
        return Version(self.name, str(mv.version), mv.run_id, mv.source, dict(mv.tags or {}), aliases)

    def exists(self) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.name)
            return True
        except MlflowException:
            return False

    def _require_model(self) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_registered_model(self.name)
        except MlflowException:
            names = sorted(m.name for m in self.client.search_registered_models())
            raise RegistryError(f"no registered model '{self.name}' in {redact_uri(self.uri)}; registered models: "
                                f"{', '.join(names) or '(none)'}. Register one first: dvc repro register "
                                "(or python -m tasks.register)") from None

    def versions(self) -> list[Version]:
        """Every version, oldest first."""
        found = self.client.search_model_versions(f"name='{self.name}'")
        return sorted((self._version(mv) for mv in found), key=lambda v: int(v.version))

    def aliases(self) -> dict[str, str]:
        return {str(a): str(v) for a, v in (self._require_model().aliases or {}).items()}

    def get(self, version: str | int) -> Version:
        from mlflow.exceptions import MlflowException

        self._require_model()
        try:
            return self._version(self.client.get_model_version(self.name, str(version)))
        except MlflowException:
            have = ", ".join(v.version for v in self.versions()) or "(none)"
            raise RegistryError(f"registered model '{self.name}' has no version {version}; versions: {have}") from None

    def alias(self, alias: str) -> Version | None:
        """The version `alias` points to, or None (also when the registered model does not exist yet)."""
        if not self.exists():
            return None
        target = self.aliases().get(alias)
        return None if target is None else self.get(target)

    def require_alias(self, alias: str) -> Version:
        found = self.alias(alias)
        if found is None:
            self._require_model()
            have = ", ".join(f"@{a} -> {v}" for a, v in sorted(self.aliases().items())) or "(none)"
            raise RegistryError(f"registered model '{self.name}' has no alias '{alias}'; aliases: {have}; versions: "
                                f"{', '.join(v.version for v in self.versions()) or '(none)'}")
        return found

    def close_stale_runs(self, stage: str, lock: str) -> list[str]:
        """Mark KILLED the runs of `stage` still RUNNING that ran under the stage lock `lock` (their LOCK_TAG): the
        caller holds that lock now, so none of them is alive (a killed process never ends its run, which would
        otherwise stay RUNNING for ever). Runs without the tag (another project, another machine) are left alone.
        Returns their ids."""
        experiment = self.client.get_experiment_by_name(EXPERIMENT)
        if experiment is None:
            return []
        found = self.client.search_runs([experiment.experiment_id], filter_string="attributes.status = 'RUNNING'",
                                        max_results=1000)
        stale = [r.info.run_id for r in found
                 if r.data.tags.get("thinkact.stage") == stage and r.data.tags.get(LOCK_TAG) == lock]
        for run_id in stale:
            self.client.set_tag(run_id, "thinkact.ended_by", "the next run of the stage found it killed")
            self.client.set_terminated(run_id, "KILLED")
        return stale

    # ---- writing -------------------------------------------------------------------------------------------
    def training_run(self, card: dict[str, Any]) -> tuple[str | None, str]:
        """(the run that trained a model folder, "") when its card names one that this store holds as a live run
        of the card's stage; otherwise (None, why not)."""
        from mlflow.exceptions import MlflowException

        run_id, stage = card.get(CARD_RUN_KEY), card.get("stage")
        if not run_id:
            return None, ("the model card names no training run (tracking was off while it trained, or the folder "
                          "was made elsewhere)")
        try:
            run = self.client.get_run(str(run_id))
        except MlflowException:
            return None, f"the training run {run_id} named by the model card is not in {redact_uri(self.uri)}"
        if run.info.lifecycle_stage != "active":
            return None, f"the training run {run_id} named by the model card is deleted"
        if run.data.tags.get("thinkact.stage") != stage:
            return None, (f"run {run_id} named by the model card is a '{run.data.tags.get('thinkact.stage')}' run, "
                          f"not the '{stage}' stage that trained the folder")
        return str(run_id), ""

    def log_model(self, folder: str | Path, *, role: str, run_id: str, tags: dict[str, Any] | None = None) -> Version:
        """Log the saved model `folder` as a chat model (thinkact.tracking.chat_pyfunc: the folder is its artifact,
        `mlflow models serve` answers OpenAI chat requests) and register it as a new version. It is logged to the
        run that trained it (`training_run`), else to `run_id`, the registering run (see the module docstring)."""
        # imported here: it imports mlflow, torch and transformers (start-up time of `thinkact`)
        from thinkact.tracking.chat_pyfunc import log_chat_model

        folder = Path(folder).resolve()  # absolute: MLflow may write from the project root (store_cwd)
        if not (folder / "config.json").is_file():
            raise ThinkactError(f"{folder}: no saved model (config.json missing); run the stage that writes it")
        card_path = folder / CARD
        card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.is_file() else {}
        trained_by, why = self.training_run(card)
        lineage = {REGISTER_RUN_TAG: run_id, SOURCE_RUN_TAG: "training" if trained_by else "register"}
        if trained_by:
            lineage[TRAINING_RUN_TAG] = trained_by
        else:
            lineage[SOURCE_RUN_WHY_TAG] = why
        train_md5 = card.get("train_md5") or card.get("data_md5")  # data_md5: the same hash in cards written before
        if train_md5:
            lineage[TRAIN_MD5_TAG] = train_md5
        context = context_tags()  # git commit and DVC's hash of data/, when known
        if "mlflow.source.git.commit" in context:
            context["thinkact.git_commit"] = context.pop("mlflow.source.git.commit")
        all_tags = {**context, ROLE_TAG: role, **lineage, **{k: str(v) for k, v in (tags or {}).items()}}
        target = trained_by or run_id
        with self._global_store(), store_cwd(self.uri):  # Model.log writes to the relative location it creates
            self.mlflow.set_experiment(experiment_id=self.client.get_run(target).info.experiment_id)
            info = log_chat_model(folder, name=role, run_id=target, registered_model_name=self.name,
                                  pip_requirements=pip_requirements(), tags=all_tags,
                                  metadata={"thinkact_card": card}, await_registration_for=60)
        return self.get(info.registered_model_version)

    def set_alias(self, alias: str, version: str | int) -> None:
        """Point `alias` at `version` in one registry call (an existing alias is replaced, never removed first)."""
        self.client.set_registered_model_alias(self.name, alias, str(version))

    def set_tags(self, version: str | int, tags: dict[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(self.name, str(version), key, str(value))

    def attach(self, run_id: str, path: str | Path, artifact_path: str) -> None:
        """Log a file or a folder to `run_id` under `artifact_path`."""
        path = Path(path).resolve()
        repo = artifact_repo(self.client, run_id, self.uri)  # a relative location: resolved against the project
        if repo is None:
            log = self.client.log_artifacts if path.is_dir() else self.client.log_artifact
            log(run_id, str(path), artifact_path)
        elif path.is_dir():
            repo.log_artifacts(str(path), artifact_path)
        else:
            repo.log_artifact(str(path), artifact_path)

    def fetch(self, run_id: str, artifact_path: str, dst: str | Path) -> Path | None:
        """Download a run's artifact (file or folder) into `dst`; None when the run has no such artifact.
        `artifact_path` may name its run itself, `runs:/RUN_ID/PATH` (then `run_id` is not used): a version's
        `thinkact.predictions` tag does, since its predictions live in the registering run, not the version's."""
        from mlflow.exceptions import MlflowException

        if artifact_path.startswith(RUNS_PREFIX):
            run_id, _, artifact_path = artifact_path[len(RUNS_PREFIX):].lstrip("/").partition("/")
        Path(dst).mkdir(parents=True, exist_ok=True)
        try:
            repo = artifact_repo(self.client, run_id, self.uri)  # a relative location: resolved against the project
            if repo is not None:
                return Path(repo.download_artifacts(artifact_path, dst_path=str(dst)))
            return Path(self.mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path,
                                                                 dst_path=str(dst), tracking_uri=self.uri))
        except (MlflowException, OSError):
            return None

    def download(self, version: Version, cache_dir: str | Path) -> Path:
        """The version as one flat model folder under `cache_dir` (downloaded once; later calls reuse it)."""
        key = hashlib.sha256(f"{self.uri}|{version.source}".encode()).hexdigest()[:10]
        final = Path(cache_dir) / self.name / f"v{version.version}-{key}"
        if (final / MARKER).is_file():
            return final
        from thinkact.tracking.chat_pyfunc import artifact_folder  # imported here: mlflow, torch (start-up time)

        with atomic_dir(final) as tmp:
            with self._global_store():
                where = version.uri
                if artifact_anchor(self.uri) is not None:  # the stored location, resolved against the project
                    where = resolve_location(self.client.get_model_version_download_uri(self.name, version.version),
                                             self.uri)
                raw = Path(self.mlflow.artifacts.download_artifacts(artifact_uri=where, dst_path=str(tmp / "raw")))
            # a chat model's artifact folder (thinkact.tracking.chat_pyfunc); model/ and components/tokenizer/ of
            # the transformers-flavor versions registered before it
            for part in (artifact_folder(raw), raw / "model", raw / "components" / "tokenizer"):
                for item in part.iterdir() if part is not None and part.is_dir() else ():
                    shutil.move(str(item), tmp / item.name)
            card = _mlmodel_card(raw / "MLmodel")
            if card:
                atomic_write_json(tmp / CARD, card)
            shutil.rmtree(raw)
            if not (tmp / "config.json").is_file():
                raise ThinkactError(f"{version.uri} is not a model logged by thinkact (no saved model folder with "
                                    "a config.json in its artifacts)")
            atomic_write_json(tmp / MARKER, {"name": self.name, "version": version.version,
                                             "source": version.source, "tracking_uri": redact_uri(self.uri)})
        return final


def _mlmodel_card(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    import yaml

    return ((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("metadata") or {}).get("thinkact_card") or {}


def resolve_model(spec: str, cache_dir: str | Path) -> Path:
    """A folder thinkact.models can load: a registry URI downloaded once into `cache_dir`, or a local folder."""
    if not spec.startswith(PREFIX):
        path = Path(spec).expanduser()
        if not (path / "config.json").is_file():
            raise ThinkactError(f"model '{spec}': not a saved model folder (no config.json) and not a registry URI "
                                "(models:/NAME@ALIAS or models:/NAME/VERSION)")
        return path
    name, alias, version = parse_uri(spec)
    registry = Registry(name)
    found = registry.require_alias(alias) if alias else registry.get(version)
    return registry.download(found, cache_dir)
