"""The Great Expectations suite over the row table (rows.py), run on an ephemeral GX context.

Every check is a real GX expectation; its `meta` names the check and where each failing row's reason
lives, so the report (report.py) can quote GX's own results. Groups:

    contract  lines readable, contract schema, required fields present, split allowed and matching the
              file, roles in order, exactly one of tool_calls / content, no empty answer or call list
    tools     parameters are valid JSON Schemas, calls name offered tools, arguments validate
    hygiene   ids unique, no id or prompt shared between train and an evaluation split
    shape     rows per split and the share of each turn type per split within params.validate bounds

More tables (a `Table`: the episode files, thinkact.validation.episode_checks) run in the same GX context, each as its
own suite and checkpoint, so their results are in the same outcomes, report and data docs.
The data docs, when asked for, are made to read offline once GX has written them (offline_docs.py).
GX is imported only here, and only when the suite runs (it takes about 4 s).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinkact.validation.params import ValidateParams
from thinkact.contract import REQUIRED_FIELDS, SPLITS, TURN_TYPES
from thinkact.validation.offline_docs import make_offline

SUITE_NAME = "thinkact_data"
INDEX_COLUMNS = ["where", "id"]  # name each offending row in GX results and data docs
REQUIRED = REQUIRED_FIELDS  # every example has them (thinkact.contract)


@dataclass(frozen=True)
class Check:
    """What one expectation means to a user, and how to explain a failing row."""

    name: str                         # e.g. "tools.arguments_valid"
    text: str                         # one sentence, shown in the summary and as the expectation's notes
    reason_column: str | None = None  # row column holding the reason, or None: use `reason` with {value}
    reason: str = "{value}"


@dataclass
class Outcome:
    """One expectation's result, read from GX's ExpectationValidationResult."""

    check: str
    text: str
    expectation: str
    kwargs: dict[str, Any]
    success: bool
    unexpected_count: int | None = None
    element_count: int | None = None
    observed: Any = None
    rows: list[dict[str, Any]] = field(default_factory=list)  # up to show_ids: where, id, reason
    exception: str | None = None


@dataclass
class Table:
    """One frame of rows (columns `where` and `id` name a row) and the (check, GX expectation) pairs over it."""

    asset: str      # the GX data asset, e.g. "examples"
    suite: str      # the GX expectation suite's name
    frame: Any      # a pandas DataFrame
    pairs: list[tuple[Check, Any]]


def expectation(check: Check, cls: Any, **kwargs: Any) -> tuple[Check, Any]:
    """(check, GX expectation of class `cls`): the check's name and reason ride in the expectation's meta."""
    meta = {"check": check.name, "reason_column": check.reason_column, "reason": check.reason}
    return check, cls(**kwargs, meta=meta, notes=check.text)


def _readable():
    from great_expectations.expectations.row_conditions import Column

    return Column("readable") == True  # noqa: E712 - builds a GX condition, not a comparison


def _in_split(split: str):
    from great_expectations.expectations.row_conditions import Column

    return Column("split") == split


def build_expectations(params: ValidateParams, shape: bool, present: set[str] | None = None
                       ) -> list[tuple[Check, Any]]:
    """(check, GX expectation) pairs, in the order the summary lists them. `present`: the splits that have rows
    (None: all of params.rows); a split allowed to be empty (rows min 0) that is gets no turn-share checks."""
    import great_expectations.expectations as gxe

    out: list[tuple[Check, Any]] = []

    def add(check: Check, cls: Any, **kwargs: Any) -> None:
        out.append(expectation(check, cls, **kwargs))

    def null(name: str, column: str, text: str) -> None:
        add(Check(name, text, column), gxe.ExpectColumnValuesToBeNull, column=column)

    # contract
    null("contract.readable", "read_error", "every line is one JSON object, UTF-8, within the line size limit")
    null("contract.schema", "contract_error", "every example matches the contract's JSON Schema")
    for col in REQUIRED:
        add(Check(f"contract.required.{col}", f"field '{col}' is present and not null",
                  reason=f"'{col}' is missing, null or of the wrong type"),
            gxe.ExpectColumnValuesToNotBeNull, column=col, row_condition=_readable())
    add(Check("contract.split_allowed", f"split is one of {', '.join(SPLITS)}", reason="unknown split {value!r}"),
        gxe.ExpectColumnValuesToBeInSet, column="split", value_set=list(SPLITS))
    add(Check("contract.split_matches_file", "an example's split matches its file name (<split>.jsonl)",
              reason="split {split!r} is in file {file_split}.jsonl"),
        gxe.ExpectColumnPairValuesToBeEqual, column_A="split", column_B="file_split",
        ignore_row_if="either_value_is_missing")
    add(Check("contract.turn_type_allowed", f"turn_type is one of {', '.join(TURN_TYPES)}",
              reason="unknown turn type {value!r}"),
        gxe.ExpectColumnValuesToBeInSet, column="turn_type", value_set=list(TURN_TYPES))
    null("contract.roles_order", "roles_error", "messages in a valid order; a tool message answers an earlier call")
    add(Check("contract.target_one_of", "target has exactly one of tool_calls / content",
              reason="target has {value} of tool_calls / content"),
        gxe.ExpectColumnValuesToBeInSet, column="target", value_set=["tool_calls", "content"])
    add(Check("contract.answer_not_empty", "an answer (target.content) is not empty or blank",
              reason="target.content is empty"),
        gxe.ExpectColumnValuesToBeBetween, column="answer_chars", min_value=1)
    add(Check("contract.calls_not_empty", "target.tool_calls has at least one call",
              reason="target.tool_calls is empty"),
        gxe.ExpectColumnValuesToBeBetween, column="calls", min_value=1)
    # tools
    null("tools.schemas_valid", "schema_error", "every tool's parameters is a valid JSON Schema (names unique)")
    null("tools.calls_offered", "unknown_tool", "every target call names a tool offered in the example")
    null("tools.arguments_valid", "args_error", "every call's arguments validate against the tool's JSON Schema")
    # hygiene
    add(Check("hygiene.ids_unique", "example ids are unique across all files",
              reason="id {value!r} is used more than once"),
        gxe.ExpectColumnValuesToBeUnique, column="id")
    null("hygiene.no_train_leak", "leak_error", "no id or prompt of train appears in an evaluation split")
    return out + _shape_expectations(params, gxe, present) if shape else out


def _shape_expectations(params: ValidateParams, gxe: Any, present: set[str] | None = None
                        ) -> list[tuple[Check, Any]]:
    """The shape checks (`gxe`: great_expectations.expectations): every example has a turn type, each split's row
    count and turn-type shares within params.rows / params.turn_share (no shares of an empty split allowed to be
    empty: an imported data set without test_env, say; there is nothing to measure)."""
    out = [expectation(Check("shape.turn_type_present", "every example has a turn_type (needed for the turn-type "
                             "shares)", reason="turn_type is missing"),
                       gxe.ExpectColumnValuesToNotBeNull, column="turn_type", row_condition=_readable())]
    for split, r in params.rows.items():
        out.append(expectation(Check(f"shape.rows.{split}", f"{split} has {r.min:,} to {r.max:,} rows"),
                               gxe.ExpectTableRowCountToBeBetween, min_value=r.min, max_value=r.max,
                               row_condition=_in_split(split)))
    for split, rows in params.rows.items():
        if present is not None and split not in present and rows.min == 0:
            continue
        for turn, r in params.turn_share.items():
            out.append(expectation(Check(f"shape.turn_share.{split}.{turn}",
                                         f"share of {turn} turns in {split} is {r.min:g} to {r.max:g}"),
                                   gxe.ExpectColumnMeanToBeBetween, column=f"turn_{turn}", min_value=r.min,
                                   max_value=r.max, row_condition=_in_split(split)))
    return out


def _docs_site(docs_dir: Path) -> dict[str, Any]:
    return {"class_name": "SiteBuilder", "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(Path(docs_dir).resolve())}}


def import_gx() -> Any:
    """Import Great Expectations (about 4 s) with its analytics off."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations

    return great_expectations


