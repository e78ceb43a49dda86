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
from server.domain_errors import NotFound, ServiceError, ValidationFailed
from server.errors import status_of
from server.money.amounts import format_amount, format_money
from server.render.bars import balance_bars
from server.settings import Settings
from server.settlement import admin
from server.settlement.exchange import verify_settlement
from server.settlement.statements import statement

PAGE = "/admin/peers"
NOTICE_KEY = "peers_notice"


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
    app = context(request)
    settings = app.settings
    page = await admin.peers_page(app.db, settings)
    values = {
        "balances": page.balances,
        "chart": balance_bars([(row.peer.domain, row.net) for row in page.balances]),
        "batches": page.batches,
        "payments": page.payments,
        "waiting": page.waiting,
        "notices": page.notices,
        "awaiting": page.awaiting,
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
    app = context(request)
    settings = app.settings

    async def work(form: Mapping[str, str]) -> str:
        proposal = admin.PeerProposal(form.get("domain", ""), form.get("credit_limit", ""))
        done = await admin.propose_peer(app.db, settings, app.federation.remote, proposal)
        limit = _money(settings)(done.credit_limit)
        return (
            f"Proposed settling with {done.peer.domain} (credit limit {limit}); "
            f"its admin accepts or rejects the proposal."
        )

    return await _act(request, work)


async def peer_action(request: Request) -> Response:
    """Accept or reject a peer's proposal; suspend, resume or end an agreement."""
    require_admin(request)
    app = context(request)
    domain, action = request.path_params["domain"].lower(), request.path_params["action"]
    if action not in admin.PEER_ACTIONS:
        raise NotFound(f"no action {action!r} on a peer")

    async def work(_: Mapping[str, str]) -> str:
        peer = await admin.act_on_peer(app.db, app.settings, domain, action)
        if action in admin.STATES:
            return f"{domain} is now {peer.state}."
        verb = "Accepted" if action == "accept" else "Rejected"
        return f"{verb} the proposal of {domain}; the peer is {peer.state}."

    return await _act(request, work)


async def send_batches(request: Request) -> Response:
    app = context(request)
    settings = app.settings
    domain = request.path_params["domain"].lower()

    async def work(_: Mapping[str, str]) -> str:
        made = await admin.send_batches(app.db, settings, app.federation.remote, domain)
        if not made:
            return f"Nothing to send to {domain}: no held shares for its payable creators."
        total = _money(settings)(sum(batch.total for batch in made))
        return f"Queued {len(made)} batch(es) to {domain}, {total} in all."

    return await _act(request, work)


async def pay(request: Request) -> Response:
    app = context(request)
    settings = app.settings
    domain = request.path_params["domain"].lower()

    async def work(form: Mapping[str, str]) -> str:
        notice = admin.PaymentNotice(form.get("amount", ""), form.get("reference", ""))
        paid = await admin.record_payment(app.db, settings, domain, notice)
        payment, amount = paid.payment, paid.amount
        return (
            f"Payment notice {payment.id} of {_money(settings)(amount)} sent to {domain}; "
            f"it becomes final when {domain} confirms."
        )

    return await _act(request, work)


async def answer_payment(request: Request) -> Response:
    app = context(request)
    settings = app.settings
    require_admin(request)
    payment_id, decision = int(request.path_params["payment_id"]), request.path_params["decision"]
    if decision not in admin.PAYMENT_DECISIONS:
        raise NotFound(f"no action {decision!r} on a payment notice")

    async def work(form: Mapping[str, str]) -> str:
        reason = form.get("reason", "").strip() or "the transfer has not arrived"
        payment = await admin.answer_payment(app.db, settings, payment_id, decision, reason)
        if decision == "confirm":
            return (
                f"Payment {payment_id} confirmed ({_money(settings)(payment.amount)}, "
                f"{payment.reference}): creators' promised funds are available."
            )
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
