"""The OpenAPI 3.1 document of the money API (`/api/v1/likewise/`), kept by hand beside
the routes (a test holds its paths and methods to the app's routes, a live schemathesis run
in CI its shapes to the answers). Amounts carry this instance's currency and scale exactly.
docs/api.md says the same in prose."""

from __future__ import annotations

from typing import Any

from server.convertors import MAX_ROW_ID
from server.models.ledger import AMOUNT_CEILING
from server.settings import Settings

PREFIX = "/api/v1/likewise"
Schema = dict[str, Any]
CEILING_DIGITS = len(str(AMOUNT_CEILING))
DECIMAL_PATTERN = rf"^\s*[0-9]{{1,{CEILING_DIGITS}}}(\.[0-9]{{1,{CEILING_DIGITS}}})?\s*$"
ERROR_CODES = (
    "bad_request, body_too_large, unauthorized, forbidden, link_missing, not_found, "
    "conflict, validation_failed, invalid_actor, remote_error, http_error"
)


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Schema], *, optional: tuple[str, ...] = ()) -> Schema:
    required = [name for name in properties if name not in optional]
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _schemas(settings: Settings) -> dict[str, Schema]:
    amount = _ref("Amount")
    text: Schema = {"type": "string"}
    flag: Schema = {"type": "boolean"}
    digits = {"type": "string", "pattern": "^[0-9]+$"}
    budget = _object(
        {
            "monthly_budget": amount,
            "paused": flag,
            "anonymous": flag,
            "limits": _object({"min": amount, "max": amount}),
        }
    )
    claim: dict[str, Schema] = {
        "outcome": {"type": "string", "enum": ["claimed", "already_claimed"]},
        "identity_id": digits,
        "moved": amount,
        "available": amount,
    }
    identity: dict[str, Schema] = {
        "network": text,
        "external_id": text,
        "handle": text,
        "profile_url": text,
    }
    return {
        "Amount": {
            "description": "Minor units as a decimal string, in this instance's currency "
            "and its scale: {'value': '450', 'currency': 'EUR', 'scale': 2} is 4.50 EUR.",
            **_object(
                {
                    "value": {
                        "type": "string",
                        "pattern": f"^-?[0-9]{{1,{CEILING_DIGITS}}}$",
                    },
                    "currency": {"const": settings.currency},
                    "scale": {"const": settings.currency_scale},
                }
            ),
        },
        "AmountInput": {
            "description": "An amount sent: the Amount object (more than zero, at most "
            f"{AMOUNT_CEILING} minor units), or a decimal string such as '4.50'.",
            "oneOf": [
                _object(
                    {
                        "value": {
                            "type": "string",
                            "pattern": f"^[0-9]{{1,{CEILING_DIGITS}}}$",
                        },
                        "currency": {"const": settings.currency},
                        "scale": {"const": settings.currency_scale},
                    }
                ),
                {"type": "string", "pattern": DECIMAL_PATTERN},
            ],
        },
        "Error": {
            "description": f"Every refusal; `code` is one of {ERROR_CODES}. Nothing changed.",
            **_object({"error": text, "code": text, "field": text}, optional=("field",)),
        },
        "Budget": budget,
        "Me": _object(
            {
                "wallet": amount,
                "budget": _ref("Budget"),
                "period": _object(
                    {
                        "id": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                        "clicks": {"type": "integer", "minimum": 0},
                        "projected_spend": amount,
                        "projected_fee": amount,
                        "unspent_to": {"type": ["string", "null"]},
                    }
                ),
                "creator": _object({"available": amount, "pending": amount}),
                "history": {
                    "type": "array",
                    "items": _object(
                        {
                            "period": text,
                            "spent": amount,
                            "fee": amount,
                            "clicks": {"type": "integer", "minimum": 0},
                        }
                    ),
                },
            }
        ),
        "Click": _object(
            {
                "id": digits,
                "uri": text,
                "title": text,
                "creator": text,
                "network": text,
                "source": text,
                "projected_share": amount,
            }
        ),
        "Payout": _object(
            {
                "id": digits,
                "amount": amount,
                "state": {
                    "type": "string",
                    "enum": ["requested", "approved", "rejected", "in_flight", "paid"],
                },
                "name": text,
                "iban": {"type": "string", "description": "masked: the first and last four"},
                "note": text,
                "created_at": {"type": "string", "format": "date-time"},
            }
        ),
        "Like": _object(
            {
                "outcome": {
                    "type": "string",
                    "enum": [
                        "recorded",
                        "already_liked",
                        "duplicate",
                        "self_like",
                        "paused",
                        "not_a_donor",
                    ],
                },
                "uri": text,
            }
        ),
        "Waiting": _object(
            {
                "identity_id": digits,
                **identity,
                "claimed": flag,
                "waiting": amount,
                "supporters": {"type": "integer", "minimum": 0},
            }
        ),
        "Session": _object(
            {
                "id": digits,
                "user_agent": text,
                "created_at": {"type": "string", "format": "date-time"},
                "last_seen_at": {"type": "string", "format": "date-time"},
                "current": flag,
            }
        ),
        "Claim": _object(claim),
        "AccountClaim": _object({**claim, **identity}),
    }


