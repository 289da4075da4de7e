"""What the batch directives of a launch may say: the launcher's job name, and nothing that a
form field, an operator's limit or a profile's lock governs.

- **The job name.** Every job is named ``dcl-<cluster id>`` so that its jobs are found, watched
  and reaped by name (after a crash too). Extra directives that rename a job, skip values that
  would drop the name directive, and prologue lines the batch system could read as directives
  are refused, naming the entry.
- **Governed options.** An extra directive may not set the time, memory, CPUs, nodes, tasks,
  array, account, partition/queue, QOS or generic resources of a job: ``--time=99:00:00``
  would run past ``max_walltime``, ``--account=other`` past a locked account, ``--array=0-99``
  past ``max_workers``. Each batch system has a table of the options that set them (long and
  short names; sbatch takes any unambiguous abbreviation of a long name, so a word that
  abbreviates a governed name counts as that name). The refusal names the entry.
- **Skipped directives.** dask-jobqueue drops each line of its own header that contains a skip
  value: a value that would drop the time, partition/queue, account or project line is refused
  (the field would be ignored; leave it empty instead). The memory line may be dropped, for
  sites that refuse ``--mem``, unless the site limits memory (see ``limits.py``).
- **The user's dask config.** dask-jobqueue reads ``jobqueue.<section>.*`` for every argument
  left out, so a ``job-extra`` or ``job-mem`` there would add directives behind the form's
  back: the launcher's jobs are made with those keys cleared (``submission.form_owned_config``);
  the form's defaults already start from that config.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dask.utils import parse_bytes

from ...errors import shorten
from ..base import require
from .jobqueue import JOB_NAME_PREFIX

_ID_DIGITS = frozenset(string.hexdigits.lower())
_ID_LENGTH = 12  # cluster ids are uuid4().hex[:12]

# sbatch's short options that take an argument (-k an optional one): in a cluster such as
# "-pJupiter" everything after one of them is its argument. Any other letter is taken as a flag,
# which can only refuse more.
_SBATCH_OPTIONS_WITH_ARGUMENT = frozenset("aABbcCdDeFGiLkmMnNopqStwx")


def _after(directive: str, prefix: str) -> list[str]:
    """The directive's words, without the prefix dask-jobqueue puts in front anyway."""
    text = directive.strip()
    return (text[len(prefix) :] if text.startswith(prefix) else text).split()


def slurm_sets_job_name(directive: str) -> bool:
    """Whether an ``#SBATCH`` directive sets the job name: ``-J``, also inside a cluster of short
    options (``-vJx``), or ``--job-name`` or any abbreviation sbatch accepts (``--job``)."""
    for word in _after(directive, "#SBATCH"):
        if word.startswith("--"):
            option = word[2:].partition("=")[0]
            if option and "job-name".startswith(option):
                return True
        elif word.startswith("-"):
            for letter in word[1:]:
                if letter == "J":
                    return True
                if letter in _SBATCH_OPTIONS_WITH_ARGUMENT:
                    break
    return False


def sge_sets_job_name(directive: str) -> bool:
    """Whether a ``#$`` directive sets the job name (``-N``; one line may hold several options)."""
    return "-N" in _after(directive, "#$")


def skips_name_line(skip: str, name_line_prefix: str) -> bool:
    """Whether dask-jobqueue would drop the name directive for this skip value.

    It drops every generated directive line that contains a skip value (a substring test), so a
    value is refused when it fits in ``<name_line_prefix><cluster id>`` for some cluster id.
    """
    if skip in name_line_prefix:  # the empty string included: it would drop every line
        return True
    for split in range(len(skip)):
        head, tail = skip[:split], skip[split:]
        fits_id = len(tail) <= _ID_LENGTH and set(tail) <= _ID_DIGITS
        if fits_id and name_line_prefix.endswith(head):
            return True
    return False


def check_job_name_kept(
    options: dict[str, Any], directive_prefix: str, sets_name: Callable[[str], bool]
) -> None:
    """Raise InvalidRequest for the first entry that would rename a job or drop its name.

    ``directive_prefix``: ``#SBATCH -J`` or ``#$ -N``, as dask-jobqueue writes the name line.
    """
    for index, directive in enumerate(options.get("job_extra_directives", [])):
        require(
            not sets_name(directive),
            f"options.job_extra_directives.{index}",
            "may not set the job name: the launcher names every job to find it again",
        )
    name_line = f"{directive_prefix} {JOB_NAME_PREFIX}"
    for index, skip in enumerate(options.get("job_directives_skip", [])):
        require(
            not skips_name_line(skip, name_line),
            f"options.job_directives_skip.{index}",
            f"would also leave out the job's name directive ({name_line}<cluster id>) for "
            "some cluster ids: skipping is by substring, so choose a longer value",
        )
    for index, command in enumerate(options.get("job_script_prologue", [])):
        require(
            not command.lstrip().startswith("#"),
            f"options.job_script_prologue.{index}",
            "is a comment, which the batch system could read as a directive: put directives "
            "in the extra directives field",
        )


