"""Every route the app serves, attacked with hostile requests: never a 5xx.

Routes are found by walking a real app (its router and the routes `DirectRoutes` serves
ahead of it), so a new route is attacked without anyone listing it here. Each route and
method first gets the classics (`fuzzing.classic_probes`: each bad value alone on an
otherwise good request), then a bounded, derandomized hypothesis run mixing hostile path
parameters, query strings, headers and bodies: as an anonymous visitor, with an admin's
bearer token, and with an admin's browser session (with or without its CSRF token).
Inboxes also get bodies signed by a real remote actor, and the instance inbox settlement
documents from an active peer, signed with its key. `LIKEWISE_FUZZ_EXAMPLES` raises the
explored examples per route for a deeper local run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from tests.server.fuzz_classics import classic_probes, settlement_documents, settlement_templates
from tests.server.fuzz_instance import HOST, Instance, running, served_routes
from tests.server.fuzzing import (
    Body,
    Probe,
    bodies,
    extra_headers,
    paths,
    queries,
)
from tests.support.databases import DatabaseFactory

EXAMPLES = int(os.environ.get("LIKEWISE_FUZZ_EXAMPLES", "10"))
INBOXES = {"/inbox", "/users/{username}/inbox", "/actor/inbox"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
ROUTES = served_routes()


@pytest.fixture(scope="module")
def instance(
    tmp_path_factory: pytest.TempPathFactory, databases: DatabaseFactory
) -> Iterator[Instance]:
    with running(tmp_path_factory.mktemp("fuzz"), databases) as served:
        yield served


def _settlements(instance: Instance) -> list[dict[str, Any]]:
    return settlement_templates(instance.mastodon.uri, f"http://{HOST}/actor")


@st.composite
def probes(draw: st.DrawFn, method: str, template: str, instance: Instance) -> Probe:
    identity = draw(st.sampled_from(["token", "session", "anonymous"]))
    body = draw(bodies) if method in UNSAFE else draw(st.just(Body(None)) | bodies)
    settlement = None
    if template == "/actor/inbox" and draw(st.booleans()):
        settlement = draw(settlement_documents(_settlements(instance)))
    return Probe(
        method=method,
        path=draw(paths(template, instance.existing)),
        query=draw(queries),
        headers=draw(extra_headers),
        body=body,
        identity=identity,
        csrf=identity == "session" and draw(st.sampled_from([True, True, False])),
        signed=template in INBOXES and draw(st.booleans()),
        settlement=settlement,
    )


def test_every_route_is_attacked(instance: Instance) -> None:
    served = {
        (method, route.path)
        for route in instance.app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    inboxes = {("POST", path) for path in INBOXES}
    assert served | inboxes <= set(ROUTES)
    assert len(ROUTES) > 70


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_hostile_requests_never_get_a_server_error(
    instance: Instance, method: str, template: str
) -> None:
    def check(probe: Probe) -> None:
        instance.errors.clear()
        response = instance.run(instance.send(probe))
        assert response.status_code < 500, (
            f"{response.status_code} for {probe.describe()}\n"
            f"response={response.text[:500]!r}\n" + "\n".join(instance.errors)
        )

    settlements = _settlements(instance) if template == "/actor/inbox" else []
    classics = classic_probes(method, template, instance.existing, template in INBOXES, settlements)
    attack = given(probe=probes(method, template, instance))(check)
    for probe in classics:
        attack = example(probe=probe)(attack)
    settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=True,
    )(attack)()
