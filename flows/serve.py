"""The scheduled deployment of the pipeline flow; its cron and timezone come from params.yaml `schedule` only.

Two ways to run it on a schedule, both reading the same `schedule:` section:

    python -m flows.serve                    # serve: this process holds the schedule and runs the flow itself
    prefect deploy --name scheduled-gpu      # prefect.yaml: a process work pool (e.g. a GPU machine's worker);
                                             # its build steps call `python -m flows.serve --print cron|timezone`

A scheduled run reruns every stage through DVC: an unchanged stage is skipped, so a run with no new data,
code or params takes seconds. A bad cron or timezone stops with one message naming the key.

    python -m flows.serve --print cron       # what prefect.yaml reads (also: --print timezone)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from thinkact.project import PARAMS_FILE
from thinkact.config import ScheduleParams, load_params
from thinkact.errors import ConfigError, ThinkactError

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENT = "scheduled"


def schedule_params(project: Path = ROOT) -> ScheduleParams:
    """params.yaml `schedule`, its cron and timezone checked the way Prefect's scheduler reads them."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    params = load_params(Path(project) / PARAMS_FILE).schedule
    try:
        CronSchedule(cron=params.cron)
    except ValidationError as e:
        raise ConfigError("schedule.cron", f"{params.cron!r} is not a valid cron expression "
                          f"({e.errors()[0]['msg']}); e.g. \"0 3 * * *\" for 03:00 every day") from None
    try:
        CronSchedule(cron=params.cron, timezone=params.timezone)
    except ValidationError:
        raise ConfigError("schedule.timezone", f"{params.timezone!r} is not an IANA timezone; "
                          "e.g. UTC or Europe/Berlin") from None
    return params


def deployment(project: Path = ROOT, name: str = DEPLOYMENT):  # -> prefect RunnerDeployment
    """The pipeline flow as a deployment named `name` with the cron schedule of params.yaml."""
    from prefect.schedules import Cron

    from flows.pipeline import pipeline

    schedule = schedule_params(project)
    return pipeline.to_deployment(
        name=name, schedules=[Cron(schedule.cron, timezone=schedule.timezone)],
        description=f"thinkact pipeline on cron '{schedule.cron}' ({schedule.timezone}), from params.yaml `schedule`",
        tags=["thinkact"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--print", choices=["cron", "timezone"], dest="field",
                        help="print params.yaml schedule.<field> and exit (prefect.yaml's build steps)")
    parser.add_argument("--name", default=DEPLOYMENT, help=f"deployment name (default: {DEPLOYMENT})")
    args = parser.parse_args(argv)
    try:
        if args.field:
            print(getattr(schedule_params(), args.field))
            return 0
        from prefect import serve

        serve(deployment(name=args.name))  # blocks: polls the schedule and runs the flow here
    except ThinkactError as e:
        print(f"serve: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
