"""A cluster's changes as small patches, so events cost what changed, not the cluster's size.

A patch holds the plain fields that changed (``fields``) and, per list of rows (workers by name,
batch jobs by id), the rows added or changed (``upsert``) and the keys of rows removed
(``remove``). At 400 workers one worker joining is one row, not 400. ``src/model.ts`` applies
patches the same way ``apply`` does.
"""

from __future__ import annotations

from typing import Any

#: The lists of rows in a cluster model, and the field that identifies a row in each.
ROW_KEYS = {"workers": "name", "jobs": "job_id"}


def diff_rows(old: list[dict[str, Any]], new: list[dict[str, Any]], key: str) -> dict[str, Any]:
    before = {row[key]: row for row in old}
    after = {row[key]: row for row in new}
    upsert = [row for name, row in after.items() if before.get(name) != row]
    remove = [name for name in before if name not in after]
    patch: dict[str, Any] = {}
    if upsert:
        patch["upsert"] = upsert
    if remove:
        patch["remove"] = remove
    return patch


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


def apply_rows(rows: list[dict[str, Any]], patch: dict[str, Any], key: str) -> list[dict[str, Any]]:
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
