"""The promotion gate against the registry: whose scores, on which examples, and moving `champion`.

Used by the `register` stage (tasks/register.py) and by `thinkact promote`; the decision itself is the pure
`thinkact.promotion.gate`, the registry calls are `thinkact.tracking.model_registry`. With no champion yet, the
challenger is also compared with the models below it (`BASELINES`, `baseline_scores`): a GRPO version must beat
the base model and the SFT baseline, an SFT version the base model.

The register stage gates its run's models in `LADDER` order (`promote_best`): GRPO first; when it does not pass,
the SFT version (only when the evaluate stage predicted it), so the run ends with the best model the evidence
supports as @champion — GRPO when it beats SFT (and base), else SFT when it beats base; with a champion, each must
beat that champion. The one that passes (else GRPO) holds @challenger.

The evaluation data of the gate: params.yaml `register.splits` in `<paths.data>`, the first `evaluate.max_examples`
of each (as the evaluate stage takes them); `eval_md5` fingerprints those files, that limit and `max_new_tokens`.
A version's per-example scores come from its completions, re-scored with today's metrics (`score_examples`, so a
change in a metric's code cannot make two versions incomparable):
- from the version's stored predictions (its run's `evaluation/predictions/<role>/`) when its `thinkact.eval_md5`
  tag matches and every example is there;
- otherwise generated again from the registered model (`predict_model`, greedy, `evaluate` settings).

    from thinkact.promotion.champion import promote, promote_challenger, promote_version
    decision = promote_best(registry, {"sft": v3, "grpo": v4}, params, predictions=folder)  # the register stage
    decision = promote_challenger(params)                  # thinkact promote
    decision = promote_version(params, "3", who="alice", why="rollback")   # thinkact promote --version 3
"""
from __future__ import annotations


import getpass
import hashlib
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from thinkact.contract import Example
from thinkact.data.dev import DEV, split_file
from thinkact.errors import ThinkactError
from thinkact.evaluation.metrics import score_examples
from thinkact.evaluation.score import read_predictions
from thinkact.io import file_md5
from thinkact.project import RunParams
from thinkact.promotion.gate import RULE_NONE, Decision, Scores, best, forced, gate
from thinkact.tracking import stage_run
from thinkact.tracking.model_registry import CHALLENGER, CHAMPION, REGISTER_RUN_TAG, Registry

EVAL_MD5_TAG = "thinkact.eval_md5"
PREDICTIONS_TAG = "thinkact.predictions"   # its predictions folder: `runs:/<register run>/...` or a path in its run
PREDICTIONS_ARTIFACT = "evaluation/predictions"
LADDER = ("grpo", "sft")                   # the register stage's models, best hoped first (promote_best)
BASELINES = {"grpo": ("base", "sft"), "sft": ("base",)}  # what a first champion of each role must beat (paired)
PROMOTE_TAG = "thinkact.gate.promote"      # the decision's outcome on the version, written after the alias move


def eval_examples(params: RunParams) -> dict[str, list[Example]]:
    """split -> the examples the gate compares on (register.splits, as the evaluate stage selects them)."""
    from thinkact.evaluation.runner import eval_splits  # torch + transformers: not on `register --help`

    return eval_splits(params, params.register.splits, key="register.splits")


def eval_md5(params: RunParams) -> str:
    """md5 of the gate's evaluation data and decoding: each split's file bytes and name, the per-split example
    limit and the completion length (stored completions made with another limit are not comparable)."""
    h = hashlib.md5()
    h.update(f"max_new_tokens={params.evaluate.max_new_tokens};".encode())
    for split in params.register.splits:
        h.update(f"{split}:{params.evaluate.max_examples}:".encode())
        if split == DEV:  # cut from train.jsonl: which rows is the cut's size and seed
            h.update(f"{params.dev.examples}:{params.dev.seed}:".encode())
        h.update(file_md5(split_file(params.paths.data, split)).encode())
    return h.hexdigest()


def read_completions(folder: Path, splits: Sequence[str]) -> dict[str, dict[str, str]]:
    """split -> {example id: completion} from <folder>/<split>.jsonl (evaluate's predictions); missing split: {}."""
    return {split: ({i: text for i, (_, text) in read_predictions(folder / f"{split}.jsonl").items()}
                    if (folder / f"{split}.jsonl").is_file() else {}) for split in splits}


