"""The fake Stripe's saved cards and off-session charges (mixed into FakeStripe):
Customers, Checkout in setup mode (its SetupIntent and PaymentMethod), and PaymentIntents
confirmed off-session that succeed or fail as the card is told to (`card_declined`,
`authentication_required`), with Stripe's 402 card_error answer and the webhook events
`setup_intent.succeeded`, `payment_intent.succeeded` and `payment_intent.payment_failed`.
Objects are Stripe's documented ones from tests/data/stripe/ with their values changed.

API: POST /v1/customers; POST /v1/checkout/sessions with mode=setup; POST
/v1/payment_methods/{id}/detach (the PaymentMethod, its `customer` now null; Stripe's 400
for one not attached, 404 resource_missing for an unknown id; a detached card cannot be
charged); POST /v1/payment_intents (an Idempotency-Key repeated with the same parameters
replays the first answer, error or not, as Stripe does; with other parameters, 400
idempotency_error).
Knob lose_answers: that many PaymentIntent answers are lost after Stripe made the charge
(a 500 instead, as when the connection drops), so a client must send the same key again.
Control: POST /_test/setup {"session_id", "deliver"?} completes a setup session;
POST /_test/card {"payment_method"? | "customer"?, "outcome"} sets how the card answers;
POST /_test/intent_failed {"session_id", "deliver"?}: a Checkout payment's SEPA Direct
Debit fails after the session completed (payment_intent.payment_failed).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.support.payloads import load_json

OUTCOMES = ("succeeds", "card_declined", "authentication_required")
FAILURES = {
    "card_declined": ("card_declined", "generic_decline", "Your card was declined."),
    "authentication_required": (
        "authentication_required",
        "authentication_required",
        "Your card was declined. This transaction requires authentication.",
    ),
}


def error_response(
    status: int, message: str, kind: str = "invalid_request_error", **extra: Any
) -> Response:
    document = copy.deepcopy(load_json("stripe/error_invalid_request.json"))
    document["error"] = {"type": kind, "message": message, **extra}
    return JSONResponse(document, status_code=status)


def public(found: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in found.items() if not key.startswith("_")}


class SavedCards:
    """What FakeStripe keeps for saved cards; it declares these fields."""

    knobs: Any
    sessions: dict[str, dict[str, Any]]
    charges: dict[str, dict[str, Any]]
    customers: dict[str, dict[str, Any]]
    payment_methods: dict[str, dict[str, Any]]  # id -> {"customer", "outcome"}
    intents: dict[str, dict[str, Any]]
    answers: dict[str, tuple[dict[str, Any], int, dict[str, Any]]]  # idempotency key
    intents_created: int
    detached: list[str]  # payment methods detached, in order
    _lock: threading.Lock
    _id: Callable[[str], str]
    _event: Callable[[str, dict[str, Any]], dict[str, Any]]
    _refused: Callable[[Request], Response | None]
    _deliver: Callable[..., Any]

    async def _params(self, request: Request) -> dict[str, Any]:
        from tests.support.fakes.stripe import decode_form

        return decode_form(list((await request.form()).multi_items()))  # type: ignore[arg-type]

    async def _create_customer(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        params = await self._params(request)
        key = request.headers.get("idempotency-key", "")
        with self._lock:
            if key and key in self.answers:
                return JSONResponse(self.answers[key][2])
            customer: dict[str, Any] = copy.deepcopy(load_json("stripe/customer.json"))
            customer.update(
                id=self._id("cus"),
                created=int(time.time()),
                metadata=params.get("metadata", {}),
                description=params.get("description"),
            )
            self.customers[customer["id"]] = customer
            if key:
                self.answers[key] = (params, 200, customer)
        return JSONResponse(customer)

    def new_setup_session(self, params: dict[str, Any]) -> dict[str, Any]:
        session: dict[str, Any] = copy.deepcopy(load_json("stripe/checkout_session.json"))
        session_id = self._id("cs")
        session.update(
            id=session_id,
            mode="setup",
            amount_subtotal=None,
            amount_total=None,
            currency=params.get("currency"),
            customer=params["customer"],
            client_reference_id=params.get("client_reference_id"),
            metadata=params.get("metadata", {}),
            payment_method_types=params.get("payment_method_types", ["card"]),
            payment_status="no_payment_required",
            success_url=params["success_url"],
            cancel_url=params.get("cancel_url"),
            created=int(time.time()),
            url=f"{self.base_url}/pay/{session_id}",
        )
        session["_setup_metadata"] = params.get("setup_intent_data", {}).get("metadata", {})
        self.sessions[session_id] = session
        return session

    @property
    def base_url(self) -> str:
        raise NotImplementedError

    def complete_setup(self, session_id: str) -> list[dict[str, Any]]:
        """The donor saved a card on the setup page: the session's and the SetupIntent's
        events."""
        with self._lock:
            session = self.sessions[session_id]
            method = self._id("pm")
            self.payment_methods[method] = {
                "customer": session["customer"],
                "outcome": self.knobs.card_outcome,
            }
            setup: dict[str, Any] = copy.deepcopy(load_json("stripe/setup_intent.json"))
            setup.update(
                id=self._id("seti"),
                created=int(time.time()),
                customer=session["customer"],
                metadata=session["_setup_metadata"],
                payment_method=method,
                payment_method_types=session["payment_method_types"],
            )
            session.update(status="complete", setup_intent=setup["id"])
            return [
                self._event("checkout.session.completed", public(session)),
                self._event("setup_intent.succeeded", setup),
            ]

    async def _detach(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        method_id = request.path_params["method_id"]
        with self._lock:
            method = self.payment_methods.get(method_id)
            if method is None:
                return error_response(
                    404,
                    f"No such PaymentMethod: '{method_id}'",
                    code="resource_missing",
                    param="payment_method",
                )
            if method["customer"] is None:
                return error_response(
                    400,
                    "The payment method you provided is not attached to a customer so "
                    "detachment is impossible.",
                )
            method["customer"] = None
            self.detached.append(method_id)
        found: dict[str, Any] = copy.deepcopy(load_json("stripe/payment_method.json"))
        found.update(id=method_id, customer=None, created=int(time.time()))
        return JSONResponse(found)

    async def _create_intent(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        params = await self._params(request)
        key = request.headers.get("idempotency-key", "")
        task = None
        with self._lock:
            if key and key in self.answers:
                earlier, status, body = self.answers[key]
                if earlier != params:
                    return error_response(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters",
                        "idempotency_error",
                    )
            else:
                problem = self._intent_problem(params)
                if problem:
                    return error_response(400, problem)
                status, body, event = self._new_intent(params)
                if key:
                    self.answers[key] = (params, status, body)
                self.intents_created += 1
                if self.knobs.webhook_url:
                    task = BackgroundTask(self._deliver, event)
            lost = self.knobs.lose_answers > 0
            self.knobs.lose_answers -= 1 if lost else 0
        if lost:  # made (or replayed), but the answer never reaches the client
            return error_response(500, "An unknown error occurred", "api_error")
        return JSONResponse(body, status_code=status, background=task)

    def _intent_problem(self, params: dict[str, Any]) -> str:
        if not str(params.get("amount", "")).isdigit() or not params.get("currency"):
            return "Missing required param: amount."
        method = self.payment_methods.get(str(params.get("payment_method", "")))
        if method is None:
            return f"No such PaymentMethod: '{params.get('payment_method')}'"
        if method["customer"] != params.get("customer"):
            return "The provided PaymentMethod belongs to another customer."
        if params.get("off_session") != "true" or params.get("confirm") != "true":
            return "This test API takes off-session, confirmed PaymentIntents only."
        return ""

    def _new_intent(self, params: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, Any]]:
        intent: dict[str, Any] = copy.deepcopy(load_json("stripe/payment_intent.json"))
        amount = int(params["amount"])
        outcome = self.payment_methods[params["payment_method"]]["outcome"]
        intent.update(
            id=self._id("pi"),
            amount=amount,
            amount_received=amount,
            created=int(time.time()),
            currency=params["currency"],
            customer=params["customer"],
            description=params.get("description"),
            metadata=params.get("metadata", {}),
            payment_method=params["payment_method"],
            payment_method_types=params.get("payment_method_types", ["card"]),
            latest_charge=self._id("ch"),
        )
        self.intents[intent["id"]] = intent
        if outcome == "succeeds":
            charge: dict[str, Any] = copy.deepcopy(load_json("stripe/charge.json"))
            charge.update(
                id=intent["latest_charge"],
                amount=amount,
                amount_captured=amount,
                currency=intent["currency"],
                customer=intent["customer"],
                payment_intent=intent["id"],
                metadata=intent["metadata"],
                created=intent["created"],
            )
            self.charges[intent["id"]] = charge
            return 200, intent, self._event("payment_intent.succeeded", intent)
        code, decline, message = FAILURES[outcome]
        failure = {"type": "card_error", "code": code, "decline_code": decline, "message": message}
        intent.update(
            status="requires_payment_method",
            amount_received=0,
            last_payment_error={**failure, "charge": intent["latest_charge"]},
        )
        error: dict[str, Any] = copy.deepcopy(load_json("stripe/error_card_declined.json"))
        error["error"].update(failure, charge=intent["latest_charge"], payment_intent=intent)
        return 402, error, self._event("payment_intent.payment_failed", intent)

    async def _control_setup(self, request: Request) -> Response:
        body = await request.json()
        session = self.sessions.get(str(body.get("session_id", "")))
        if session is None or session.get("mode") != "setup":
            return JSONResponse({"error": "no such setup session"}, status_code=404)
        completed, saved = self.complete_setup(session["id"])
        if body.get("deliver", True):
            await self._deliver(completed)
            return JSONResponse(await self._deliver(saved))
        return JSONResponse(await self._deliver(saved, send=False))

    async def _control_intent_failed(self, request: Request) -> Response:
        body = await request.json()
        session = self.sessions.get(str(body.get("session_id", "")))
        if session is None or not session.get("payment_intent"):
            return JSONResponse({"error": "no such paid session"}, status_code=404)
        intent: dict[str, Any] = copy.deepcopy(load_json("stripe/payment_intent.json"))
        failure = {
            "type": "card_error",
            "code": "payment_intent_payment_attempt_failed",
            "decline_code": "insufficient_funds",
            "message": "The account has insufficient funds to cover this payment.",
        }
        intent.update(
            id=session["payment_intent"],
            amount=session["amount_total"],
            amount_received=0,
            currency=session["currency"],
            customer=None,
            metadata=session["_intent_metadata"],
            payment_method_types=["sepa_debit"],
            status="requires_payment_method",
            last_payment_error=failure,
        )
        event = self._event("payment_intent.payment_failed", intent)
        return JSONResponse(await self._deliver(event, send=bool(body.get("deliver", True))))

    async def _control_card(self, request: Request) -> Response:
        body = await request.json()
        outcome = str(body.get("outcome", ""))
        if outcome not in OUTCOMES:
            return JSONResponse({"error": f"outcome is one of {OUTCOMES}"}, status_code=422)
        chosen = [
            method
            for method, found in self.payment_methods.items()
            if method == body.get("payment_method") or found["customer"] == body.get("customer")
        ]
        if not chosen:
            return JSONResponse({"error": "no such card"}, status_code=404)
        for method in chosen:
            self.payment_methods[method]["outcome"] = outcome
        return JSONResponse({"payment_methods": chosen, "outcome": outcome})
