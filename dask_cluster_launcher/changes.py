"""A cluster's changes as small patches, so what is sent costs what changed, not the cluster's size.

A patch holds the plain fields that changed (``fields``) and, per list of rows (workers by name,
batch jobs by id), the rows added or changed (``upsert``) and the keys of rows removed
(``remove``). At 400 workers one worker joining is one row, not 400. ``src/model.ts`` applies
patches the same way ``apply`` does.

Patches travel twice: from a cluster's host to the server (``VersionedModel`` on the host answers
"what changed since version v"; ``Mirror`` on the server keeps the host's model), then from the
server to the sidebar (``RowTable`` holds a cluster's rows and what was not published yet).
Rows are replaced, never changed in place: a patch and the tables may share them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, TypedDict

#: The lists of rows in a cluster model, and the field that identifies a row in each.
ROW_KEYS = {"workers": "name", "jobs": "job_id"}

Row = dict[str, Any]


class WorkerRow(TypedDict):
    """A worker as the sidebar shows it (``IWorker`` in ``src/types.ts``)."""

    name: str
    address: str
    host: str
    nthreads: int
    memory_limit: int  # bytes
    status: str
    job_id: str | None


class JobRow(TypedDict):
    """A batch job (``IJob`` in ``src/types.ts``); ``time_left``: seconds, whole minutes."""

    job_id: str
    state: str
    reason: str | None
    host: str | None
    time_left: int | None
    estimated_start: str | None  # a pending job: ISO 8601, where the batch system estimates
    exit_code: int | None  # a job that ended, where the batch system says
    error: str | None  # a job that ended before its worker joined: its log's last error line
    end: JobEnd | None  # why it ended, from the accounting (see job_ends)


class JobEnd(TypedDict):
    """How a job ended (``IJobEnd``): ``state`` in SLURM's words, ``reason`` in words
    ("reached its walltime (00:01:00)"), ``ended_at`` ISO 8601."""

    state: str
    reason: str | None
    exit_code: int | None
    ended_at: str | None


class RowsPatch(TypedDict, total=False):
    upsert: list[Row]
    remove: list[str]


class ClusterPatch(TypedDict, total=False):
    """What changed in a cluster (``IClusterPatch``): the ``changes`` of a ``changed`` event."""

    fields: dict[str, Any]
    workers: RowsPatch
    jobs: RowsPatch


class HostPatch(TypedDict, total=False):
    """A host's answer to ``watch(since)``: what changed from version ``since`` to ``version``;
    with ``full``, every field and every row (start over: ``since`` was 0, too old or unknown)."""

    version: int
    full: bool
    fields: dict[str, Any]
    workers: RowsPatch


# --- diffing and applying whole models (tests, benchmarks, clients) ---------------------------
def diff_rows(old: list[Row], new: list[Row], key: str) -> dict[str, Any]:
    before = {row[key]: row for row in old}
    after = {row[key]: row for row in new}
    upsert = [row for name, row in after.items() if before.get(name) != row]
    remove = [name for name in before if name not in after]
    return dict(_rows_patch(upsert, remove))


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The patch that turns model ``old`` into ``new`` (empty when they are equal)."""
    patch: dict[str, Any] = {}
    fields = {}
    for name, value in new.items():
        if name in ROW_KEYS:
            rows = diff_rows(old.get(name) or [], value or [], ROW_KEYS[name])
            if rows:
                patch[name] = rows
        elif old.get(name) != value:
            fields[name] = value
    if fields:
        patch["fields"] = fields
    return patch


def apply_rows(rows: list[Row], patch: dict[str, Any], key: str) -> list[Row]:
    """Rows after a row patch: changed rows in place, new ones at the end, removed ones gone."""
    upserts = {row[key]: row for row in patch.get("upsert", [])}
    removed = set(patch.get("remove", []))
    result = [upserts.pop(row[key], row) for row in rows if row[key] not in removed]
    return result + list(upserts.values())