def score(examples: Mapping[str, Sequence[Example]], completions: Mapping[str, Mapping[str, str] | Sequence[str]],
          params: RunParams) -> Scores:
    """{"split/id": {metric: score}} with today's metrics; completions per split by id or in example order."""
    out: dict[str, dict[str, float | None]] = {}
    for split, exs in examples.items():
        got = completions[split]
        texts = [got[ex.id] for ex in exs] if isinstance(got, Mapping) else list(got)
        for ex, row in zip(exs, score_examples(exs, texts, reward_options=params.grpo.reward_options)):
            out[f"{split}/{ex.id}"] = row
    return out


def version_scores(registry, version, examples: Mapping[str, Sequence[Example]], md5: str, params: RunParams,
                   local: Path | None = None) -> tuple[Scores, str]:
    """A version's scores on `examples` and where its completions came from (see the module docstring)."""
    splits = list(examples)
    stored = None
    if local is not None:
        stored = read_completions(local, splits)
    elif version.tags.get(EVAL_MD5_TAG) == md5 and version.tags.get(PREDICTIONS_TAG):
        with tempfile.TemporaryDirectory(prefix="thinkact-preds-") as tmp:
            folder = registry.fetch(version.run_id, version.tags[PREDICTIONS_TAG], tmp)
            stored = read_completions(folder, splits) if folder is not None else None
    if stored is not None and all(ex.id in stored[s] for s in splits for ex in examples[s]):
        return score(examples, stored, params), "evaluate stage" if local else "stored predictions"
    from thinkact.evaluation.predict import predict_model  # torch + transformers: only when generating

    texts, _ = predict_model(version.uri, params, examples)
    return score(examples, texts, params), "generated again (its evaluation used other data)"


def decide(registry, challenger, params: RunParams, *, local: Path | None = None,
           cache: dict | None = None) -> Decision:
    """Gate `challenger` against the current champion on the evaluation data of params.yaml. `cache`: the
    champion's and the baselines' scores kept across calls (one register run gates GRPO, then SFT)."""
    cache = {} if cache is None else cache
    reg = params.register
    champion = registry.alias(CHAMPION)
    if champion is not None and champion.version == challenger.version:
        return Decision(promote=False, rule=RULE_NONE, metric=reg.primary_metric, challenger=challenger.version,
                        champion=champion.version, reason=f"version {challenger.version} already holds @champion")
    examples, md5 = eval_examples(params), eval_md5(params)
    chall, chall_from = version_scores(registry, challenger, examples, md5, params, local=local)
    if champion is not None and ("version", champion.version) not in cache:
        cache["version", champion.version] = version_scores(registry, champion, examples, md5, params)
    champ, champ_from = (None, None) if champion is None else cache["version", champion.version]
    extra = {"challenger_scores": chall_from, "eval_md5": md5, "splits": ",".join(reg.splits)}
    baselines = None
    if champ_from:
        extra["champion_scores"] = champ_from
    else:  # the first champion must beat the models below it: base and SFT (for an SFT version: base)
        baselines = {}
        for role in BASELINES.get(challenger.role or "", BASELINES["grpo"]):
            if ("baseline", role) not in cache:
                cache["baseline", role] = baseline_scores(registry, challenger, role, examples, md5, params, local)
            baselines[role], extra[f"{role}_scores"] = cache["baseline", role]
    return gate(chall, champ, metric=reg.primary_metric, bootstrap=params.evaluate.bootstrap,
                min_improvement=reg.min_improvement, thresholds=reg.thresholds, challenger=challenger.version,
                champion=None if champion is None else champion.version, baselines=baselines, extra=extra,
                model=challenger.role)


def baseline_scores(registry, challenger, role: str, examples: Mapping[str, Sequence[Example]], md5: str,
                    params: RunParams, local: Path | None) -> tuple[Scores, str]:
    """A baseline's scores (`base` or `sft`) on the gate's examples and where its completions came from: the
    evaluate stage's predictions beside the challenger's (`local`), else, for sft, the version registered with the
    challenger in the same run, else generated again from the pipeline's own model (`predict_model(role)`)."""
    splits = list(examples)
    folder = None if local is None else local.parent / role
    if folder is not None and folder.is_dir():
        stored = read_completions(folder, splits)
        if all(ex.id in stored[s] for s in splits for ex in examples[s]):
            return score(examples, stored, params), "evaluate stage"
    if role != "base":
        registered_by = challenger.tags.get(REGISTER_RUN_TAG) or challenger.run_id   # the register run of both
        twins = [v for v in registry.versions()
                 if (v.tags.get(REGISTER_RUN_TAG) or v.run_id) == registered_by and v.role == role]
        if twins:
            return version_scores(registry, twins[0], examples, md5, params)
    from thinkact.evaluation.predict import predict_model  # torch + transformers: only when generating

    texts, _ = predict_model(role, params, examples)
    return score(examples, texts, params), "generated again"


