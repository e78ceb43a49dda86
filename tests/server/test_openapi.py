"""The money API's OpenAPI document stays in step with the routes (both ways), and what the
routes answer matches what it documents."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema_rs
from starlette.applications import Starlette
from starlette.routing import Route

from server.context import context
from server.models import Account
from server.render.openapi import PREFIX
from tests.support.accounts import make_token
from tests.support.ledger import donor

CONVERTOR = re.compile(r"{([a-zA-Z_]+):[a-zA-Z_]+}")


def _served(app: Starlette) -> set[tuple[str, str]]:
    return {
        (method.lower(), CONVERTOR.sub(r"{\1}", route.path))
        for route in app.routes
        if isinstance(route, Route) and route.path.startswith(PREFIX + "/")
        for method in route.methods or ()
        if method != "HEAD"
    }


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(f"{PREFIX}/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _check(document: dict[str, Any], path: str, method: str, response: httpx.Response) -> None:
    """The answer is one the document lists for the operation, in its documented shape."""
    answers = document["paths"][PREFIX + path][method]["responses"]
    assert str(response.status_code) in answers, (path, method, response.status_code)
    content = answers[str(response.status_code)].get("content")
    if content is None:
        assert response.content == b""
        return
    schema = {**content["application/json"]["schema"], "components": document["components"]}
    jsonschema_rs.Draft202012Validator(schema).validate(response.json())


async def test_the_document_names_every_money_route_and_no_other(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    document = await _document(client)
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert documented == _served(app)
    assert len(documented) >= 12
    assert document["openapi"].startswith("3.1")
    assert document["components"]["schemas"]["Amount"]["properties"]["currency"] == {"const": "EUR"}


async def test_answers_match_the_document(app: Starlette, client: httpx.AsyncClient) -> None:
    document = await _document(client)
    db, settings = context(app).db, context(app).settings
    ann = await donor(db, settings, "ann", funds=5000, budget=1000)
    async with db.session() as session:
        account = await session.get(Account, ann)
    assert account is not None
    auth = {"Authorization": f"Bearer {await make_token(app, account)}"}

    liked = await client.post(
        f"{PREFIX}/likes", json={"uri": "https://blog.example/a"}, headers=auth
    )
    _check(document, "/likes", "post", liked)
    assert liked.status_code == 201
    for path in ("/me", "/clicks", "/budget", "/payouts", "/claims", "/sessions"):
        _check(document, path, "get", await client.get(PREFIX + path, headers=auth))
    budget = {"monthly_budget": {"value": "800", "currency": "EUR", "scale": 2}, "paused": True}
    _check(
        document, "/budget", "put", await client.put(f"{PREFIX}/budget", json=budget, headers=auth)
    )
    refused = {"monthly_budget": {"value": "800", "currency": "USD", "scale": 2}}
    response = await client.put(f"{PREFIX}/budget", json=refused, headers=auth)
    assert response.status_code == 422
    _check(document, "/budget", "put", response)
    click_id = (await client.get(f"{PREFIX}/clicks", headers=auth)).json()[0]["id"]
    response = await client.delete(f"{PREFIX}/clicks/{click_id}", headers=auth)
    _check(document, "/clicks/{click_id}", "delete", response)
    assert response.status_code == 204
    response = await client.post(f"{PREFIX}/claims/99999", headers=auth)
    _check(document, "/claims/{identity_id}", "post", response)
    assert response.status_code == 404
    _check(document, "/me", "get", await client.get(f"{PREFIX}/me"))
    ended = await client.delete(f"{PREFIX}/sessions", headers=auth)
    _check(document, "/sessions", "delete", ended)
    assert ended.status_code == 200
    response = await client.post(f"{PREFIX}/payouts", content=b"{", headers=auth)
    _check(document, "/payouts", "post", response)
    assert response.status_code == 400
