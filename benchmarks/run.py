"""Run the benchmarks: each prints this project's figure, a baseline measured in the same run
and their ratio, as rows of a markdown table.

    python benchmarks/run.py [--quick] [--output FILE]
        [--only launch,phases,firsttask,memory,watch,responsiveness,slurm,sge,mpi,scale,submission]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import sys
import time
import traceback
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import (
    batch,
    first_task,
    launch,
    launch_phases,
    memory,
    mpi,
    responsiveness,
    scale,
    submission,
    watch,
)
from benchmarks.servers import LABEXTENSION_FACTORY_ENV, JupyterServer
from benchmarks.stats import BREAKDOWN_HEADER, TABLE_HEADER, Row

BENCHMARKS = (
    "launch",
    "phases",
    "firsttask",
    "memory",
    "watch",
    "responsiveness",
    "slurm",
    "sge",
    "mpi",
    "scale",
    "submission",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, N=4 only")
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help=f"comma-separated subset of {','.join(BENCHMARKS)}",
    )
    parser.add_argument("--output", type=Path, help="also write the report (markdown) here")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return args


def machine() -> str:
    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "?"

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {platform.node()}, "
        f"{os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; dask-cluster-launcher "
        f"{v('dask_cluster_launcher')}, distributed {v('distributed')}, "
        f"dask-jobqueue {v('dask-jobqueue')}, dask-labextension {v('dask-labextension')}, "
        f"jupyter-server {v('jupyter-server')}; load average at start {load}"
    )


async def main(args: argparse.Namespace) -> int:
    reps = 3 if args.quick else 5
    # workers -> repetitions; batch runs take 10-30 s each, the budget is < 10 min in all
    batch_reps = {4: 2} if args.quick else {4: 5, 8: 3}
    about = machine()
    print(about, flush=True)
    rows: list[Row] = []
    breakdown: list[str] = []
    phase_lines: list[str] = []  # its own columns (benchmarks/launch_phases.py)
    first_task_lines: list[str] = []  # and these (benchmarks/first_task.py)
    failed: list[str] = []
    server = JupyterServer(
        {"dask_cluster_launcher": True, "dask_labextension": True}, LABEXTENSION_FACTORY_ENV
    )
    t0 = time.monotonic()
    print(f"jupyter server with both extensions up in {await server.start():.1f} s", flush=True)
    stream = await server.events()
    try:
        for name in args.only:
            print(f"== {name}", flush=True)
            section = time.monotonic()
            try:
                if name == "launch":
                    more, lines = await launch.run(server, stream, reps)
                elif name == "phases":  # servers of its own: launcher, dask-labextension 2 ways
                    counts = (2,) if args.quick else (2, 8)
                    more, lines = await launch_phases.run(counts, 2 if args.quick else 3)
                    phase_lines += lines
                    lines = []
                elif name == "firsttask":  # servers of its own; fresh kernels (~1-2 min)
                    more, first_task_lines = await first_task.run(reps)
                    lines = []
                elif name == "memory":  # PSS per cluster, servers of its own (2-5 min)
                    more, lines = await memory.run()
                elif name == "watch":
                    more, lines = await watch.run(server, stream, reps), []
                elif name == "responsiveness":
                    # its own server (launcher only, private config); one pair, ~100 s
                    more, lines = await responsiveness.run(1)
                elif name == "mpi":  # one dask-mpi job vs N SLURM jobs, same test bed
                    more, lines = await mpi.run(server, stream, batch_reps)
                elif name == "scale":  # a 1,000-worker model, then 128 thread workers (~2 min)
                    more, lines = await scale.run(server, stream), []
                elif name == "submission":  # 100 held jobs, launcher vs raw dask-jobqueue
                    more, lines = await submission.run(1 if args.quick else 3)
                else:
                    more, lines = await batch.run(server, stream, name, batch_reps)
                rows += more
                breakdown += lines
            except Exception:
                traceback.print_exc()
                failed.append(name)
            print(f"   ({name}: {time.monotonic() - section:.0f} s)", flush=True)
    finally:
        stream.close()
        await server.stop()
    report = [f"Measured {about}; total {time.monotonic() - t0:.0f} s.", "", TABLE_HEADER]
    report += [row.markdown() for row in rows]
    notes = [f"- {row.name}: {row.note}" for row in rows if row.note]
    if notes:
        report += ["", *notes]
    if breakdown:
        report += [
            "",
            "Where the time goes (medians; seconds from the launch request, except",
            "'last join -> shown'):",
            "",
        ]
        report += [BREAKDOWN_HEADER, *breakdown]
    if phase_lines:
        report += ["", "A local launch step by step (medians; seconds from the request):", ""]
        report += phase_lines
    if first_task_lines:
        report += ["", "The first task's result step by step (medians; seconds from the request):"]
        report += ["", *first_task_lines]
    if failed:
        report += ["", f"FAILED: {', '.join(failed)} (see the traceback above)"]
    text = "\n".join(report)
    print("\n" + text, flush=True)
    if args.output:
        args.output.write_text(text + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