def apply(registry, decision: Decision, version: str) -> None:
    """Record the decision as tags on `version`; when it promotes, move @champion there in one registry call.
    `thinkact.gate.promote` is written last, after the alias move: a kill in between never leaves a version that
    says it was promoted while @champion stayed where it was (its presence means the decision was applied)."""
    tags = {**decision.tags(), "thinkact.gate.decided_at": _now()}
    outcome = {PROMOTE_TAG: tags.pop(PROMOTE_TAG)}
    registry.set_tags(version, tags)
    if decision.promote:
        registry.set_alias(CHAMPION, version)
        outcome.update({"thinkact.champion_since": _now(), "thinkact.previous_champion": decision.champion or "none"})
    registry.set_tags(version, outcome)


def promote(registry, challenger, params: RunParams, *, local: Path | None = None) -> Decision:
    """Gate `challenger` against the current champion and apply the decision (tags; @champion moves on a pass).
    `local`: the evaluate stage's predictions folder of the challenger, when the caller has it."""
    decision = decide(registry, challenger, params, local=local)
    if decision.rule != RULE_NONE:
        apply(registry, decision, challenger.version)
    elif PROMOTE_TAG not in challenger.tags:  # killed between the alias move and the outcome tag: finish the record
        registry.set_tags(challenger.version, {PROMOTE_TAG: "true", "thinkact.champion_since": _now()})
    return decision


def promote_best(registry, versions: Mapping[str, object], params: RunParams, *, predictions: Path) -> Decision:
    """The register stage: gate the run's `versions` (role -> version) in LADDER order until one passes (`decide`,
    each with the evaluate stage's `<predictions>/<role>/`); a model after the first is tried only when that
    folder exists, otherwise the decision says why. The one that passed (else the first) gets @challenger and the
    combined decision (`gate.best`); every other one tried gets its own decision's tags."""
    tried: list[Decision] = []
    notes: dict[str, str] = {}
    cache: dict = {}   # the champion's and base model's scores, computed once for both models
    for role in (r for r in LADDER if r in versions):
        if tried and not (predictions / role).is_dir():
            notes[role] = (f"is not considered: the evaluate stage has no predictions of it ({predictions / role} "
                           f"missing; add {role} to evaluate.models to let it become champion)")
            continue
        tried.append(decide(registry, versions[role], params, local=predictions / role, cache=cache))
        if tried[-1].promote:
            break
    if not tried:
        raise ThinkactError(f"no model to register: none of {', '.join(LADDER)} among the versions")
    decision = best(tried, notes)
    for other in tried:
        if other.challenger != decision.challenger:
            apply(registry, other, other.challenger)
    registry.set_alias(CHALLENGER, decision.challenger)
    apply(registry, decision, decision.challenger)
    return decision


def promote_challenger(params: RunParams) -> Decision:
    """`thinkact promote`: run the gate again for the current @challenger and apply it."""
    registry = Registry(params.register.model_name)
    decision = promote(registry, registry.require_alias(CHALLENGER), params)
    _log_run(decision)
    return decision


def promote_version(params: RunParams, version: str, *, who: str | None = None, why: str = "") -> Decision:
    """`thinkact promote --version N`: make N the champion by hand (rollback or force), recorded as tags."""
    registry = Registry(params.register.model_name)
    target = registry.get(version)
    previous = registry.alias(CHAMPION)
    if previous is not None and previous.version == target.version:
        raise ThinkactError(f"version {target.version} of '{registry.name}' is already @champion: nothing to do")
    decision = forced(target.version, None if previous is None else previous.version,
                      metric=params.register.primary_metric, who=who or _user(), why=why or "rollback by hand")
    apply(registry, decision, target.version)
    _log_run(decision)
    return decision


def _log_run(decision: Decision) -> None:
    """A `promote` run in MLflow with the decision (JSON and Markdown) and its numbers."""
    with stage_run("promote", tags={"thinkact.gate.promote": str(decision.promote).lower()}) as run:
        run.log_metrics({"promoted": float(decision.promote),
                         **{k: v for k, v in (("delta", decision.delta), ("delta_low", decision.delta_low))
                            if v is not None}})
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "decision.json").write_text(decision.to_json(), encoding="utf-8")
            (Path(tmp) / "decision.md").write_text(decision.to_markdown(), encoding="utf-8")
            run.log_artifacts(tmp, "decision")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
