"""Admin pages for settling with peer instances: peers and their open balances (with a bar
chart), proposals and their answers, batches both ways, payment notices, a statement per
peer. Every action calls the service the `likewise peers` / `settlements` commands call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth import checked_form, require_admin
from server.context import context
from server.db.engine import Database
from server.domain_errors import NotFound, ServiceError, ValidationFailed
from server.errors import status_of
from server.models import Direction, PaymentState, PeerState
from server.money.amounts import format_amount, format_money, parse_amount
from server.render.bars import balance_bars
from server.settings import Settings
from server.settlement.exchange import (
    list_payments,
    list_settlements,
    overdue,
    verify_settlement,
)
from server.settlement.outgoing import prepare_batches
from server.settlement.payments import confirm_payment, mark_paid, refuse_payment
from server.settlement.peering import (
    answer_proposal,
    discover,
    find_peer,
    list_peers,
    normalize_domain,
    propose,
    set_state,
    waiting_instances,
)
from server.settlement.statements import statement
from server.settlement.waiting_notice import notices_to_instance

PAGE = "/admin/peers"
NOTICE_KEY = "peers_notice"
STATES = {"suspend": PeerState.suspended, "resume": PeerState.active, "end": PeerState.ended}


def _money(settings: Settings) -> Callable[[int], str]:
    return lambda value: format_money(value, settings)


def _render(
    request: Request, name: str, values: Mapping[str, object], status: int = 200
) -> Response:
    settings = context(request).settings
    full: dict[str, Any] = {
        "money": _money(settings),
        "plain": lambda value: format_amount(value, settings),
        **values,
    }
    response: Response = context(request).templates.TemplateResponse(
        request, name, full, status_code=status
    )
    return response


async def _page(
    request: Request, error: ServiceError | None = None, entered: Mapping[str, str] | None = None
) -> Response:
    require_admin(request)
    settings: Settings = context(request).settings
    db: Database = context(request).db
    balances = await list_peers(db, settings)
    batches = await list_settlements(db)
    payments = await list_payments(db)
    waiting = await waiting_instances(db)
    notices = await notices_to_instance(db, settings)
    awaiting = {
        peer.domain
        for payment, peer in payments
        if payment.direction == Direction.outgoing and payment.state == PaymentState.notified
    }
    values = {
        "balances": balances,
        "chart": balance_bars([(row.peer.domain, row.net) for row in balances]),
        "batches": [(batch, peer, overdue(settings, batch)) for batch, peer in batches],
        "payments": payments,
        "waiting": waiting,
        "notices": notices,
        "awaiting": awaiting,
        "error": error,
        "notice": request.session.pop(NOTICE_KEY, ""),
        "entered": entered or {},
        "default_limit": format_amount(settings.peer_credit_limit, settings),
    }
    return _render(request, "admin_peers.html", values, status_of(error) if error else 200)


async def peers_page(request: Request) -> Response:
    return await _page(request)


async def _act(request: Request, work: Callable[[Mapping[str, str]], Awaitable[str]]) -> Response:
    """Check the admin and the form, do the work, then back to the page with its notice (or
    the same page showing the service's refusal)."""
    require_admin(request)
    form = await checked_form(request)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    try:
        request.session[NOTICE_KEY] = await work(fields)
    except ServiceError as error:
        return await _page(request, error, fields)
    return RedirectResponse(PAGE, status_code=303)


async def add_peer(request: Request) -> Response:
    settings: Settings = context(request).settings
    db: Database = context(request).db

    async def work(form: Mapping[str, str]) -> str:
        domain = normalize_domain(settings, form.get("domain", ""))
        limit = settings.peer_credit_limit
        if form.get("credit_limit", "").strip():
            limit = parse_amount(form["credit_limit"], settings, field="credit_limit")
        remote = context(request).federation.remote
        # Discovery reads the peer's NodeInfo and actor: network I/O, outside any transaction.
        profile = await discover(remote, remote.client, settings, domain)
        peer = await propose(db, settings, profile, limit)
        return (
            f"Proposed settling with {peer.domain} (credit limit {_money(settings)(limit)}); "
            f"its admin accepts or rejects the proposal."
        )

    return await _act(request, work)


async def peer_action(request: Request) -> Response:
    """Accept or reject a peer's proposal; suspend, resume or end an agreement."""
    require_admin(request)
    db: Database = context(request).db
    domain, action = request.path_params["domain"].lower(), request.path_params["action"]
    if action not in ("accept", "reject", *STATES):
        raise NotFound(f"no action {action!r} on a peer")

    async def work(_: Mapping[str, str]) -> str:
        if action in STATES:
            peer = await set_state(db, domain, STATES[action])
            return f"{domain} is now {peer.state}."
        settings = context(request).settings
        peer = await answer_proposal(db, settings, domain, accept=action == "accept")
        verb = "Accepted" if action == "accept" else "Rejected"
        return f"{verb} the proposal of {domain}; the peer is {peer.state}."

    return await _act(request, work)


async def send_batches(request: Request) -> Response:
    settings: Settings = context(request).settings
    db: Database = context(request).db
    domain = request.path_params["domain"].lower()

    async def work(_: Mapping[str, str]) -> str:
        async with db.session() as session:
            peer_id = (await find_peer(session, domain)).id
        made = await prepare_batches(db, settings, context(request).federation.remote, peer_id)
        if not made:
            return f"Nothing to send to {domain}: no held shares for its payable creators."
        total = _money(settings)(sum(batch.total for batch in made))
        return f"Queued {len(made)} batch(es) to {domain}, {total} in all."

    return await _act(request, work)


async def pay(request: Request) -> Response:
    settings: Settings = context(request).settings
    domain = request.path_params["domain"].lower()

    async def work(form: Mapping[str, str]) -> str:
        amount = parse_amount(form.get("amount", ""), settings)
        payment = await mark_paid(
            context(request).db, settings, domain, amount, form.get("reference", "")
        )
        return (
            f"Payment notice {payment.id} of {_money(settings)(amount)} sent to {domain}; "
            f"it becomes final when {domain} confirms."
        )

    return await _act(request, work)


async def answer_payment(request: Request) -> Response:
    settings: Settings = context(request).settings
    require_admin(request)
    payment_id, decision = int(request.path_params["payment_id"]), request.path_params["decision"]
    if decision not in ("confirm", "refuse"):
        raise NotFound(f"no action {decision!r} on a payment notice")

    async def work(form: Mapping[str, str]) -> str:
        db = context(request).db
        if decision == "confirm":
            payment = await confirm_payment(db, settings, payment_id)
            return (
                f"Payment {payment_id} confirmed ({_money(settings)(payment.amount)}, "
                f"{payment.reference}): creators' promised funds are available."
            )
        reason = form.get("reason", "").strip() or "the transfer has not arrived"
        await refuse_payment(db, settings, payment_id, reason)
        return f"Payment {payment_id} refused; its batches are open again."

    return await _act(request, work)


async def verify(request: Request) -> Response:
    settings: Settings = context(request).settings
    settlement_id = int(request.path_params["settlement_id"])

    async def work(_: Mapping[str, str]) -> str:
        result = await verify_settlement(context(request).db, settings, settlement_id)
        if not result.ok:
            failed = "; ".join(f"{name}: {detail}" for name, ok, detail in result.checks if not ok)
            raise ValidationFailed(f"Batch {settlement_id} does not verify: {failed}")
        names = ", ".join(name for name, _, _ in result.checks)
        return f"Batch {settlement_id} verifies ({names})."

    return await _act(request, work)


def _short(text: str) -> str:
    """A chart label: "batch 3 (2025-01) sent to …" → "batch 3", "payment to …" → "payment"."""
    words = text.split()
    return " ".join(words[:2] if words[:1] == ["batch"] else words[:1])


async def statement_page(request: Request) -> Response:
    require_admin(request)
    settings: Settings = context(request).settings
    domain = request.path_params["domain"].lower()
    result = await statement(context(request).db, settings, domain)
    chart = balance_bars([(_short(entry.text), entry.balance) for entry in result.entries])
    rows = list(zip(chart.bars, result.entries, strict=True))
    values = {"domain": domain, "result": result, "chart": chart, "rows": rows}
    return _render(request, "peer_statement.html", values)


routes = [
    Route(PAGE, peers_page, methods=["GET"]),
    Route(f"{PAGE}/propose", add_peer, methods=["POST"]),
    Route(PAGE + "/{domain:str}/statement", statement_page, methods=["GET"]),
    Route(PAGE + "/{domain:str}/send", send_batches, methods=["POST"]),
    Route(PAGE + "/{domain:str}/paid", pay, methods=["POST"]),
    Route(PAGE + "/{domain:str}/{action:str}", peer_action, methods=["POST"]),
    Route("/admin/settlements/{settlement_id:int}/verify", verify, methods=["POST"]),
    Route("/admin/payments/{payment_id:int}/{decision:str}", answer_payment, methods=["POST"]),
]
