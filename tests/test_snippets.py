"""Generated notebook code: correct, and immune to hostile names and values."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from dask_cluster_launcher import snippets
from tests.helpers import wait_for

HOSTILE = [
    "plain",
    "it's",
    'say "hi"',
    "two\nlines",
    "'); import os; os._exit(1); ('",
    '"""',
    "\\",
    "ünïcødé ✓",
    "#comment",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_client_code_keeps_a_hostile_name_inside_a_comment(name):
    code = snippets.client_code("tcp://10.0.0.1:8786", name)
    tree = ast.parse(code)
    assert [type(node).__name__ for node in tree.body] == ["ImportFrom", "Assign", "Expr"]
    call = tree.body[1].value
    assert isinstance(call, ast.Call) and call.func.id == "Client"
    assert ast.literal_eval(call.args[0]) == "tcp://10.0.0.1:8786"
    assert code.splitlines()[0] == "# Dask cluster " + repr(name)


@pytest.mark.parametrize("value", HOSTILE)
def test_reproduce_code_renders_values_as_literals(value):
    code = snippets.reproduce_code(
        "dask_jobqueue.SLURMCluster", {"queue": value, "cores": 2}, {"workers": 3}
    )
    tree = ast.parse(code)
    assign = next(n for n in tree.body if isinstance(n, ast.Assign))
    keywords = {k.arg: ast.literal_eval(k.value) for k in assign.value.keywords}
    assert keywords == {"queue": value, "cores": 2}
    assert "cluster.scale(3)" in code


def test_reproduce_code_adapts():
    code = snippets.reproduce_code(
        "dask.distributed.LocalCluster", {}, {"adapt": {"minimum": 1, "maximum": 4}}
    )
    assert "from dask.distributed import LocalCluster" in code
    assert "cluster.adapt(minimum=1, maximum=4)" in code


@pytest.mark.parametrize("base", ["/", "/user/it's/", "/a\nb/"])
def test_dashboard_link_template_is_a_literal(base):
    code = snippets.client_code("tcp://h:1", "c", dashboard_link=f"{base}proxy/{{port}}/status")
    tree = ast.parse(code)
    call = next(n for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call))
    assert ast.literal_eval(call.value.args[0]) == {
        "distributed.dashboard.link": f"{base}proxy/{{port}}/status"
    }


def test_keyword_names_must_be_identifiers():
    with pytest.raises(ValueError):
        snippets.reproduce_code("a.B", {"x=1)\nimport os#": 1}, {"workers": 1})


def test_tls_client_code_carries_the_security():
    code = snippets.client_code(
        "tls://1.2.3.4:8786", "c", security={"tls_ca_file": "CA", "tls_client_cert": "CERT"}
    )
    tree = ast.parse(code)
    security = next(n for n in tree.body if isinstance(n, ast.Assign))
    keywords = {k.arg: ast.literal_eval(k.value) for k in security.value.keywords}
    assert keywords == {"tls_ca_file": "CA", "tls_client_cert": "CERT", "require_encryption": True}
    assert "security=security" in code


@pytest.mark.parametrize("name", HOSTILE)
def test_connect_code_is_one_call_by_id(name):
    code = snippets.connect_code("3f2a9c1b2d4e", name, dashboard_link="/u/it's/status")
    tree = ast.parse(code)
    assert [type(node).__name__ for node in tree.body] == ["ImportFrom", "Assign", "Expr"]
    call = tree.body[1].value
    assert call.func.id == "connect"
    assert [ast.literal_eval(a) for a in call.args] == ["3f2a9c1b2d4e"]
    assert {k.arg: ast.literal_eval(k.value) for k in call.keywords} == {
        "dashboard_link": "/u/it's/status"
    }
    assert code.splitlines()[0] == "# Dask cluster " + repr(name)