def apply(model: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A new model with ``patch`` applied to ``model``."""
    result = {**model, **patch.get("fields", {})}
    for name, key in ROW_KEYS.items():
        if name in patch:
            result[name] = apply_rows(model.get(name) or [], patch[name], key)
    return result


# --- the host's side: what changed since a version --------------------------------------------
#: Removed rows remembered, so a watcher that is behind learns what left; one further behind
#: gets the whole model.
MAX_TOMBSTONES = 4096


class VersionedRows:
    """Rows by key, each with the version of its last change, and tombstones of removed rows,
    both in the order of their versions: what changed since version v is read from the newest
    end, so it costs what changed, not how many rows there are."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.rows: dict[str, Row] = {}
        self._live: OrderedDict[str, int] = OrderedDict()  # key -> version, oldest first
        self._removed: OrderedDict[str, int] = OrderedDict()
        #: Removals up to this version are forgotten: a watcher behind it starts over.
        self.forgotten = 0

    def replace(self, rows: Iterable[Row], version: int) -> bool:
        """Make ``rows`` the whole set; changed, new and removed rows get ``version``."""
        seen: set[str] = set()
        changed = False
        for row in rows:
            name = row[self.key]
            seen.add(name)
            if self.rows.get(name) != row:
                self._set(name, row, version)
                changed = True
        if len(seen) != len(self.rows):
            for name in [name for name in self.rows if name not in seen]:
                self._drop(name, version)
            changed = True
        return changed

    def _set(self, name: str, row: Row, version: int) -> None:
        self.rows[name] = row
        self._live[name] = version
        self._live.move_to_end(name)
        self._removed.pop(name, None)

    def _drop(self, name: str, version: int) -> None:
        del self.rows[name]
        del self._live[name]
        self._removed[name] = version
        while len(self._removed) > MAX_TOMBSTONES:
            _, self.forgotten = self._removed.popitem(last=False)

    def since(self, version: int) -> RowsPatch:
        patch = RowsPatch()
        upsert = _newer(self._live, version)
        remove = _newer(self._removed, version)
        if upsert:
            patch["upsert"] = [self.rows[name] for name in upsert]
        if remove:
            patch["remove"] = remove
        return patch


def _newer(versions: OrderedDict[str, int], since: int) -> list[str]:
    """Keys changed after ``since``, oldest first; only those are looked at."""
    newer = []
    for name in reversed(versions):
        if versions[name] <= since:
            break
        newer.append(name)
    newer.reverse()
    return newer


class VersionedModel:
    """A host's cluster model: plain fields and worker rows, one version per change."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.version = 1
        self.fields = dict(fields)
        self._field_versions = dict.fromkeys(fields, 1)
        self.workers = VersionedRows(ROW_KEYS["workers"])

    def update(self, fields: dict[str, Any], workers: Iterable[Row] | None = None) -> bool:
        """Apply changed fields and, when given, the whole set of workers; the version moves
        on (once) only when something differs."""
        version = self.version + 1
        changed = False
        for name, value in fields.items():
            if name not in self.fields or self.fields[name] != value:
                self.fields[name] = value
                self._field_versions[name] = version
                changed = True
        if workers is not None and self.workers.replace(workers, version):
            changed = True
        if changed:
            self.version = version
        return changed

    def since(self, since: int) -> HostPatch:
        """What changed after version ``since``; everything when the watcher starts (0), is
        behind what the tombstones remember, or names a version this host never had."""
        if since <= 0 or since < self.workers.forgotten or since > self.version:
            whole = self.workers.rows.values()
            return HostPatch(
                version=self.version,
                full=True,
                fields=dict(self.fields),
                workers=RowsPatch(upsert=list(whole)),
            )
        patch = HostPatch(version=self.version)
        fields = {k: v for k, v in self.fields.items() if self._field_versions[k] > since}
        if fields:
            patch["fields"] = fields
        rows = self.workers.since(since)
        if rows:
            patch["workers"] = rows
        return patch

    def whole(self) -> dict[str, Any]:
        return {**self.fields, "version": self.version, "workers": list(self.workers.rows.values())}


# --- the server's side: the host's model, mirrored ---------------------------------------------
class Mirror:
    """A host's model kept from its patches (``VersionedModel.since``)."""

    def __init__(self) -> None:
        self.version = 0
        self.fields: dict[str, Any] = {}
        self.workers: dict[str, Row] = {}

    def apply(self, answer: HostPatch | dict[str, Any]) -> ClusterPatch:
        """Apply a host's answer; returns what it changed here (nothing for a repeat)."""
        if isinstance(answer.get("workers"), (list, tuple)):
            # a host of an earlier version of this package answers with its whole model (and
            # Dask's RPC turns lists into tuples)
            whole = dict(answer)
            rows = whole.pop("workers")
            answer = HostPatch(version=whole.pop("version"), full=True, fields=whole)
            answer["workers"] = RowsPatch(upsert=rows)
        full = bool(answer.get("full"))
        new = answer.get("fields", {})
        patch = ClusterPatch()
        fields = {k: v for k, v in new.items() if k not in self.fields or self.fields[k] != v}
        if fields:
            patch["fields"] = fields
        self.fields = dict(new) if full else {**self.fields, **fields}
        rows = answer.get("workers", RowsPatch())
        key = ROW_KEYS["workers"]
        upsert = [row for row in rows.get("upsert", []) if self.workers.get(row[key]) != row]
        if full:  # what the whole set leaves out is gone
            listed = {row[key] for row in rows.get("upsert", [])}
            remove = [name for name in self.workers if name not in listed]
        else:
            remove = [name for name in rows.get("remove", []) if name in self.workers]
        for name in remove:
            del self.workers[name]
        for row in upsert:
            self.workers[row[key]] = row
        if upsert or remove:
            patch["workers"] = _rows_patch(upsert, remove)
        self.version = answer.get("version", self.version)
        return patch

    def whole(self) -> dict[str, Any]:
        return {**self.fields, "version": self.version, "workers": list(self.workers.values())}


# --- the server's side: rows as published, and what was not published yet ---------------------
class RowTable:
    """A cluster's rows of one kind by key, and the change not yet published: applying a patch
    costs the patch; replacing the whole set (a job poll) costs one comparison per row, and
    records nothing when nothing changed."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.rows: dict[str, Row] = {}
        self._upsert: dict[str, Row] = {}
        self._remove: set[str] = set()

    def apply(self, patch: RowsPatch) -> None:
        for name in patch.get("remove", []):
            if self.rows.pop(name, None) is not None:
                self._upsert.pop(name, None)
                self._remove.add(name)
        for row in patch.get("upsert", []):
            name = row[self.key]
            self.rows[name] = row
            self._upsert[name] = row
            self._remove.discard(name)

    def replace(self, rows: Iterable[Row]) -> bool:
        """Make ``rows`` the whole set; whether anything changed."""
        seen = set()
        upsert = []
        for row in rows:
            name = row[self.key]
            seen.add(name)
            if self.rows.get(name) != row:
                upsert.append(row)
        self.apply(RowsPatch(upsert=upsert))
        # every row seen is in the table now: as many rows as seen means none is left over
        remove = []
        if len(seen) != len(self.rows):
            remove = [name for name in self.rows if name not in seen]
            self.apply(RowsPatch(remove=remove))
        return bool(upsert or remove)

    def take(self) -> RowsPatch:
        """The change since the last ``take`` (then nothing is pending)."""
        patch = _rows_patch(list(self._upsert.values()), sorted(self._remove))
        self._upsert, self._remove = {}, set()
        return patch

    def values(self) -> list[Row]:
        return list(self.rows.values())


def _rows_patch(upsert: list[Row], remove: list[str]) -> RowsPatch:
    patch = RowsPatch()
    if upsert:
        patch["upsert"] = upsert
    if remove:
        patch["remove"] = remove
    return patch
