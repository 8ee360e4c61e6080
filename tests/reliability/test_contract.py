"""The sandbox's ``/api-spec.json`` is true to its routes, and schemathesis finds nothing wrong.

``make test`` runs schemathesis' example and coverage phases and a short fuzzing phase;
``make soak`` fuzzes for minutes (``scripts/soak.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from contract import contract_sandbox, run_schemathesis, st_binary
from starlette.routing import Route

from aurous_nb.sandbox import Sandbox, openapi
from aurous_nb.sandbox.app import create_app
from aurous_nb.sandbox.config import SandboxConfig


def app_operations() -> set[tuple[str, str]]:
    """``(METHOD, path)`` of every Starlette route, in OpenAPI templating (no ``:path``)."""
    ops = set()
    for route in create_app(SandboxConfig()).routes:
        assert isinstance(route, Route), route
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for method in route.methods or ():
            if method != "HEAD":  # Starlette adds HEAD to every GET
                ops.add((method, path))
    return ops


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with contract_sandbox() as sb:
        yield sb


def test_every_route_is_described_and_nothing_else() -> None:
    routes, described = app_operations(), openapi.operations()
    assert routes - described == set(), "routes missing from the spec"
    assert described - routes == set(), "spec operations with no route"


def test_the_spec_is_served_without_a_key(sandbox: Sandbox) -> None:
    r = httpx.get(f"{sandbox.base_url}/api-spec.json")
    assert r.status_code == 200
    assert r.json() == openapi.spec()
    assert r.json()["openapi"].startswith("3.")


def test_spec_is_valid_openapi() -> None:
    schemathesis = pytest.importorskip("schemathesis")
    schema = schemathesis.openapi.from_dict(openapi.spec())
    assert len(list(schema.get_all_operations())) == len(openapi.operations())


@pytest.mark.parametrize("raw", ["%F1%84%A5%98%2B", "%0C", "%C3%A9t%C3%A9", "a%20b"])
def test_legacy_redirect_of_any_path_is_a_308(sandbox: Sandbox, raw: str) -> None:
    """Found by schemathesis: a decoded path put back in ``Location`` must be re-encoded."""
    headers = {"X-Api-Key": sandbox.api_key}
    for base in ("/v1/generations/", "/v1/video-generations/"):
        r = httpx.get(f"{sandbox.base_url}{base}{raw}", headers=headers)
        assert r.status_code == 308, r.text
        location = r.headers["Location"]
        assert location.isascii() and " " not in location
        assert location.endswith(raw.replace("%2B", "+")) or location.endswith(raw)


@pytest.mark.skipif(st_binary() is None, reason="schemathesis not installed")
def test_schemathesis_finds_no_500_and_no_schema_break(sandbox: Sandbox) -> None:
    run = run_schemathesis(sandbox, "examples,coverage,fuzzing", max_time=15)
    assert run.ok, run.report[-6000:]
    # How many cases fit in 15 s depends on the load: ask for every operation, not a count.
    assert run.cases >= len(openapi.operations()) and run.failures == 0 and run.errors == 0


def test_links_point_at_described_operations() -> None:
    ids = {
        op["operationId"]
        for ops in openapi.spec()["paths"].values()
        for op in ops.values()
        if isinstance(op, dict)
    }
    links = [
        link
        for ops in openapi.spec()["paths"].values()
        for op in ops.values()
        for response in op["responses"].values()
        for link in response.get("links", {}).values()
    ]
    assert len(links) >= 10
    assert {link["operationId"] for link in links} <= ids