# --- options a form field, a limit or a lock governs ----------------------------------------------
@dataclass(frozen=True)
class Governs:
    """What a batch option sets, and where the user sets it instead."""

    what: str
    instead: str


TIME = Governs("the job's time limit", "use the walltime field")
MEMORY = Governs("the job's memory", "use the memory field")
CPUS = Governs("the job's CPUs", "use the cores field")
NODES = Governs("the job's nodes", "each job is one worker's (or one MPI job's) node")
TASKS = Governs("the job's tasks", "each job runs one task (an MPI job: workers + 1)")
ARRAY = Governs("a job array", "each worker is a job of its own, counted in the workers")
ACCOUNT = Governs("the account", "use the account field")
PARTITION = Governs("the partition", "use the partition field")
QUEUE = Governs("the queue", "use the queue field")
PROJECT = Governs("the project", "use the project field")
QOS = Governs("the QOS", "use the QOS field")
GRES = Governs("the job's generic resources (GPUs)", "use the GRES field")
PARALLEL = Governs("the job's slots", "use the parallel environment and cores fields")
CLUSTER = Governs(
    "the cluster the job goes to",
    "the launcher watches and cancels its jobs where its batch commands run",
)

#: sbatch's long options (without ``--``) that set what the form governs.
SLURM_LONG: Mapping[str, Governs] = {
    **dict.fromkeys(("time", "time-min"), TIME),
    **dict.fromkeys(("mem", "mem-per-cpu", "mem-per-gpu"), MEMORY),
    **dict.fromkeys(
        (
            "cpus-per-task",
            "cpus-per-gpu",
            "mincpus",
            "sockets-per-node",
            "cores-per-socket",
            "threads-per-core",
            "extra-node-info",
            "core-spec",
            "thread-spec",
            "overcommit",
            "exclusive",  # without =user or =mcs: every CPU and GRES of the node
        ),
        CPUS,
    ),
    **dict.fromkeys(("nodes", "nodelist", "nodefile", "use-min-nodes"), NODES),
    **dict.fromkeys(
        ("ntasks", "ntasks-per-node", "ntasks-per-core", "ntasks-per-socket", "ntasks-per-gpu"),
        TASKS,
    ),
    "array": ARRAY,
    "account": ACCOUNT,
    "partition": PARTITION,
    "qos": QOS,
    **dict.fromkeys(
        (
            "gres",
            "gpus",
            "gpus-per-node",
            "gpus-per-socket",
            "gpus-per-task",
            "tres-per-task",
        ),
        GRES,
    ),
    "clusters": CLUSTER,
}
#: sbatch's short options that set what the form governs (``-J`` is the job name's check).
SLURM_SHORT: Mapping[str, Governs] = {
    "t": TIME,
    "c": CPUS,
    "B": CPUS,
    "S": CPUS,
    "O": CPUS,
    "N": NODES,
    "w": NODES,
    "F": NODES,
    "n": TASKS,
    "a": ARRAY,
    "A": ACCOUNT,
    "p": PARTITION,
    "q": QOS,
    "G": GRES,
    "M": CLUSTER,
}
#: ``--exclusive=user`` and ``=mcs`` only keep other users off the node: no more CPUs.
_SLURM_SHARING_VALUES = {"exclusive": {"user", "mcs"}}

#: qsub's options that set what the form governs (qsub takes no abbreviations, and an
#: option's argument is always a word of its own).
SGE_OPTIONS: Mapping[str, Governs] = {
    "-q": QUEUE,
    "-masterq": QUEUE,
    "-P": PROJECT,
    "-A": ACCOUNT,
    "-pe": PARALLEL,
    "-t": ARRAY,
    "-tc": ARRAY,
    "-clear": Governs("every directive before it", "it would clear the launcher's own"),
    "-@": Governs("more options, from a file", "write each option here"),
}
#: Grid Engine resources (``-l name=value``, full names and the standard shortcuts) that set
#: what the form governs; the site's own memory resource is added by the backend.
SGE_TIME_RESOURCES = frozenset({"h_rt", "s_rt", "h_cpu", "s_cpu"})
SGE_MEMORY_RESOURCES = frozenset(
    {"h_vmem", "s_vmem", "h_data", "s_data", "h_rss", "s_rss", "mem_free", "mf"}
    | {"virtual_free", "vf", "mem_req", "mem_used"}
)
SGE_RESOURCES: Mapping[str, Governs] = {
    **dict.fromkeys(SGE_TIME_RESOURCES, TIME),
    **dict.fromkeys(SGE_MEMORY_RESOURCES, Governs(MEMORY.what, "use the memory field")),
    **dict.fromkeys(("qname", "q"), QUEUE),
    **dict.fromkeys(("exclusive", "excl"), CPUS),
}


def _refuse(index: int, directive: str, word: str, governs: Governs) -> None:
    require(
        False,
        f"options.job_extra_directives.{index}",
        f"{shorten(directive)}: {word} sets {governs.what}, which the form, the site's limits "
        f"and a profile's locks govern: {governs.instead}",
    )


