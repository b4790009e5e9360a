"""`thinkact profile`: the named profiles (thinkact.profiles) — list them, show one's settings, write its pipeline.

    thinkact profile list
    thinkact profile show smollm2
    thinkact profile sync smollm2     # profiles/smollm2/params.yaml and dvc.yaml, for `dvc repro` / `dvc exp run`
"""
from __future__ import annotations

from typing import Annotated

import typer

from thinkact import profiles
from thinkact.cli.helptext import CONTEXT, Command, Group

profile_app = typer.Typer(help="Named profiles: profiles/<name>.yaml overlays on params.yaml, each run as its own "
                               "DVC pipeline with its own outputs.\n\n\b\nExamples:\nthinkact profile list\n"
                               "thinkact profile sync smollm2\nTHINKACT_PROFILE=smollm2 bash scripts/run-pipeline.sh",
                          no_args_is_help=True, cls=Group, context_settings=CONTEXT)
NAME = Annotated[str, typer.Argument(metavar="NAME", help="A profile: default or the name of a profiles/*.yaml.")]


@profile_app.command("list", cls=Command)
def profile_list() -> None:
    """Every profile, its model and the keys it changes.

    Examples:
    thinkact profile list
    """
    for name in profiles.available():
        params = profiles.load_profile(name)
        keys = profiles.changed_keys(name)
        changes = f"{len(keys)} keys: {', '.join(keys[:6])}{', …' if len(keys) > 6 else ''}" if keys else "params.yaml"
        print(f"{name:12} {params.model.base:24} {params.paths.outputs:28} {changes}")


@profile_app.command("show", cls=Command)
def profile_show(name: NAME) -> None:
    """The keys a profile sets, with their values (YAML), then where its pipeline, params and outputs are.

    Examples:
    thinkact profile show smollm2
    """
    import yaml

    params = profiles.load_profile(name)
    print(yaml.safe_dump(profiles.read_overlay(name), sort_keys=False, width=120).rstrip() if name != "default"
          else "# default: params.yaml as it is")
    print(f"# pipeline: {profiles.pipeline_file(name).name if name == 'default' else profiles.pipeline_file(name)}"
          f"  params: {profiles.params_file(name)}  outputs: {params.paths.outputs}")


@profile_app.command("sync", cls=Command)
def profile_sync(name: NAME) -> None:
    """Write the profile's merged params (profiles/NAME/params.yaml) and DVC pipeline (profiles/NAME/dvc.yaml) from
    params.yaml, dvc.yaml and profiles/NAME.yaml; only files whose text changes are rewritten. The flow and
    scripts/run-pipeline.sh do this themselves; run it before `dvc repro` / `dvc exp run` on a profile.

    Examples:
    thinkact profile sync smollm2 && dvc repro profiles/smollm2/dvc.yaml
    """
    path = profiles.write_pipeline(name)
    print(f"{path}  (dvc repro {path.relative_to(profiles.PROJECT_ROOT)})")