def run_suite(df: Any, params: ValidateParams, shape: bool, docs_dir: Path | None = None,
              extra: Sequence[Table] = ()) -> list[Outcome]:
    """Run the suite on the row table, and the `extra` tables' own suites; build GX data docs into `docs_dir`
    when given."""
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    if docs_dir is not None:
        ctx.add_data_docs_site(site_name="thinkact", site_config=_docs_site(Path(docs_dir)))
    source = ctx.data_sources.add_pandas("thinkact")
    present = {s for s in df["split"] if isinstance(s, str)} if "split" in df else None
    tables = [Table("examples", SUITE_NAME, df, build_expectations(params, shape, present)), *extra]
    outcomes = [o for t in tables for o in _run_table(gx, ctx, source, t, params.show_ids, docs_dir is not None)]
    if docs_dir is not None:
        make_offline(docs_dir)  # GX's pages load their scripts and styles from CDNs: rewritten to need none
    order = {check.name: i for i, check in enumerate(c for t in tables for c, _ in t.pairs)}
    return sorted(outcomes, key=lambda o: order.get(o.check, len(order)))


def _run_table(gx: Any, ctx: Any, source: Any, table: Table, show: int, docs: bool) -> list[Outcome]:
    """One table's suite through its own checkpoint (`validate`, `validate_<asset>` for extra tables)."""
    from great_expectations.checkpoint import UpdateDataDocsAction

    name = "validate" if table.suite == SUITE_NAME else f"validate_{table.asset}"
    batch = source.add_dataframe_asset(table.asset).add_batch_definition_whole_dataframe("all")
    suite = ctx.suites.add(gx.ExpectationSuite(name=table.suite, expectations=[e for _, e in table.pairs]))
    definition = ctx.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))
    actions = [UpdateDataDocsAction(name="data_docs", site_names=["thinkact"])] if docs else []
    result_format = {"result_format": "SUMMARY", "unexpected_index_column_names": INDEX_COLUMNS,
                     "partial_unexpected_count": max(show, 1)}
    checkpoint = ctx.checkpoints.add(gx.Checkpoint(name=name, validation_definitions=[definition],
                                                   actions=actions, result_format=result_format))
    result = checkpoint.run(batch_parameters={"dataframe": table.frame})
    checks = {check.name: check for check, _ in table.pairs}
    positions = {where: i for i, where in enumerate(table.frame["where"])}
    return [_outcome(r, checks, table.frame, positions, show)
            for run in result.run_results.values() for r in run.results]


