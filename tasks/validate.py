"""Stage `validate`: the data gate before any training.

Runs the Great Expectations suite of thinkact.validation (contract, tools, hygiene, shape; bounds in
params.yaml `validate`; an episode file's gold calls replayed on the tool set of `episodes.tools`) over
`paths.data`, writes `<paths.outputs>/validate/report.json` (DVC metrics) and
`<paths.outputs>/validate/data_docs/` (GX data docs HTML), and logs both to MLflow when tracking is on.
When any expectation fails it still writes the report, prints a short summary (each failed expectation,
how many rows, up to `validate.show_ids` offending ids with the reason) and exits 1, so `dvc repro` and
the Prefect flow stop here and nothing downstream runs.

    python -m tasks.validate          # what `dvc repro validate` runs, from the project root
"""
from __future__ import annotations

import sys
from dataclasses import asdict

from tasks import stage_main
from thinkact.config import Params
from thinkact.errors import ThinkactError
from thinkact.tracking import stage_run
from thinkact.validation import DOCS_DIR, REPORT_FILE, Report, validate_to_dir

STAGE = "validate"


class ValidationFailed(ThinkactError):
    """The data broke at least one expectation; `report` says which and where."""

    def __init__(self, report: Report):
        self.report = report
        super().__init__(report.summary())


def run(params: Params) -> dict:
    """Validate `params.paths.data` into `<outputs>/validate`; raise ValidationFailed if any expectation fails."""
    out = params.paths.stage_dir(STAGE)
    print(f"[{STAGE}] checking {params.paths.data} (Great Expectations, a few seconds) ...", file=sys.stderr)
    logged = {STAGE: asdict(params.validate), "paths": asdict(params.paths),
              "episodes": {"tools": asdict(params.episodes.tools)}}
    with stage_run(STAGE, params=logged) as tracked:
        report = validate_to_dir(params.paths.data, params.validate, out, tools=params.episodes.tools)
        tracked.log_metrics(report.metrics())
        tracked.log_artifact(out / REPORT_FILE)
        if (out / DOCS_DIR).is_dir():
            tracked.log_artifacts(out / DOCS_DIR, DOCS_DIR)
        if not report.success:
            raise ValidationFailed(report)
    print(report.summary(), flush=True)
    return {"expectations": len(report.outcomes), "rows": report.rows.get("total", 0)}


def main(argv: list[str] | None = None) -> int:
    return stage_main(STAGE, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
