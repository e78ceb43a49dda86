"""Domain errors say what kind of failure they are; server/errors.py alone turns a kind into
an HTTP status and the `{"error": …, "code": …}` body. Checked three ways: every kind
through the app's own exception handlers, one error of each kind a client can cause through
the real app (and a peer, through the settlement inbox), and the domain packages' source:
none of them names an HTTP status or imports Starlette."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitypub.settlement import (
    PaymentNotice,
    PeeringAcceptance,
    PeeringProposal,
    build_payment_notice,
    build_peering_acceptance,
    build_peering_proposal,
    envelope_fields,
)
from server.context import context
from server.domain_errors import Kind, NotFound, ServiceError, ValidationFailed
from server.errors import EXCEPTION_HANDLERS, STATUS, BodyTooLarge, status_of
from server.escrow.claims import LinkMissing
from server.federation.inbox import InboxInvalid, InboxRejected, InboxUnavailable
from server.federation.remote import RemoteError
from server.money.ledger import InsufficientFunds
from server.settlement.documents import Receipt, SettlementRefused
from tests.support.accounts import make_account, make_token
from tests.support.network import Network
from tests.support.settlement import admin, eur, peer_row, speaker

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_PACKAGES = ("accounts", "social", "federation", "money", "donations", "escrow", "settlement")
BETA = "http://beta.test/actor"

# One error of each kind, and the status and body it is answered with: the numbers are
# written out, not read from errors.STATUS, so that changing one is seen here.
EACH_KIND: dict[Kind, tuple[ServiceError, int, dict[str, str]]] = {
    Kind.bad_request: (
        InboxInvalid("not an activity"),
        400,
        {"error": "not an activity", "code": "invalid_activity"},
    ),
    Kind.invalid: (
        ValidationFailed("too long", field="text"),
        422,
        {"error": "too long", "code": "validation_failed", "field": "text"},
    ),
    Kind.refused: (
        SettlementRefused(Kind.refused, "wrong_currency", "this instance settles in EUR"),
        422,
        {"error": "this instance settles in EUR", "code": "wrong_currency"},
    ),
    Kind.unauthorized: (
        InboxRejected("bad signature"),
        401,
        {"error": "bad signature", "code": "signature_rejected"},
    ),
    Kind.forbidden: (
        LinkMissing("no link back", field="actor"),
        403,
        {"error": "no link back", "code": "link_missing", "field": "actor"},
    ),
    Kind.not_found: (
        NotFound("no such status"),
        404,
        {"error": "no such status", "code": "not_found"},
    ),
    Kind.conflict: (
        InsufficientFunds("not enough funds"),
        409,
        {"error": "not enough funds", "code": "insufficient_funds"},
    ),
    Kind.too_large: (
        BodyTooLarge("the request body is larger than 10 bytes"),
        413,
        {"error": "the request body is larger than 10 bytes", "code": "body_too_large"},
    ),
    Kind.upstream: (
        RemoteError("could not fetch http://gone.test/"),
        502,
        {"error": "could not fetch http://gone.test/", "code": "remote_error"},
    ),
    Kind.unavailable: (
        InboxUnavailable("try again later"),
        503,
        {"error": "try again later", "code": "inbox_unavailable"},
    ),
}


@pytest.fixture
async def raising() -> AsyncIterator[httpx.AsyncClient]:
    """An app with the server's exception handlers whose one route raises the error of the
    kind its path names."""

    async def fail(request: Request) -> Response:
        raise EACH_KIND[Kind(request.path_params["kind"])][0]

    app = Starlette(routes=[Route("/api/fail/{kind}", fail)], exception_handlers=EXCEPTION_HANDLERS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://likewise.test") as client:
        yield client


def test_every_kind_is_tried_and_has_one_status() -> None:
    assert set(EACH_KIND) == set(Kind) == set(STATUS)
    for kind, (error, status, _) in EACH_KIND.items():
        assert error.kind is kind
        assert status_of(error) == status_of(kind) == status


@pytest.mark.parametrize("kind", list(Kind), ids=str)
async def test_each_kind_is_answered_with_its_status_and_body(
    raising: httpx.AsyncClient, kind: Kind
) -> None:
    _, status, body = EACH_KIND[kind]
    response = await raising.get(f"/api/fail/{kind}")
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == body


def test_no_domain_error_class_carries_a_status() -> None:
    """Every error class the server defines (the domain packages' included, all imported
    above or by the app) has a kind that maps to a status, and no status of its own."""
    import server.app  # noqa: F401  (imports every domain package)

    seen, todo = [], [ServiceError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    assert len(seen) >= 20  # the base classes, the domain packages' and the edge's
    for cls in seen:
        assert isinstance(cls.kind, Kind) and cls.kind in STATUS, cls
        assert not hasattr(cls, "status_code"), cls


# --- the real app --------------------------------------------------------------------------


async def test_a_client_meets_each_kind_with_its_status_and_body(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    ann = await make_account(app, "ann")
    write = {"Authorization": f"Bearer {await make_token(app, ann)}"}
    read_only = {"Authorization": f"Bearer {await make_token(app, ann, 'read')}"}

    async def answer(response: httpx.Response) -> tuple[int, Any]:
        return response.status_code, response.json()

    # bad_request: a body that is no JSON object
    assert await answer(await client.put("/api/v1/likewise/budget", json=[], headers=write)) == (
        400,
        {"error": "the body must be a JSON object", "code": "bad_request"},
    )
    # invalid: a field this request does not know
    wrong = await client.put("/api/v1/likewise/budget", json={"colour": "red"}, headers=write)
    assert await answer(wrong) == (
        422,
        {
            "error": "unknown fields: colour (known: anonymous, monthly_budget, paused)",
            "code": "validation_failed",
            "field": "colour",
        },
    )
    # unauthorized: no credentials
    assert await answer(await client.get("/api/v1/likewise/budget")) == (
        401,
        {"error": "this needs a logged-in user or a bearer token", "code": "unauthorized"},
    )
    # forbidden: a token without the scope
    refused = await client.put("/api/v1/likewise/budget", json={}, headers=read_only)
    assert await answer(refused) == (
        403,
        {"error": "this needs the scope 'write'", "code": "forbidden"},
    )
    # not_found: a click that is not there
    assert await answer(await client.delete("/api/v1/likewise/clicks/999", headers=write)) == (
        404,
        {"error": "no such click of yours in a period that is still open", "code": "not_found"},
    )
    # conflict: a payout beyond the balance
    payout = {"amount": "50.00", "iban": "DE89370400440532013000", "name": "Ann"}
    assert await answer(
        await client.post("/api/v1/likewise/payouts", json=payout, headers=write)
    ) == (
        409,
        {
            "error": "the payout is more than your available balance",
            "code": "conflict",
            "field": "amount",
        },
    )
    # too_large: a body past the limit
    limit = context(app).settings.max_body_bytes
    assert await answer(await client.post("/inbox", content=b"x" * (limit + 1))) == (
        413,
        {"error": f"the request body is larger than {limit} bytes", "code": "body_too_large"},
    )


# --- a peer, through the settlement inbox --------------------------------------------------


async def test_a_peer_meets_each_settlement_answer_with_its_status_and_body(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    keys = await speaker(alpha)

    def proposal(scale: int) -> dict[str, object]:
        document = PeeringProposal(
            **envelope_fields(keys.envelope(BETA)), currency="EUR", credit_limit=eur(100000, scale)
        )
        return keys.sign(build_peering_proposal(document))

    # bad_request: no valid settlement document
    malformed = await keys.post(network, "beta.test", {**proposal(2), "type": "Nonsense"})
    assert malformed.status_code == 400, malformed.text
    assert set(malformed.json()) == {"error", "code"}
    assert malformed.json()["code"] == "malformed"
    assert malformed.json()["error"].startswith("not a valid settlement document: ")
    # forbidden: a payment notice from an instance that is no peer; no signed answer
    notice = PaymentNotice(
        **envelope_fields(keys.envelope(BETA)), amount=eur(500), reference="SEPA-1", settles=()
    )
    stranger = await keys.post(network, "beta.test", keys.sign(build_payment_notice(notice)))
    assert (stranger.status_code, stranger.json()) == (
        403,
        {"error": "http://alpha.test/actor is not a peer", "code": "not_a_peer"},
    )
    # A refusal that stands (Receipt.refused): our signed Reject, 422
    rejected = await keys.post(network, "beta.test", proposal(3))
    assert rejected.status_code == 422, rejected.text
    assert rejected.headers["content-type"] == "application/activity+json"
    body = rejected.json()
    assert (body["type"], body["result"]["reason"]) == ("Reject", "wrong_currency")
    # Taken, nothing to answer yet (the proposal waits on beta's admin): 202, no body; again
    # when it is repeated
    waiting = proposal(2)
    for _ in range(2):
        taken = await keys.post(network, "beta.test", waiting)
        assert (taken.status_code, taken.content) == (202, b"")
        assert (await peer_row(beta, "alpha.test")).state == "proposed"
    # refused, without a signed answer: an answer whose amount is in another scale
    acceptance = PeeringAcceptance(
        **envelope_fields(keys.envelope(BETA)),
        proposal_id=str(waiting["id"]),
        currency="EUR",
        credit_limit=eur(100000, 3),
    )
    answer = await keys.post(network, "beta.test", keys.sign(build_peering_acceptance(acceptance)))
    assert answer.status_code == 422, answer.text
    assert set(answer.json()) == {"error", "code"}
    assert answer.json()["code"] == "wrong_currency"
    # Answered (once beta's admin accepted): the proposal repeated gets the signed Accept, 200
    async with network.client("beta.test") as http:
        token = await admin(beta, http)
        accepted = await http.post("/admin/peers/alpha.test/accept", data={"csrf_token": token})
        assert accepted.status_code == 303, accepted.text
    again = await keys.post(network, "beta.test", waiting)
    assert again.status_code == 200, again.text
    assert again.headers["content-type"] == "application/activity+json"
    assert (again.json()["type"], again.json()["object"]) == ("Accept", waiting["id"])
    # conflict: a second proposal to a peer
    twice = await keys.post(network, "beta.test", proposal(2))
    assert (twice.status_code, twice.json()) == (
        409,
        {"error": "alpha.test is already a peer (active)", "code": "conflict"},
    )


def test_a_refusal_that_stands_is_a_signed_answer() -> None:
    assert Receipt().answer is None and not Receipt().refused
    with pytest.raises(ValueError):
        Receipt(None, refused=True)


# --- the domain packages' source -----------------------------------------------------------


def _domain_modules() -> list[Path]:
    paths = [
        path
        for package in DOMAIN_PACKAGES
        for path in sorted((ROOT / "server" / package).rglob("*.py"))
    ]
    return [*paths, ROOT / "server" / "domain_errors.py"]


def _http_words(tree: ast.AST) -> list[str]:
    """Where a module names an HTTP status or imports Starlette."""
    found: list[str] = []
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [
                f"{where}: import {a.name}" for a in node.names if a.name.startswith("starlette")
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("starlette"):
            found.append(f"{where}: from {node.module} import")
        elif isinstance(node, ast.Name) and node.id == "status_code":
            found.append(f"{where}: the name status_code")
        elif isinstance(node, ast.Attribute) and node.attr == "status_code":
            found.append(f"{where}: .status_code")
        elif isinstance(node, ast.keyword) and node.arg == "status_code":
            found.append(f"{where}: status_code=")
        elif isinstance(node, ast.arg) and node.arg == "status_code":
            found.append(f"{where}: a parameter status_code")
    return found


def test_the_domain_packages_speak_no_http() -> None:
    modules = _domain_modules()
    assert len(modules) > 40
    problems = {
        str(path.relative_to(ROOT)): words
        for path in modules
        if (words := _http_words(ast.parse(path.read_text(), str(path))))
    }
    assert problems == {}


def test_the_check_finds_what_it_looks_for() -> None:
    source = (
        "from starlette.responses import Response\n"
        "import starlette.status\n"
        "class Refused(Exception):\n"
        "    status_code = 422\n"
        "def refuse(status_code: int) -> None:\n"
        "    raise Refused() if Refused.status_code else ValueError(status_code)\n"
        "Response(status_code=200)\n"
    )
    words = _http_words(ast.parse(source))
    assert len(words) == 7, words
