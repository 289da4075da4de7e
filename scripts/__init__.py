"""Maintainers' tools (run from the repository root)."""
