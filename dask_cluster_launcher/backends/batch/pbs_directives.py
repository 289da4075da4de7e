"""What a PBS launch's ``#PBS`` directives and resource request may say (the rules of
``directives.py``, for qsub's options and PBS resources).

qsub takes no abbreviations and an option's argument is a word of its own (``-l walltime=1:00:00``),
so each word is an option or an argument. A resource request is ``name=value`` items separated
by commas; PBS Pro's chunks (``select=1:ncpus=4:mem=8gb``) and Torque's node specs
(``nodes=1:ppn=4``) hold more ``name=value`` items after colons: every one is a resource.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from dask.utils import parse_bytes

from ..base import require
from . import directives
from .directives import ACCOUNT, ARRAY, CPUS, MEMORY, NODES, QUEUE, TIME, Governs
from .pbs_formats import pbs_bytes

#: qsub's options that set what the form governs (``-N``, the name, is checked on its own).
PBS_OPTIONS: Mapping[str, Governs] = {
    "-q": QUEUE,
    "-A": ACCOUNT,
    "-J": ARRAY,  # PBS Pro
    "-t": ARRAY,  # Torque
    "-C": Governs("the directive prefix", "the launcher's directives use #PBS"),
}
#: ``-W name=value`` attributes that do the same (Torque's group_list picks the account the
#: SLURM wrappers charge; a depend or umask is the user's)
PBS_W_ATTRIBUTES: Mapping[str, Governs] = {"group_list": ACCOUNT}
TIME_RESOURCES = frozenset({"walltime", "cput", "pcput", "soft_walltime", "min_walltime"})
MEMORY_RESOURCES = frozenset({"mem", "vmem", "pmem", "pvmem", "mppmem"})
CPU_RESOURCES = frozenset({"ncpus", "ppn", "mpiprocs", "ompthreads", "mppdepth", "mppnppn"})
NODE_RESOURCES = frozenset({"select", "nodes", "mppwidth", "mppnodes", "procs", "place"})
RESOURCES: Mapping[str, Governs] = {
    **dict.fromkeys(TIME_RESOURCES, TIME),
    **dict.fromkeys(MEMORY_RESOURCES, MEMORY),
    **dict.fromkeys(CPU_RESOURCES, CPUS),
    **dict.fromkeys(NODE_RESOURCES, NODES),
}
#: a chunk count ("select=1", "nodes=1") or Torque's node spec ("nodes=1:ppn=4"): one node
_ONE_NODE = re.compile(r"^1(:|$)")


def resources(request: str) -> list[tuple[str, str]]:
    """(lower-case name, value) of every resource a ``-l`` argument or resource spec asks for,
    the chunk's items too (``select=1:ncpus=4`` -> select=1, ncpus=4)."""
    found = []
    for item in filter(None, re.split(r"[,:+]", request)):
        name, _, value = item.partition("=")
        if name.strip():
            found.append((name.strip().lower(), value.strip()))
    return found


def sets_job_name(directive: str) -> bool:
    """Whether a ``#PBS`` directive sets the job name (``-N``; one line may hold several)."""
    return "-N" in directives._after(directive, "#PBS")


def check_directives(options: dict[str, Any]) -> None:
    """Refuse an extra ``#PBS`` directive that sets what the form governs, naming it."""
    for index, directive in enumerate(options.get("job_extra_directives", [])):
        words = directives._after(directive, "#PBS")
        for position, word in enumerate(words):
            argument = words[position + 1] if position + 1 < len(words) else ""
            if word in PBS_OPTIONS:
                directives._refuse(index, directive, word, PBS_OPTIONS[word])
            if word == "-W":
                name = argument.partition("=")[0]
                if name in PBS_W_ATTRIBUTES:
                    directives._refuse(index, directive, f"-W {name}", PBS_W_ATTRIBUTES[name])
            if word == "-l":
                for name, _ in resources(argument):
                    if name in RESOURCES:
                        directives._refuse(index, directive, f"-l {name}", RESOURCES[name])


def check_resource_spec(options: dict[str, Any]) -> None:
    """The resource spec asks for one node, no time (the walltime field), and no more cores or
    memory than the fields (which the site's limits and a profile's locks govern)."""
    per_job = parse_bytes(options["memory"])
    for name, value in resources(options.get("resource_spec", "")):
        where = "options.resource_spec"
        if name in TIME_RESOURCES:
            require(False, where, f"{name} sets {TIME.what}: {TIME.instead}")
        if name in ("select", "nodes"):
            require(
                bool(_ONE_NODE.match(value)), where, f"{name}={value}: {NODES.instead} ({name}=1)"
            )
        elif name in NODE_RESOURCES:
            require(False, where, f"{name} sets {NODES.what}: {NODES.instead}")
        if name in CPU_RESOURCES:
            require(
                value.isdigit() and int(value) <= options["cores"],
                where,
                f"{name}={value} asks for more than the cores per job ({options['cores']}): "
                "set the cores field instead (the site's limits apply to it)",
            )
        if name in MEMORY_RESOURCES:
            # "mem=4gb" beside a memory field of "4 GB" means the same (PBS's gb is GiB)
            size = pbs_bytes(value, binary=False)
            require(
                size is not None and size <= per_job,
                where,
                f"{name}={value} is more than the memory per job ({options['memory']}): set "
                "the memory field instead (the site's limits apply to it)",
            )


def governed_lines(options: dict[str, Any]) -> dict[str, str]:
    """The time, queue, account and resource lines dask-jobqueue writes (a skip value may
    not drop them)."""
    lines = {f"#PBS -l walltime={options['walltime']}": "walltime"}
    if options.get("resource_spec"):
        lines[f"#PBS -l {options['resource_spec']}"] = "resource spec"
    if options.get("queue"):
        lines[f"#PBS -q {options['queue']}"] = "queue"
    if options.get("account"):
        lines[f"#PBS -A {options['account']}"] = "account"
    return lines


def check(options: dict[str, Any], default_resource_line: Iterable[str] = ()) -> None:
    """Every rule, before anything asks the site."""
    directives.check_job_name_kept(options, "#PBS -N", sets_job_name)
    check_directives(options)
    check_resource_spec(options)
    lines = governed_lines(options)
    lines.update(dict.fromkeys(default_resource_line, "cores and memory"))
    directives.check_skips(options, lines)