def _condition_text(condition: Any) -> str:
    """A GX comparison condition as `split == 'train'`; anything else as GX prints it."""
    c = condition.dict() if hasattr(condition, "dict") else condition
    if isinstance(c, dict) and {"column", "operator", "parameter"} <= set(c):
        name = c["column"].get("name") if isinstance(c["column"], dict) else c["column"]
        return f"{name} {c['operator']} {c['parameter']!r}"
    return str(condition)


def _exception(info: Any) -> str | None:
    """GX's exception_info is flat, or keyed by metric when a metric failed to resolve."""
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    messages = [_exception(v) for v in info.values()]
    return "; ".join(m for m in messages if m) or None


def _outcome(r: Any, checks: dict[str, Check], df: Any, positions: dict[str, int], show: int) -> Outcome:
    config = r.expectation_config
    meta = config.meta or {}
    check = checks.get(meta.get("check"), Check(meta.get("check") or config.type, config.type))
    res = r.result or {}
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "result_format")}
    if kwargs.get("row_condition") is not None:
        kwargs["row_condition"] = _condition_text(kwargs["row_condition"])
    exc = _exception(r.exception_info)
    out = Outcome(check.name, check.text, config.type, kwargs, bool(r.success), res.get("unexpected_count"),
                  res.get("element_count"), res.get("observed_value"), exception=exc)
    for item in (res.get("partial_unexpected_index_list") or [])[:show]:
        where = item.get("where")
        value = item.get(config.kwargs.get("column"), None)
        row = df.iloc[positions[where]].to_dict() if where in positions else {}
        if check.reason_column:
            reason = row.get(check.reason_column, value)
        else:
            reason = check.reason.format(value=value, **row)
        out.rows.append({"where": where, "id": item.get("id"), "reason": str(reason)})
    return out
