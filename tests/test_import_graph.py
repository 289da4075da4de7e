"""No import cycle in the package, type-only imports (``if TYPE_CHECKING:``) included.

Dependencies point one way: handlers -> manager -> handles -> backends. A cycle, even one that
only the type checker follows, means two modules cannot be read, tested or replaced apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dask_cluster_launcher"


def modules(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` (built assets skipped)."""
    found = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if "labextension" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file (in functions and
    ``TYPE_CHECKING`` blocks too). ``from . import x`` depends on ``x``, not on the package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            submodules = {f"{source}.{a.name}" for a in node.names} & known.keys()
            targets.update(submodules)
            if len(submodules) < len(node.names):
                targets.add(source)
    return {target for target in targets if target in known and target != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph[node]:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def import_graph(package: Path) -> dict[str, set[str]]:
    known = modules(package)
    return {name: imported(name, path, known) for name, path in known.items()}


def test_the_package_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert len(graph) > 40 and graph["dask_cluster_launcher.manager"]  # not vacuous
    found = cycles(graph)
    assert not found, "import cycles (type-only imports included):\n" + "\n".join(
        " <-> ".join(group) for group in found
    )


@pytest.mark.parametrize(
    "guarded", ["import", "from .b import B", "if TYPE_CHECKING:\n    from .b import B"]
)
def test_the_check_sees_a_cycle_through_any_kind_of_import(tmp_path, guarded):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        + (guarded if guarded != "import" else "import pkg.b")
        + "\n"
    )
    (package / "b.py").write_text("from . import a\n")
    (package / "c.py").write_text("from . import b\n")  # depends, no cycle
    assert cycles(import_graph(package)) == [["pkg.a", "pkg.b"]]


#: What a cluster host must not import at start-up (the host forker holds its imports for hours
#: on a shared login node, and every host has them): bokeh (the dashboard, imported on its first
#: request), and what the scheduler's worker-proxy route brings (jupyter-server-proxy,
#: jupyter_server, aiohttp).
NOT_IN_A_HOST = ("bokeh", "jupyter_server", "jupyter_server_proxy", "aiohttp", "jsonschema")


def test_the_host_forker_imports_no_dashboard_nor_jupyter():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dask_cluster_launcher.run_host", "--forker"],
        stdin=subprocess.DEVNULL,  # no spec comes: it warms up and exits
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PACKAGE.parent,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line.rpartition("|")[2].strip() for line in done.stderr.splitlines()]
    imported = {name.split(".")[0] for name in lines if name}
    assert "distributed" in imported  # not vacuous: it warmed up
    assert not imported & set(NOT_IN_A_HOST)
