"""Batch directives a user adds or leaves out must keep the launcher's job name.

Every job is named ``dcl-<cluster id>`` so that its jobs are found, watched and reaped by name
(after a crash too). Extra directives that rename a job, skip values that would drop the name
directive, and prologue lines the batch system could read as directives are refused, naming the
entry.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

from .base import require
from .jobqueue import JOB_NAME_PREFIX

_ID_DIGITS = frozenset(string.hexdigits.lower())
_ID_LENGTH = 12  # cluster ids are uuid4().hex[:12]

# sbatch's short options that take an argument: in a cluster such as "-pJupiter" everything after
# one of them is its argument. Any other letter is taken as a flag, which can only refuse more.
_SBATCH_OPTIONS_WITH_ARGUMENT = frozenset("aABcCdDeFGiLmMnNopqStwx")


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
