"""The instance actor's inbox: settlement documents are answered at once (a receipt, a
refusal with its reason, or 202 for what waits on an admin); anything else goes to the
ordinary inbox. Either is parsed only once its signature and Digest verified; an active
peer's instance actor may send settlement-sized bodies, anyone else the ordinary size."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from activitypub.claims import is_claim_document
from activitypub.jsonld import ACTIVITY_JSON
from server.accounts.actors import INSTANCE_ACTOR_PATH
from server.context import context
from server.domain_errors import Kind
from server.errors import status_of
from server.federation.inbox import decode_body
from server.routes import activitypub
from server.routes.signed_body import read_signed_body
from server.settlement.documents import SettlementRefused
from server.settlement.exchange import is_settlement_document, receive


class ActivityResponse(JSONResponse):
    media_type = ACTIVITY_JSON


async def instance_inbox(request: Request) -> Response:
    app = context(request)
    signed = await read_signed_body(request.scope, request.receive, settlement=True)
    text, data = decode_body(signed.body)
    if not isinstance(data, dict) or not (is_settlement_document(data) or is_claim_document(data)):
        await activitypub.store_activity(app, signed.signer, text, data)
        return Response(status_code=202)
    try:
        receipt = await receive(app.db, app.settings, app.federation.remote, signed.signer, data)
    except SettlementRefused as refused:
        # A signed Reject states the reason itself (result.reason and summary).
        content = refused.document or {"error": refused.message, "code": refused.code}
        return ActivityResponse(content, status_code=status_of(refused))
    if receipt.answer is None:
        return Response(status_code=202)  # taken; our answer, if any, comes later
    status = status_of(Kind.refused) if receipt.refused else 200
    return ActivityResponse(receipt.answer, status_code=status)


routes = [Route(INSTANCE_ACTOR_PATH + "/inbox", instance_inbox, methods=["POST"])]
