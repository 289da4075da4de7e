"""``dask-cluster-launcher``: profiles from the command line, for users and site administrators,
and clusters started from them (``start``, ``clusters``, ``stop``) as the sidebar starts them.

It reads the same settings as the server (``c.ClusterLauncherApp.*`` in the Jupyter config, see
``config``): the site's profile directories, limits and batch command prefix.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import yaml
from traitlets import TraitError

from .api import run_sync, start_cluster, stop_cluster
from .config import launcher_requests
from .errors import LauncherError
from .hosting.records import default_records_dir, read_records
from .requests import RequestResolver


def _requests() -> RequestResolver:
    return launcher_requests()


def list_profiles(requests: RequestResolver, _: argparse.Namespace) -> int:
    for profile in requests.profiles.list():
        state = f"BROKEN: {profile.error}" if profile.error else profile.title or profile.name
        print(f"{profile.name:24} {profile.source:8} {profile.backend or '-':7} {state}")
    return 0


def show(requests: RequestResolver, args: argparse.Namespace) -> int:
    profile = requests.profiles.get(args.profile)
    print(f"# {profile.source} profile from {profile.path}")
    print(yaml.safe_dump(profile.to_file(), sort_keys=False), end="")
    return 0


def script(requests: RequestResolver, args: argparse.Namespace) -> int:
    plan = run_sync(requests.resolve({"profile": args.profile}))
    preview = plan.preview()
    print(preview["job_script"] if args.kind == "job" else preview["code"], end="")
    if args.kind == "job" and preview["job_script"] is None:
        print(f"{args.profile} runs no batch jobs; use --python for its code", file=sys.stderr)
    return 0


def check(requests: RequestResolver, _: argparse.Namespace) -> int:
    failures = 0
    for profile in requests.profiles.list():
        if profile.error:
            failures += 1
            print(f"FAIL {profile.path}: {profile.error}")
        else:
            print(f"ok   {profile.path}")
    return 1 if failures else 0


def start(_: RequestResolver, args: argparse.Namespace) -> int:
    scaling: dict[str, Any] | None = None
    if args.adapt:
        scaling = {"adapt": {"minimum": args.adapt[0], "maximum": args.adapt[1]}}
    elif args.workers is not None:
        scaling = {"workers": args.workers}
    started = start_cluster(args.profile, scaling, timeout=args.timeout)
    print(f"# cluster {started['id']} at {started['scheduler_address']}")
    print(f"# stop it with: dask-cluster-launcher stop {started['id']} (or from the sidebar)")
    print(started["code"], end="")
    return 0


def clusters(_: RequestResolver, __: argparse.Namespace) -> int:
    for record in read_records(default_records_dir()):
        if record.alive():
            spec = record.spec
            print(f"{spec.cluster_id}  {spec.backend:8} {spec.name:24} {spec.created}")
    return 0


def stop(_: RequestResolver, args: argparse.Namespace) -> int:
    stop_cluster(args.cluster_id)
    print(f"stopped {args.cluster_id}")
    return 0


def usage(_: RequestResolver, args: argparse.Namespace) -> int:
    """What the user's stopped batch clusters used, per cluster and per day (the usage log
    the server keeps in the private directory, see ``usage_log``)."""
    from pathlib import Path

    from .config import launcher_settings
    from .usage import shown_hours
    from .usage_log import per_day, read

    root = Path(os.path.expanduser(args.private_dir or launcher_settings().private_dir))
    lines = read(root)
    if not lines:
        print(f"no stopped batch cluster recorded in {root}")
        return 0
    print("stopped                    cluster       backend  core-hours  GPU-hours  name")
    for line in lines[-args.last :]:
        exact = "" if line.final else "~"  # the live estimate: the accounting never answered
        core, gpu = shown_hours(line.core_hours), shown_hours(line.gpu_hours)
        print(
            f"{line.stopped[:25]:26} {line.cluster_id:13} {line.backend:8} "
            f"{exact + core:>10}  {gpu:>9}  {line.name}"
        )
    print("\nday          clusters  core-hours  GPU-hours")
    for day, total in per_day(lines).items():
        print(
            f"{day:12} {total['clusters']:8}  {shown_hours(total['core_hours']):>10}  "
            f"{shown_hours(total['gpu_hours']):>9}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dask-cluster-launcher",
        description="Dask cluster profiles (built-in, site, user) and clusters started from them.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("profiles", help="list every profile with its source").set_defaults(
        run=list_profiles
    )
    show_parser = commands.add_parser("show", help="print a profile")
    show_parser.add_argument("profile")
    show_parser.set_defaults(run=show)
    script_parser = commands.add_parser("script", help="print the job script a profile submits")
    script_parser.add_argument("profile")
    script_parser.add_argument(
        "--python",
        dest="kind",
        action="store_const",
        const="python",
        default="job",
        help="print the equivalent Python code instead",
    )
    script_parser.set_defaults(run=script)
    commands.add_parser("check", help="validate every profile (exit 1 on errors)").set_defaults(
        run=check
    )
    start_parser = commands.add_parser(
        "start",
        help="start a cluster in a process of its own (shown in your Jupyter sidebar) and "
        "print the notebook code that connects to it",
    )
    start_parser.add_argument("profile")
    sizes = start_parser.add_mutually_exclusive_group()
    sizes.add_argument("--workers", type=int, help="a fixed number of workers")
    sizes.add_argument("--adapt", type=int, nargs=2, metavar=("MIN", "MAX"), help="adaptive")
    start_parser.add_argument("--timeout", type=float, default=120.0, help="seconds to start")
    start_parser.set_defaults(run=start)
    commands.add_parser("clusters", help="list your running clusters").set_defaults(run=clusters)
    stop_parser = commands.add_parser("stop", help="stop a cluster and cancel its jobs")
    stop_parser.add_argument("cluster_id")
    stop_parser.set_defaults(run=stop)
    usage_parser = commands.add_parser(
        "usage",
        help="core-hours and GPU-hours your stopped batch clusters used, per cluster and per "
        "day (~: the live estimate, where the accounting did not answer)",
    )
    usage_parser.add_argument("--last", type=int, default=50, help="clusters listed (newest)")
    usage_parser.add_argument("--private-dir", help="the private directory (default: the config's)")
    usage_parser.set_defaults(run=usage)
    args: Any = parser.parse_args(argv)
    try:
        return int(args.run(_requests(), args))
    except LauncherError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except TraitError as exc:  # a setting in the Jupyter config
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
