"""The instance actor's inbox: settlement documents are answered at once (a receipt, a
refusal with its reason, or 202 for what waits on an admin); anything else goes to the
ordinary inbox."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from activitypub.jsonld import ACTIVITY_JSON
from activitypub.signatures import SignedMessage
from server.routes import activitypub
from server.services.actors import INSTANCE_ACTOR_PATH
from server.services.inbox import verify_signature
from server.services.runtime import federation
from server.services.settlement import is_settlement_document, receive
from server.services.settlement_docs import SettlementRefused


class ActivityResponse(JSONResponse):
    media_type = ACTIVITY_JSON


async def instance_inbox(request: Request) -> Response:
    body = await request.body()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if not is_settlement_document(data):
        return await activitypub.inbox(request)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    runtime = federation(request.app.state)
    signer = await verify_signature(
        runtime.remote, SignedMessage(request.method, target, request.headers, body)
    )
    try:
        status, answer = await receive(
            request.app.state.db, request.app.state.settings, runtime.remote, signer, data
        )
    except SettlementRefused as refused:
        # A signed Reject states the reason itself (result.reason and summary).
        content = refused.document or {"error": refused.message, "code": refused.code}
        return ActivityResponse(content, status_code=refused.status_code)
    if answer is None:
        return Response(status_code=status)
    return ActivityResponse(answer, status_code=status)


routes = [Route(INSTANCE_ACTOR_PATH + "/inbox", instance_inbox, methods=["POST"])]
