"""Generated notebook code: correct, and immune to hostile names and values."""

from __future__ import annotations

import ast

import pytest

from dask_cluster_launcher import snippets

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
