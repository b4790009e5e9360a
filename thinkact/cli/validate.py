"""`thinkact validate PATH`: validate any contract JSONL file, or a folder of <split>.jsonl files.

A file (a user's data, an import) gets the contract, tools and hygiene checks; a folder is a data set and
also gets the shape checks (rows per split, turn-type shares) from params.yaml `validate`, when a
params.yaml is found (else the shape bounds are empty); a folder's episode files have their gold calls replayed on
the tool set of params.yaml `episodes.tools` (the built-in world without a params.yaml). Exit code: 0 all
expectations hold, 1 some fail, 2 nothing could be validated (no such path, a folder without JSONL, bad params.yaml,
a tool set that cannot be opened).
"""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from thinkact.config import load_params
from thinkact.project import params_path
from thinkact.tools.params import ToolsParams
from thinkact.validation.params import ValidateParams
from thinkact.errors import ThinkactError
from thinkact.validation import validate, validate_to_dir


def _params() -> tuple[ValidateParams, ToolsParams]:
    if not params_path().is_file():
        return ValidateParams(), ToolsParams()
    params = load_params()
    return params.validate, params.episodes.tools


def validate_command(path: Path, report_dir: Path | None = None, *, console: Console | None = None) -> int:
    """Validate `path`, print the summary; with `report_dir`, also write report.json and data_docs/ there."""
    console = console or Console(stderr=True, highlight=False)
    try:
        params, tools = _params()
        if report_dir is not None:
            report = validate_to_dir(path, params, report_dir, tools=tools)
        else:
            report = validate(path, params, tools=tools)
    except ThinkactError as e:
        console.print(f"[red]error:[/red] {escape(str(e))}")
        return 2
    for line in report.summary().splitlines():
        style = "green" if line.lstrip().startswith("✓") else "red" if line.lstrip().startswith("✗") else None
        console.print(f"[{style}]{escape(line)}[/{style}]" if style else escape(line), soft_wrap=True)
    return 0 if report.success else 1
