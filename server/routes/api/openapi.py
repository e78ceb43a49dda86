"""The money API's OpenAPI document, served for clients and for schemathesis."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.context import context
from server.render.openapi import PREFIX, openapi_document


async def document(request: Request) -> Response:
    return JSONResponse(openapi_document(context(request).settings))


routes = [Route(f"{PREFIX}/openapi.json", document, methods=["GET"])]
