"""The command line of the batch benchmark (``benchmarks/batch.py``): one system, chosen worker
counts, its own Jupyter server.

    .venv/bin/python -m benchmarks.batch --system sge --workers 8 --repetitions 3
"""

from __future__ import annotations

import argparse
import asyncio
import os

from .batch import OPTIONS, TITLES, run
from .servers import JupyterServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time to N batch workers (see the README).")
    parser.add_argument("--system", default="slurm", choices=sorted(TITLES))
    parser.add_argument("--workers", default="8", help="worker counts, e.g. 8,64")
    parser.add_argument("--repetitions", default="3", help="per worker count, e.g. 3,1")
    parser.add_argument("--no-tls-baseline", action="store_true")
    parser.add_argument("--no-placements", action="store_true", help="beside Jupyter only")
    parser.add_argument(
        "--death-timeout",
        type=int,
        help="seconds a nanny waits for its worker, both sides (dask-jobqueue's default 60 is "
        "too short for 64 spawned workers starting at once on 2 cores)",
    )
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.workers.split(",")]
    reps = [int(x) for x in args.repetitions.split(",")]
    reps += reps[-1:] * (len(counts) - len(reps))
    args.plan = dict(zip(counts, reps, strict=False))
    return args


async def main(args: argparse.Namespace) -> None:
    from .run import machine
    from .servers import LABEXTENSION_FACTORY_ENV
    from .stats import BREAKDOWN_HEADER, TABLE_HEADER

    about = machine()
    if args.death_timeout:
        for options in OPTIONS.values():
            options["death_timeout"] = args.death_timeout
        os.environ["DCL_BENCH_DEATH_TIMEOUT"] = str(args.death_timeout)
        about += f"; death timeout {args.death_timeout} s (both sides)"
    print(about, flush=True)
    server = JupyterServer(
        {"dask_cluster_launcher": True, "dask_labextension": True}, LABEXTENSION_FACTORY_ENV
    )
    await server.start()
    stream = await server.events()
    try:
        rows, breakdown = await run(
            server,
            stream,
            args.system,
            args.plan,
            tls_baseline=not args.no_tls_baseline,
            other_placements=not args.no_placements,
        )
    finally:
        stream.close()
        await server.stop()
    notes = [f"- {row.name}: {row.note}" for row in rows if row.note]
    report = [f"Measured {about}.", "", TABLE_HEADER, *(row.markdown() for row in rows)]
    report += ["", *notes, "", BREAKDOWN_HEADER, *breakdown]
    print("\n" + "\n".join(report), flush=True)


def cli() -> None:
    asyncio.run(main(parse_args()))


if __name__ == "__main__":
    cli()
