"""Help conventions of the `thinkact` command, for every command and group alike.

- `-h` is `--help` (`CONTEXT`, given to the app and each sub-app).
- No Python type names in help: Typer labels an option without a metavar `<int>`, `<path>`, a flag (`--help`
  too) `<bool>` and an argument `<path>` even when it has a metavar. Options name their value with a metavar
  (FILE, DIR, N, TEXT, SPEC, ...); `Command` and `Group` drop the label of flags and arguments
  (tests/test_cli.py walks every help text, rich and plain).
- `thinkact --version`: thinkact's version and the ML stack's, read from the installed distributions (nothing
  heavy is imported).
"""
from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

CONTEXT = {"help_option_names": ["-h", "--help"]}
VERSIONED = ("trl", "transformers", "torch", "mlflow")


def _no_type(ctx: Any = None) -> None:
    return None


def _untyped(params: list[Any]) -> list[Any]:
    """Flags get an empty metavar (no `<bool>`); an argument shows its metavar (name column) and no type label."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
        elif isinstance(param, TyperArgument) and param.metavar is not None:
            param.display_type_rich = _no_type
    return params


class Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped(super().get_params(ctx))


class Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped(super().get_params(ctx))


def versions() -> str:
    """`thinkact X`, then `trl X`, `transformers X`, `torch X`, `mlflow X` and `python X`, one a line."""
    lines = []
    for dist in ("thinkact", *VERSIONED):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            if dist == "thinkact":
                from thinkact import __version__ as version
            else:
                version = "not installed"
        lines.append(f"{dist} {version}")
    lines.append(f"python {platform.python_version()}")
    return "\n".join(lines)


def version_callback(value: bool) -> None:
    """Eager `--version`: print `versions()` and exit before any command runs."""
    if value:
        typer.echo(versions())
        raise typer.Exit()