def _slurm_long(word: str) -> tuple[str, Governs] | None:
    option, _, value = word[2:].partition("=")
    if not option:
        return None
    if value in _SLURM_SHARING_VALUES.get(option, ()):
        return None
    for name, governs in SLURM_LONG.items():
        if name.startswith(option):  # the name or an abbreviation sbatch would take for it
            return f"--{name}", governs
    return None


def _slurm_short(word: str) -> tuple[str, Governs] | None:
    for letter in word[1:]:
        if letter in SLURM_SHORT:
            return f"-{letter}", SLURM_SHORT[letter]
        if letter in _SBATCH_OPTIONS_WITH_ARGUMENT:
            break
    return None


def check_slurm_directives(options: dict[str, Any]) -> None:
    """Refuse an extra ``#SBATCH`` directive that sets what the form governs (naming it).

    Every word is read as sbatch could read it (an option's argument in a word of its own is
    read as an option too: that can only refuse more)."""
    for index, directive in enumerate(options.get("job_extra_directives", [])):
        for word in _after(directive, "#SBATCH"):
            found = None
            if word.startswith("--"):
                found = _slurm_long(word)
            elif word.startswith("-"):
                found = _slurm_short(word)
            if found:
                _refuse(index, directive, *found)


def sge_resources(resource_list: str) -> list[str]:
    """The resource names of a ``-l`` argument (``h_rt=1:0:0,mf=2G,gpu``), in lower case (a
    name is looked up in the site's complexes whatever its case)."""
    names = (item.partition("=")[0].strip().lower() for item in resource_list.split(","))
    return [name for name in names if name]


def check_sge_directives(options: dict[str, Any], memory_resource: str) -> None:
    """Refuse an extra ``#$`` directive that sets what the form governs (naming it), and a
    resource spec that sets the time, the queue or the CPUs (its memory is checked against the
    memory field and the site's limits)."""
    resources = {**SGE_RESOURCES, memory_resource.lower(): SGE_RESOURCES["h_vmem"]}
    for index, directive in enumerate(options.get("job_extra_directives", [])):
        words = _after(directive, "#$")
        for position, word in enumerate(words):
            if word in SGE_OPTIONS:
                _refuse(index, directive, word, SGE_OPTIONS[word])
            if word == "-l" and position + 1 < len(words):
                for name in sge_resources(words[position + 1]):
                    if name in resources:
                        _refuse(index, directive, f"-l {name}", resources[name])
    for name in sge_resources(options.get("resource_spec", "")):
        governs = resources.get(name)
        if governs is not None and governs.what != MEMORY.what:
            require(
                False,
                "options.resource_spec",
                f"{name} sets {governs.what}, which the form, the site's limits and a "
                f"profile's locks govern: {governs.instead}",
            )


# --- skipped directives ---------------------------------------------------------------------------
def check_skips(options: dict[str, Any], governed_lines: Mapping[str, str]) -> None:
    """Refuse a skip value that would drop one of the launcher's ``governed_lines`` (the line
    as dask-jobqueue writes it -> the field that sets it)."""
    for index, skip in enumerate(options.get("job_directives_skip", [])):
        for line, field in governed_lines.items():
            require(
                skip not in line,
                f"options.job_directives_skip.{index}",
                f"would leave out the directive {shorten(line)}, which the form's {field} field "
                "sets (the site's limits and a profile's locks apply to it): choose a value "
                "that fits none of the form's lines, or empty the field",
            )


def slurm_lines(options: dict[str, Any]) -> dict[str, str]:
    """The time, partition and account lines dask-jobqueue writes for these options."""
    lines = {f"#SBATCH -t {options['walltime']}": "walltime"}
    if options.get("queue"):
        lines[f"#SBATCH -p {options['queue']}"] = "partition"
    if options.get("account"):
        lines[f"#SBATCH -A {options['account']}"] = "account"
    return lines


def sge_lines(options: dict[str, Any], resource_spec: str) -> dict[str, str]:
    """The time, queue, project and resource lines dask-jobqueue writes for these options;
    ``resource_spec``: the one sent (the memory resource derived from the memory field)."""
    lines = {f"#$ -l h_rt={options['walltime']}": "walltime"}
    lines[f"#$ -l {resource_spec}"] = "resource spec"
    if options.get("queue"):
        lines[f"#$ -q {options['queue']}"] = "queue"
    if options.get("project"):
        lines[f"#$ -P {options['project']}"] = "project"
    return lines


def slurm_memory_line(options: dict[str, Any]) -> str | None:
    """The ``--mem`` line of a SLURM job with these options (``None`` for other backends'
    options): a site that refuses ``--mem`` may skip it, unless the site limits memory."""
    if "resource_spec" in options or not options.get("memory"):
        return None
    from dask_jobqueue.slurm import slurm_format_bytes_ceil

    return f"#SBATCH --mem={slurm_format_bytes_ceil(parse_bytes(options['memory']))}"


def memory_requests(resource_spec: str) -> Iterable[tuple[str, str]]:
    """(name, value) of the memory resources a Grid Engine resource spec asks for."""
    for item in filter(None, resource_spec.split(",")):
        name, _, value = item.partition("=")
        if name.strip().lower() in SGE_MEMORY_RESOURCES and value:
            yield name.strip(), value.strip()
