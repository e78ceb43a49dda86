"""A fake Stripe API on loopback: the endpoints the instance calls, answered with Stripe's
documented objects (tests/data/stripe/) with their values changed, and webhook events
signed with Stripe's scheme (`t=…,v1=` HMAC-SHA256 of "t.body", made by the library's own
`WebhookSignature.generate_signature_header`).

API (form-encoded requests as the library sends them, `Authorization: Bearer <secret key>`):
POST /v1/checkout/sessions (an `Idempotency-Key` repeated with the same parameters answers
the same session; with other parameters, Stripe's 400 idempotency_error);
GET /v1/checkout/sessions/{id}. Stripe's hosted page: GET /pay/{id} completes the session
(delivering checkout.session.completed when `deliver_on_pay`) and redirects to its
success_url, as Stripe does.

Saved cards (and detaching them) and off-session PaymentIntents:
tests/support/fakes/stripe_cards.py.

Control API (JSON): POST /_test/complete {"session_id", "payment_status"?: "paid"|"unpaid",
"deliver"?: bool} -> the event and its delivery; POST /_test/async {"session_id",
"succeeded": bool}; POST /_test/refund {"payment_intent", "amount"};
POST /_test/dispute {"payment_intent", "amount"?}; POST /_test/dispute_won {"dispute_id",
"event"?: "funds_reinstated"|"closed"} gives the disputed amount back (a reinstatement
balance transaction returning the dispute fee unless knob dispute_fee_returned is off) and
sends that event; POST /_test/dispute_lost {"dispute_id"} sends charge.dispute.closed with
status lost; POST /_test/deliver {"event_id",
"timestamp"?, "secret"?} signs an event again and delivers it. Each answers
{"event", "body", "signature", "status"} (status: the webhook's answer, 0 when not
delivered). A dispute's balance transaction carries Stripe's dispute fee (knob
dispute_fee, 0 for none). Knobs: webhook_url, webhook_secret, secret_key, deliver_on_pay,
fail_5xx, card_outcome (how a newly saved card answers), dispute_fee, dispute_fee_returned,
lose_answers.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.fakes.server import Controlled
from tests.support.fakes.stripe_cards import SavedCards, error_response, public
from tests.support.payloads import load_json

SECRET_KEY = "sk_test_likewise_fake"
WEBHOOK_SECRET = "whsec_likewise_fake_secret"


@dataclass
class Knobs:
    webhook_url: str = ""  # where events are delivered ("" : returned, not delivered)
    webhook_secret: str = WEBHOOK_SECRET
    secret_key: str = SECRET_KEY
    deliver_on_pay: bool = True
    fail_5xx: int = 0
    card_outcome: str = "succeeds"  # succeeds, card_declined or authentication_required
    dispute_fee: int = 1500  # minor units, in the dispute's balance transaction
    dispute_fee_returned: bool = True  # a won dispute's reinstatement returns the fee
    lose_answers: int = 0  # PaymentIntent answers lost after the charge was made


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) back to nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for here, following in itertools.pairwise(parts):
            child: dict[str, Any] | list[Any] = {} if not following.isdigit() else []
            if isinstance(node, list):
                index = int(here)
                while len(node) <= index:
                    node.append(copy.copy(child))
                node = node[index]
            else:
                node = node.setdefault(here, child)
        last = parts[-1]
        if isinstance(node, list):
            while len(node) <= int(last):
                node.append(None)
            node[int(last)] = value
        else:
            node[last] = value
    return root


_error = error_response


@dataclass
class FakeStripe(SavedCards, Controlled):
    host: str = "127.0.0.1"
    knobs: Knobs = field(default_factory=Knobs)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, tuple[dict[str, Any], str]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)  # by payment intent
    disputes: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: list[tuple[str, int]] = field(default_factory=list)  # (event id, status)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, tuple[dict[str, Any], int, dict[str, Any]]] = field(default_factory=dict)
    created: int = 0  # sessions made (an idempotent repeat makes none)
    intents_created: int = 0  # off-session PaymentIntents made
    detached: list[str] = field(default_factory=list)  # payment methods detached
    requests: int = 0
    rate_limited: int = 0
    over_limit: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    def _id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids):06d}"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/checkout/sessions", self._create, methods=["POST"]),
                Route("/v1/checkout/sessions/{session_id}", self._retrieve, methods=["GET"]),
                Route("/v1/customers", self._create_customer, methods=["POST"]),
                Route("/v1/payment_intents", self._create_intent, methods=["POST"]),
                Route("/v1/payment_methods/{method_id}/detach", self._detach, methods=["POST"]),
                Route("/pay/{session_id}", self._pay, methods=["GET"]),
                Route("/_test/complete", self._control_complete, methods=["POST"]),
                Route("/_test/async", self._control_async, methods=["POST"]),
                Route("/_test/refund", self._control_refund, methods=["POST"]),
                Route("/_test/dispute", self._control_dispute, methods=["POST"]),
                Route("/_test/dispute_won", self._control_dispute_won, methods=["POST"]),
                Route("/_test/dispute_lost", self._control_dispute_lost, methods=["POST"]),
                Route("/_test/deliver", self._control_deliver, methods=["POST"]),
                Route("/_test/setup", self._control_setup, methods=["POST"]),
                Route("/_test/card", self._control_card, methods=["POST"]),
                Route("/_test/intent_failed", self._control_intent_failed, methods=["POST"]),
                Route("/_test/knobs", self._control_knobs, methods=["POST"]),
                Route("/_test/stats", self._control_stats, methods=["GET"]),
            ]
        )

    def _refused(self, request: Request) -> Response | None:
        self.requests += 1
        if self.knobs.fail_5xx > 0:
            self.knobs.fail_5xx -= 1
            return _error(500, "An unknown error occurred", "api_error")
        if request.headers.get("authorization") != f"Bearer {self.knobs.secret_key}":
            return _error(401, "Invalid API Key provided", "invalid_request_error")
        return None

    # The API

    async def _create(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        params = decode_form(list((await request.form()).multi_items()))  # type: ignore[arg-type]
        key = request.headers.get("idempotency-key", "")
        with self._lock:
            if key and key in self.idempotency:
                earlier, session_id = self.idempotency[key]
                if earlier != params:
                    return _error(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters",
                        "idempotency_error",
                    )
                return JSONResponse(self.sessions[session_id])
            problem = _session_problem(params)
            if problem:
                return _error(400, problem, param=problem.split(": ")[-1].rstrip("."))
            made = self.new_setup_session if params.get("mode") == "setup" else self._new_session
            session = made(params)
            if key:
                self.idempotency[key] = (params, session["id"])
            self.created += 1
        return JSONResponse(session)

    def _new_session(self, params: dict[str, Any]) -> dict[str, Any]:
        session: dict[str, Any] = copy.deepcopy(load_json("stripe/checkout_session.json"))
        item = params["line_items"][0]
        price = item["price_data"]
        total = int(price["unit_amount"]) * int(item.get("quantity", "1"))
        session_id = self._id("cs")
        session.update(
            id=session_id,
            amount_subtotal=total,
            amount_total=total,
            currency=price["currency"],
            client_reference_id=params.get("client_reference_id"),
            metadata=params.get("metadata", {}),
            payment_method_types=params.get("payment_method_types", ["card"]),
            success_url=params["success_url"],
            cancel_url=params.get("cancel_url"),
            created=int(time.time()),
            expires_at=int(time.time()) + 86400,
            url=f"{self.base_url}/pay/{session_id}",
        )
        session["_intent_metadata"] = params.get("payment_intent_data", {}).get("metadata", {})
        self.sessions[session_id] = session
        return session

    async def _retrieve(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        found = self.sessions.get(request.path_params["session_id"])
        if found is None:
            return _error(404, "No such checkout.session", code="resource_missing")
        return JSONResponse(public(found))

    async def _pay(self, request: Request) -> Response:
        """Stripe's hosted page, paid at once: back to the success URL."""
        session_id = request.path_params["session_id"]
        if session_id not in self.sessions:
            return Response("no such session", status_code=404)
        if self.sessions[session_id]["mode"] == "setup":
            events = self.complete_setup(session_id)
        else:
            events = [self._complete(session_id, "paid")]
        if self.knobs.deliver_on_pay:
            for event in events:
                await self._deliver(event)
        success = str(self.sessions[session_id]["success_url"])
        return RedirectResponse(success.replace("{CHECKOUT_SESSION_ID}", session_id), 303)

    # Events

    def _complete(self, session_id: str, status: str) -> dict[str, Any]:
        with self._lock:
            session = self.sessions[session_id]
            if session["payment_intent"] is None:
                intent = self._id("pi")
                session["payment_intent"] = intent
                charge: dict[str, Any] = copy.deepcopy(load_json("stripe/charge.json"))
                charge.update(
                    id=self._id("ch"),
                    amount=session["amount_total"],
                    amount_captured=session["amount_total"],
                    currency=session["currency"],
                    payment_intent=intent,
                    metadata=session["_intent_metadata"],
                    created=int(time.time()),
                )
                self.charges[intent] = charge
            session.update(status="complete", payment_status=status)
            return self._event("checkout.session.completed", public(session))

    def _event(self, kind: str, found: dict[str, Any]) -> dict[str, Any]:
        event: dict[str, Any] = copy.deepcopy(load_json("stripe/event.json"))
        event.update(id=self._id("evt"), type=kind, created=int(time.time()))
        event["data"] = {"object": copy.deepcopy(found)}
        self.events[event["id"]] = event
        return event

    def sign(self, body: str, *, timestamp: int | None = None, secret: str | None = None) -> str:
        return str(
            stripe.WebhookSignature.generate_signature_header(
                body, secret or self.knobs.webhook_secret, timestamp=timestamp
            )
        )

    async def _deliver(
        self,
        event: dict[str, Any],
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        send: bool = True,
    ) -> dict[str, Any]:
        """Sign the event; post it to webhook_url when set (and `send`)."""
        body = json.dumps(event, indent=2)
        signature = self.sign(body, timestamp=timestamp, secret=secret)
        status = 0
        if self.knobs.webhook_url and send:
            async with httpx.AsyncClient(timeout=30) as client:
                answer = await client.post(
                    self.knobs.webhook_url,
                    content=body.encode(),
                    headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
                )
            status = answer.status_code
            self.deliveries.append((event["id"], status))
        return {"event": event, "body": body, "signature": signature, "status": status}

    async def _control_complete(self, request: Request) -> Response:
        body = await request.json()
        session_id = str(body.get("session_id", ""))
        if session_id not in self.sessions:
            return JSONResponse({"error": "no such session"}, status_code=404)
        event = self._complete(session_id, str(body.get("payment_status", "paid")))
        delivered = await self._deliver(event) if body.get("deliver", True) else _unsent(event)
        if not body.get("deliver", True):
            delivered["signature"] = self.sign(delivered["body"])
        return JSONResponse(delivered)

    async def _control_async(self, request: Request) -> Response:
        body = await request.json()
        session = self.sessions.get(str(body.get("session_id", "")))
        if session is None:
            return JSONResponse({"error": "no such session"}, status_code=404)
        succeeded = bool(body.get("succeeded", True))
        session["payment_status"] = "paid" if succeeded else "unpaid"
        kind = "succeeded" if succeeded else "failed"
        event = self._event(f"checkout.session.async_payment_{kind}", public(session))
        return JSONResponse(await self._deliver(event))

    async def _control_refund(self, request: Request) -> Response:
        body = await request.json()
        charge = self.charges.get(str(body.get("payment_intent", "")))
        if charge is None:
            return JSONResponse({"error": "no such payment"}, status_code=404)
        amount = int(body.get("amount", charge["amount"] - charge["amount_refunded"]))
        charge["amount_refunded"] = min(charge["amount"], charge["amount_refunded"] + amount)
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        refund = {
            "id": self._id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
        }
        charge["refunds"]["data"].insert(0, refund)
        charge["refunds"]["total_count"] += 1
        return JSONResponse(await self._deliver(self._event("charge.refunded", charge)))

    async def _control_dispute(self, request: Request) -> Response:
        body = await request.json()
        charge = self.charges.get(str(body.get("payment_intent", "")))
        if charge is None:
            return JSONResponse({"error": "no such payment"}, status_code=404)
        dispute: dict[str, Any] = copy.deepcopy(load_json("stripe/dispute.json"))
        dispute.update(
            id=self._id("du"),
            amount=int(body.get("amount", charge["amount"])),
            charge=charge["id"],
            currency=charge["currency"],
            payment_intent=charge["payment_intent"],
            created=int(time.time()),
        )
        dispute["balance_transactions"] = self._dispute_withdrawal(dispute)
        charge["disputed"] = True
        self.disputes[dispute["id"]] = dispute
        return JSONResponse(await self._deliver(self._event("charge.dispute.created", dispute)))

    def _dispute_withdrawal(self, dispute: dict[str, Any]) -> list[dict[str, Any]]:
        """The balance transaction taking the disputed amount and Stripe's fee."""
        if not self.knobs.dispute_fee:
            return []
        fee = int(self.knobs.dispute_fee)
        withdrawal: dict[str, Any] = copy.deepcopy(
            load_json("stripe/balance_transaction_dispute.json")
        )
        withdrawal.update(
            id=self._id("txn"),
            amount=-dispute["amount"],
            fee=fee,
            net=-dispute["amount"] - fee,
            currency=dispute["currency"],
            source=dispute["id"],
            created=dispute["created"],
            description=f"Chargeback withdrawal for {dispute['charge']}",
        )
        withdrawal["fee_details"][0].update(amount=fee, currency=dispute["currency"])
        return [withdrawal]

    async def _control_dispute_won(self, request: Request) -> Response:
        """The bank decided for the merchant: the amount (and the fee, when Stripe returns
        it) comes back in a reinstatement balance transaction; the dispute is won."""
        body = await request.json()
        dispute = self.disputes.get(str(body.get("dispute_id", "")))
        if dispute is None:
            return JSONResponse({"error": "no such dispute"}, status_code=404)
        kind = str(body.get("event", "funds_reinstated"))
        if kind not in ("funds_reinstated", "closed"):
            return JSONResponse({"error": "event is funds_reinstated or closed"}, 422)
        if dispute["status"] != "won":
            dispute.update(status="won", is_charge_refundable=False)
            dispute["balance_transactions"].append(self._dispute_reinstatement(dispute))
        event = self._event(f"charge.dispute.{kind}", dispute)
        return JSONResponse(await self._deliver(event))

    async def _control_dispute_lost(self, request: Request) -> Response:
        body = await request.json()
        dispute = self.disputes.get(str(body.get("dispute_id", "")))
        if dispute is None:
            return JSONResponse({"error": "no such dispute"}, status_code=404)
        dispute.update(status="lost", is_charge_refundable=False)
        return JSONResponse(await self._deliver(self._event("charge.dispute.closed", dispute)))

    def _dispute_reinstatement(self, dispute: dict[str, Any]) -> dict[str, Any]:
        """The balance transaction giving a won dispute's amount back (Stripe books a
        returned dispute fee as its negative fee)."""
        fee = -int(self.knobs.dispute_fee) if self.knobs.dispute_fee_returned else 0
        back: dict[str, Any] = copy.deepcopy(
            load_json("stripe/balance_transaction_dispute_reversal.json")
        )
        back.update(
            id=self._id("txn"),
            amount=dispute["amount"],
            fee=fee,
            net=dispute["amount"] - fee,
            currency=dispute["currency"],
            source=dispute["id"],
            created=int(time.time()),
            description=f"Chargeback reversal for {dispute['charge']}",
        )
        if fee:
            back["fee_details"][0].update(amount=fee, currency=dispute["currency"])
        else:
            back["fee_details"] = []
        return back

    async def _control_deliver(self, request: Request) -> Response:
        body = await request.json()
        event = self.events.get(str(body.get("event_id", "")))
        if event is None:
            return JSONResponse({"error": "no such event"}, status_code=404)
        stamp = body.get("timestamp")
        delivered = await self._deliver(
            event, timestamp=int(stamp) if stamp is not None else None, secret=body.get("secret")
        )
        return JSONResponse(delivered)


def _unsent(event: dict[str, Any]) -> dict[str, Any]:
    return {"event": event, "body": json.dumps(event, indent=2), "signature": "", "status": 0}


def _session_problem(params: dict[str, Any]) -> str:
    """Why Stripe would refuse these Checkout parameters ("" when it would not)."""
    if params.get("mode") == "setup":
        if not params.get("customer") or not params.get("success_url"):
            return "Missing required param: customer."
        return ""
    if params.get("mode") != "payment":
        return "Missing required param: mode."
    items = params.get("line_items")
    if not isinstance(items, list) or not items:
        return "Missing required param: line_items."
    price = items[0].get("price_data") if isinstance(items[0], dict) else None
    if not isinstance(price, dict) or not str(price.get("unit_amount", "")).isdigit():
        return "Missing required param: line_items[0][price_data][unit_amount]."
    if not isinstance(price.get("product_data"), dict):
        return "Missing required param: line_items[0][price_data][product_data]."
    if not params.get("success_url"):
        return "Missing required param: success_url."
    return ""
