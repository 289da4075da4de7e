"""SLURM: dask_jobqueue.SLURMCluster, partitions from sinfo, job states from squeue."""

from __future__ import annotations

import os
from typing import Any

from dask.utils import parse_bytes

from . import commands, directives
from .jobqueue import JobQueueBackend, Queue


def slurm_seconds(limit: str) -> float | None:
    """sinfo's time limit ("infinite", "30:00", "1-00:00:00", "2-12") in seconds."""
    if limit in ("infinite", "UNLIMITED", "n/a", ""):
        return None
    days, _, clock = limit.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    if days:  # D-HH[:MM[:SS]]
        parts += [0] * (3 - len(parts))
        hours, minutes, seconds = parts
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    elif len(parts) == 2:
        hours, minutes, seconds = 0, parts[0], parts[1]
    else:
        hours, minutes, seconds = 0, parts[0], 0
    return int(days or 0) * 86400 + hours * 3600 + minutes * 60 + seconds


class SLURMBackend(JobQueueBackend):
    name = "slurm"
    title = "SLURM"
    schema_file = "backends/slurm.yaml"
    cluster_class_path = "dask_jobqueue.SLURMCluster"
    config_name = "slurm"
    queue_field_title = "partition"
    required_commands = ("sbatch", "squeue", "scancel", "sinfo")

    def cluster_class(self) -> type:
        from dask_jobqueue import SLURMCluster

        return SLURMCluster

    def defaults(self) -> dict[str, Any]:
        values = super().defaults()
        if os.environ.get("SLURM_JOB_ACCOUNT") and "account" not in self.config_defaults():
            values["account"] = os.environ["SLURM_JOB_ACCOUNT"]
        return values

    async def check_consistency(self, options: dict[str, Any]) -> None:
        # before the checks that ask the site: a refusal here needs no batch system
        directives.check_job_name_kept(options, "#SBATCH -J", directives.slurm_sets_job_name)
        await super().check_consistency(options)

    async def discover_queues(self) -> list[Queue]:
        out = await commands.run("sinfo", "-h", "-o", "%P|%a|%l|%c|%m")
        queues: dict[str, Queue] = {}
        for line in out.splitlines():
            name, state, limit, cpus, memory = line.split("|")
            default = name.endswith("*")
            name = name.rstrip("*")
            if name in queues:  # one line per node group: keep the smallest nodes
                continue
            queues[name] = Queue(
                name=name,
                state=state,
                time_limit=slurm_seconds(limit),
                cpus=int(cpus.rstrip("+")) if cpus.rstrip("+").isdigit() else None,
                memory=parse_bytes(memory.rstrip("+") + "MiB")
                if memory.rstrip("+").isdigit()
                else None,
                default=default,
            )
        return list(queues.values())

    def cluster_kwargs(
        self, options: dict[str, Any], *, cluster_id: str, cluster_name: str
    ) -> dict[str, Any]:
        kwargs = self.common_kwargs(options, cluster_id)
        if options["queue"]:
            kwargs["queue"] = options["queue"]
        if options["account"]:
            kwargs["account"] = options["account"]
        if options["job_extra_directives"]:
            kwargs["job_extra_directives"] = list(options["job_extra_directives"])
        return kwargs

    async def job_states(self, names: list[str]) -> dict[str, list[dict[str, Any]]]:
        out = await commands.run("squeue", "-h", "--name", ",".join(names), "-o", "%i|%j|%T|%r|%N")
        states: dict[str, list[dict[str, Any]]] = {}
        for line in out.splitlines():
            job_id, name, state, reason, node = line.split("|", 4)
            states.setdefault(name, []).append(
                {
                    "job_id": job_id,
                    "state": state,
                    "reason": None if reason in ("None", "") else reason,
                    "host": node or None,
                }
            )
        return states

    def job_log_files(self, kwargs: dict[str, Any], job_id: str) -> list[str]:
        stem = os.path.join(kwargs["log_directory"], f"{kwargs['job_name']}-{job_id}")
        return [f"{stem}.out", f"{stem}.err"]

    async def reap(self, name: str) -> None:
        await commands.run("scancel", "--name", name, check=False)
