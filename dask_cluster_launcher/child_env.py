"""The environment of the processes the launcher starts: cluster hosts, and through them local
workers and batch jobs (``sbatch`` hands the submitting process's whole environment to the job
unless told otherwise; ``qsub`` only what ``-V``/``-v`` name, and dask-jobqueue names none).

A Jupyter server's environment holds its secrets: JupyterHub's API token (which acts as the
user towards the Hub and other services), the server's own token, a service's credentials. A
worker runs whatever code reaches it and a batch job's environment is stored by the batch
system, so none of them are passed on: a variable whose name matches a deny pattern
(shell-style, case-insensitive; ``ClusterLauncherApp.child_env_deny``) is left out, and so is
one whose value holds a secret this process knows (the Jupyter server's token).

Every host is started with :func:`child_environment`; the server and the Python API set the
policy from their settings with :func:`configure` (a property of the process, like its
environment itself).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Names never passed on unless the operator changes the list (``child_env_deny``).
DEFAULT_DENY = (
    "*_TOKEN",
    "*_TOKENS",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*_API_KEY",
    "*PRIVATE_KEY*",
    "JUPYTERHUB_API_*",
    "JPY_*",
)
#: A secret value shorter than this is matched whole only (a short one appears by chance).
MIN_CONTAINED_SECRET = 8


@dataclass(frozen=True)
class ChildEnvPolicy:
    deny: tuple[str, ...] = DEFAULT_DENY
    #: Values that must not be passed on under any name (the server's token).
    secret_values: frozenset[str] = frozenset()

    def denied(self, name: str, value: str) -> bool:
        upper = name.upper()
        if any(fnmatch.fnmatchcase(upper, pattern.upper()) for pattern in self.deny):
            return True
        return any(
            value == secret or (len(secret) >= MIN_CONTAINED_SECRET and secret in value)
            for secret in self.secret_values
        )

    def apply(self, environ: Mapping[str, str]) -> dict[str, str]:
        return {name: value for name, value in environ.items() if not self.denied(name, value)}


_policy = ChildEnvPolicy()


def configure(deny: Iterable[str], secret_values: Iterable[str | None] = ()) -> None:
    """Set this process's policy: the deny patterns and the secret values it knows."""
    global _policy
    secrets = frozenset(value for value in secret_values if value)
    _policy = ChildEnvPolicy(tuple(deny), secrets)


def policy() -> ChildEnvPolicy:
    return _policy


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) without what the policy keeps from children."""
    return _policy.apply(os.environ if environ is None else environ)