def _json(schema: Schema, description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


EXAMPLES = {
    "monthly_budget": "8",
    "paused": False,
    "uri": "https://blog.example/a-post",
    "actor": "@bob@mastodon.example",
    "amount": "20",
    "iban": "DE89 3704 0044 0532 0130 00",
    "name": "Cat Doe",
    "bic": "",
}


def _examples(body: Schema) -> dict[str, Schema]:
    """One example request body: each documented field with a typical value."""
    value = {name: EXAMPLES[name] for name in body["properties"] if name in EXAMPLES}
    return {"typical": {"value": value}}


def _link(response: Schema, operation: str, parameter: str, key: str) -> Schema:
    """A list answer whose first item's `key` is the `parameter` of `operation`."""
    target = {"operationId": operation, "parameters": {parameter: f"$response.body#/0/{key}"}}
    return {**response, "links": {operation: target}}


def _errors(*statuses: int) -> dict[str, Schema]:
    """The refusals an operation may answer, each with the error body."""
    what = {
        400: "The body is not JSON, or not an object.",
        401: "No token or session, or a bad one.",
        403: "The token lacks the scope; a browser session without X-CSRF-Token; "
        "not yours to claim; the fediverse account does not link to yours (link_missing).",
        404: "No such thing of yours (or no such route).",
        405: "Method not allowed.",
        409: "Conflicts with the current state (balance, a claim by another account).",
        413: "The body is larger than the instance accepts.",
        422: "A field is invalid; `field` names it.",
    }
    return {str(status): _json(_ref("Error"), what[status]) for status in statuses}


def _operation(
    name: str,
    summary: str,
    scope: str,
    answers: dict[str, Schema],
    *,
    body: Schema | None = None,
    parameter: str | None = None,
) -> Schema:
    operation: Schema = {
        "operationId": name,
        "summary": summary,
        "description": f"Needs the scope `{scope}`.",
        "security": [{"bearer": [scope]}],
        "responses": answers,
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body, "examples": _examples(body)}},
        }
    if parameter is not None:
        operation["parameters"] = [
            {
                "name": parameter,
                "in": "path",
                "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID},
            }
        ]
    return operation


