"""A client API request's parameters as Mastodon reads them: a JSON object, or a form whose
`name[]` fields are lists (`media_ids[]=1&media_ids[]=2`)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from server.auth import refuse_nul
from server.errors import BadRequest, read_json


async def body_params(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        data = await read_json(request)
        if not isinstance(data, dict):
            raise BadRequest("the body must be a JSON object")
        return data
    form = await request.form()
    refuse_nul(form)
    params: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    for key in {key for key in form if key.endswith("[]")}:
        params[key.removesuffix("[]")] = [v for v in form.getlist(key) if isinstance(v, str)]
    return params