def test_connect_says_which_cluster_is_not_running():
    from dask_cluster_launcher import connect
    from dask_cluster_launcher.errors import NotFound

    with pytest.raises(NotFound, match="no running cluster 'f00d'"):
        connect("f00d")


def test_inserted_connect_imports_only_what_it_needs():
    """The inserted cell runs while the cluster starts: importing the launcher's request schemas
    there (``jsonschema``: 0.5-1 s) made the first task's result later than the cluster."""
    import subprocess
    import sys

    check = (
        "import sys\n"
        "from dask_cluster_launcher import connect\n"
        "try:\n"
        "    connect('f00d')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__)\n"
        "heavy = ('jsonschema', 'dask_cluster_launcher.api', 'jupyter_server', 'traitlets')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["NotFound", "[]"], out.stdout + out.stderr


async def run_in_kernel(code: str, cwd: Path) -> str:
    """Run notebook code in a real IPython kernel (its own process, as the Jupyter server
    would start it: this environment, started in the notebook's folder); its printed output."""
    from jupyter_client.manager import AsyncKernelManager

    manager = AsyncKernelManager(kernel_name="python3")
    await manager.start_kernel(cwd=str(cwd))
    client = manager.client()
    client.start_channels()
    printed: list[str] = []

    def output(message: dict[str, Any]) -> None:
        content = message["content"]
        if message["msg_type"] == "stream":
            printed.append(content["text"])
        elif message["msg_type"] == "error":
            printed.append("\n".join(content["traceback"]))

    try:
        await client.wait_for_ready(timeout=60)
        reply = await client.execute_interactive(code, timeout=90, output_hook=output)
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok", "".join(printed)
    return "".join(printed)


async def test_inserted_code_connects_from_a_kernel_by_cluster_id(
    launcher_api, jp_fetch, private_dir, tmp_path, jp_data_dir
):
    request = {
        "backend": "local",
        "name": "short 'code'",
        "options": {"threads_per_worker": 1},
        "scaling": {"workers": 1},
    }
    code, cluster = await launcher_api("clusters", method="POST", body=request)
    assert code == 202, cluster

    async def running() -> Any:
        _, model = await launcher_api("clusters", cluster["id"])
        return model if model["state"] == "running" and model["workers"] else None

    model = await wait_for(running, timeout=90)
    try:
        code, snippet = await launcher_api("clusters", cluster["id"], "snippet")
        assert code == 200
        short = snippet["connect_code"]
        # what the user sees: one call by the cluster's id, nothing secret or machine-specific
        assert f"client = connect({cluster['id']!r}, " in short
        assert len(short.splitlines()) <= 4
        assert str(private_dir) not in short and "tls" not in short.lower()
        assert "Security(" in snippet["code"]  # the explicit form, for "Copy full code"
        compute = (
            "\nprint(client.submit(lambda x: x + 1, 41).result(), len(client.nthreads()))"
            "\nprint(client.dashboard_link)"
        )
        out = await run_in_kernel(short + compute, tmp_path)
        answer, workers, dashboard = out.split()
        assert (answer, workers) == ("42", "1")
        # the client's dashboard link goes through the Jupyter server, as the card's does
        assert dashboard == model["dashboard_url"]

        # a notebook on this environment's kernel gets the short form; one on a kernel of
        # another environment (which may lack this package) gets the explicit form
        other = jp_data_dir / "kernels" / "other-env"
        other.mkdir(parents=True)
        argv = ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        (other / "kernel.json").write_text(json.dumps({"argv": argv, "language": "python"}))
        for kernel, short_form in (("python3", True), ("other-env", False)):
            path = ("dask-cluster-launcher", "clusters", cluster["id"], "snippet")
            response = await jp_fetch(*path, params={"kernel": kernel})
            snippet = json.loads(response.body)
            assert (snippet["connect_code"] is not None) is short_form, kernel
            assert "Security(" in snippet["code"]
    finally:
        await launcher_api("clusters", cluster["id"], method="DELETE")
