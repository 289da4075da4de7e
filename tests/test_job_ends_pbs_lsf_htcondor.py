"""Why a job ended and what the cluster used, on PBS (Torque's wrappers over the SLURM test bed),
LSF and HTCondor (the emulators): a fixed 1-worker cluster per system, side by side, whose job
is killed at its 1-minute walltime. Its card says so, the job is replaced, and after the stop
the cluster's usage is the accounting's own (``final``)."""

from __future__ import annotations

import asyncio
from typing import Any

from dask_cluster_launcher import events
from tests.test_job_ends_batch import commands_run, walltime_is_shown_and_the_worker_replaced

__all__ = ["commands_run"]  # the fixture, shared with the SLURM and Grid Engine test

#: each system's (queue command, accounting command) and how to tell the accounting call
ACCOUNTING = {
    "pbs": (("qstat", "qstat"), lambda argv: argv[-1].isdigit()),  # qstat -f <ids>
    "lsf": (("bjobs", "bjobs"), lambda argv: "-a" in argv),  # bjobs -a -o ... <ids>
    "htcondor": (("condor_q", "condor_history"), lambda argv: argv[0] == "condor_history"),
}


async def walltime_then_final_usage(launcher_api, kind, published):
    shown_after, cluster_id = await walltime_is_shown_and_the_worker_replaced(launcher_api, kind)
    usages = [
        payload["fields"]["usage"]
        for action, cid, payload in published
        if cid == cluster_id and action == "changed" and "usage" in payload.get("fields", {})
    ]
    final = usages[-1]
    # the job that reached its walltime alone ran a minute on one core
    assert final["final"] is True and final["core_hours"] >= 60 / 3600, (kind, usages)
    return shown_after, final["core_hours"]


async def test_walltime_end_and_final_usage_on_pbs_lsf_htcondor(
    prompt_lost_workers,
    launcher_api,
    pbs_testbed,
    lsf_testbed,
    htcondor_testbed,
    commands_run,
    monkeypatch,
):
    published: list[tuple[str, str, Any]] = []
    publish = events.ClusterEventPublisher.__call__

    def recorded(self: Any, action: str, cluster_id: str, payload: Any) -> None:
        published.append((action, cluster_id, payload))
        publish(self, action, cluster_id, payload)

    monkeypatch.setattr(events.ClusterEventPublisher, "__call__", recorded)
    kinds = ("pbs", "lsf", "htcondor")
    results = await asyncio.gather(
        *(walltime_then_final_usage(launcher_api, kind, published) for kind in kinds)
    )
    for kind, (shown_after, core_hours) in zip(kinds, results, strict=True):
        names, is_accounting = ACCOUNTING[kind]
        runs = [
            command(argv)
            for _, argv, _ in commands_run
            if command(argv)[:1] in (names[:1], names[1:])
        ]
        calls = [argv for argv in runs if is_accounting(argv)]
        polls = len([argv for argv in runs if argv[0] == names[0] and not is_accounting(argv)])
        print(
            f"{kind}: walltime shown {shown_after:.1f} s after the kill, final "
            f"{core_hours:.4f} core-hours, {len(calls)} accounting calls over {polls} polls"
        )
        assert 0 < len(calls) <= polls, (kind, len(calls), polls)


def command(argv: tuple[str, ...]) -> tuple[str, ...]:
    """A batch command line past ``env PATH=...`` (the PBS test bed's), its command's name
    without its directory."""
    words = list(argv)
    while words and (words[0].endswith("env") or "=" in words[0]):
        words.pop(0)
    return (words[0].rsplit("/", 1)[-1], *words[1:]) if words else ()