def _paths() -> dict[str, Schema]:
    read, write = _errors(401, 403), _errors(400, 401, 403, 413, 422)
    budget_body = {
        "type": "object",
        "properties": {
            "monthly_budget": _ref("AmountInput"),
            "paused": {"type": ["boolean", "null"], "description": "null: unchanged"},
            "anonymous": {"type": ["boolean", "null"], "description": "null: unchanged"},
        },
        "additionalProperties": False,
    }

    def set_budget(name: str) -> Schema:
        return _operation(
            name,
            "Set the monthly budget, pause, or give anonymously",
            "write",
            {"200": _json(_ref("Budget"), "The budget now."), **write},
            body=budget_body,
        )

    payout_body = {
        "type": "object",
        "properties": {
            "amount": _ref("AmountInput"),
            "iban": {"type": "string"},
            "name": {"type": "string"},
            "bic": {"type": "string"},
        },
        "required": ["amount"],
        "additionalProperties": False,
    }
    claimed = _json(_ref("Claim"), "Claimed; what it held moved to your available balance.")
    account_claimed = _json(_ref("AccountClaim"), "Claimed, with the identity.")
    like = _json(_ref("Like"), "Not counted again: the outcome says why.")
    clicks = _json({"type": "array", "items": _ref("Click")}, "Oldest first.")
    waiting = _json({"type": "array", "items": _ref("Waiting")}, "Oldest first.")
    return {
        "/me": {
            "get": _operation(
                "me",
                "Wallet, budget, this period, creator balances",
                "read",
                {"200": _json(_ref("Me"), "You."), **read},
            )
        },
        "/clicks": {
            "get": _operation(
                "clicks",
                "This period's clicks with their projected shares",
                "read",
                {"200": _link(clicks, "unclick", "click_id", "id"), **read},
            )
        },
        "/clicks/{click_id}": {
            "delete": _operation(
                "unclick",
                "Unclick before the month closes",
                "write",
                {"204": {"description": "Removed."}, **_errors(401, 403, 404)},
                parameter="click_id",
            )
        },
        "/budget": {
            "get": _operation(
                "budget", "The budget", "read", {"200": _json(_ref("Budget"), "."), **read}
            ),
            "put": set_budget("set_budget"),
            "post": set_budget("set_budget_post"),
        },
        "/payouts": {
            "get": _operation(
                "payouts",
                "Your payouts",
                "read",
                {"200": _json({"type": "array", "items": _ref("Payout")}, "Your payouts."), **read},
            ),
            "post": _operation(
                "new_payout",
                "Request a payout of your available balance",
                "write",
                {"201": _json(_ref("Payout"), "Requested."), **write, **_errors(409)},
                body=payout_body,
            ),
        },
        "/likes": {
            "post": _operation(
                "like",
                "Like any http(s) URL",
                "write",
                {"201": _json(_ref("Like"), "Recorded."), "200": like, **write},
                body={
                    "type": "object",
                    "properties": {"uri": {"type": "string"}},
                    "required": ["uri"],
                },
            )
        },
        "/claims": {
            "get": _operation(
                "claims",
                "What waits for identities you may claim",
                "read",
                {"200": _link(waiting, "claim", "identity_id", "identity_id"), **read},
            ),
            "post": _operation(
                "claim_account",
                "Claim your fediverse account elsewhere (links both ways)",
                "write",
                {"200": account_claimed, **write, **_errors(404, 409)},
                body={
                    "type": "object",
                    "properties": {"actor": {"type": "string", "minLength": 1}},
                    "required": ["actor"],
                },
            ),
        },
        "/sessions": {
            "get": _operation(
                "sessions",
                "Your browser sessions",
                "read:accounts",
                {"200": _json({"type": "array", "items": _ref("Session")}, "."), **read},
            ),
            "delete": _operation(
                "end_sessions",
                "Log out everywhere: every browser session ends (tokens stay)",
                "write:accounts",
                {
                    "200": _json(
                        _object({"ended": {"type": "integer", "minimum": 0}}), "How many ended."
                    ),
                    **read,
                },
            ),
        },
        "/claims/{identity_id}": {
            "post": _operation(
                "claim",
                "Claim an identity and what it holds",
                "write",
                {"200": claimed, **_errors(401, 403, 404, 409)},
                parameter="identity_id",
            )
        },
    }


def openapi_document(settings: Settings) -> Schema:
    paths = {PREFIX + path: item for path, item in _paths().items()}
    paths[PREFIX + "/openapi.json"] = {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1.")},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Likewise money API",
            "version": "1",
            "description": "Budgets, clicks, payouts and claims of one account. Amounts "
            f"are in {settings.currency} with scale {settings.currency_scale}. See docs/api.md.",
        },
        "servers": [{"url": settings.base_url}],
        "paths": paths,
        "components": {
            "schemas": _schemas(settings),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`likewise tokens create USERNAME`, or an OAuth token with "
                    "the read / write scopes.",
                }
            },
        },
    }
