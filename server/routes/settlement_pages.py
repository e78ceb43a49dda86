"""Admin pages for settling with peer instances: peers and their open balances (with a bar
chart), proposals and their answers, batches both ways, payment notices, a statement per
peer. Every action calls the service the `likewise peers` / `settlements` commands call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth import checked_form, require_admin
from server.context import context
from server.domain_errors import NotFound, Outcome, ServiceError
from server.errors import status_of
from server.models import Peer, PeerClaim, Settlement, SettlementPayment
from server.money.amounts import format_amount, format_money, parse_id
from server.render.bars import balance_bars
from server.settings import Settings
from server.settlement import admin
from server.settlement.exchange import Verification

PAGE = "/admin/peers"
NOTICE_KEY = "peers_notice"
Done = TypeVar("Done")


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


def _page(
    request: Request,
    page: admin.PeersPage,
    error: ServiceError | None = None,
    entered: Mapping[str, str] | None = None,
) -> Response:
    settings = context(request).settings
    values = {
        "balances": page.balances,
        "chart": balance_bars([(row.peer.domain, row.net) for row in page.balances]),
        "batches": page.batches,
        "payments": page.payments,
        "waiting": page.waiting,
        "notices": page.notices,
        "awaiting": page.awaiting,
        "claims": page.claims,
        "error": error,
        "notice": request.session.pop(NOTICE_KEY, ""),
        "entered": entered or {},
        "default_limit": format_amount(settings.peer_credit_limit, settings),
    }
    return _render(request, "admin_peers.html", values, status_of(error) if error else 200)


async def peers_page(request: Request) -> Response:
    require_admin(request)
    app = context(request)
    return _page(request, await admin.peers_page(app.db, app.settings))


async def _form(request: Request) -> dict[str, str]:
    """Check the admin, then the form."""
    require_admin(request)
    form = await checked_form(request)
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _answer(
    request: Request,
    outcome: Outcome[Done, admin.PeersPage],
    entered: Mapping[str, str],
    notice: Callable[[Done], str],
) -> Response:
    """Back to the page with the action's notice, or the same page showing its refusal."""
    if outcome.page is not None:
        return _page(request, outcome.page, outcome.error, entered)
    assert outcome.done is not None
    request.session[NOTICE_KEY] = notice(outcome.done)
    return RedirectResponse(PAGE, status_code=303)


async def add_peer(request: Request) -> Response:
    app = context(request)
    settings = app.settings
    form = await _form(request)
    proposal = admin.PeerProposal(form.get("domain", ""), form.get("credit_limit", ""))
    outcome = await admin.propose_peer_or_page(app.db, settings, app.federation.remote, proposal)

    def notice(done: admin.Proposed) -> str:
        limit = _money(settings)(done.credit_limit)
        return (
            f"Proposed settling with {done.peer.domain} (credit limit {limit}); "
            f"its admin accepts or rejects the proposal."
        )

    return _answer(request, outcome, form, notice)


async def peer_action(request: Request) -> Response:
    """Accept or reject a peer's proposal; suspend, resume or end an agreement."""
    require_admin(request)
    app = context(request)
    domain, action = request.path_params["domain"].lower(), request.path_params["action"]
    if action not in admin.PEER_ACTIONS:
        raise NotFound(f"no action {action!r} on a peer")
    form = await _form(request)
    outcome = await admin.act_on_peer_or_page(app.db, app.settings, domain, action)

    def notice(peer: Peer) -> str:
        if action in admin.STATES:
            return f"{domain} is now {peer.state}."
        verb = "Accepted" if action == "accept" else "Rejected"
        return f"{verb} the proposal of {domain}; the peer is {peer.state}."

    return _answer(request, outcome, form, notice)


async def send_batches(request: Request) -> Response:
    app = context(request)
    settings = app.settings
    domain = request.path_params["domain"].lower()
    form = await _form(request)
    outcome = await admin.send_batches_or_page(app.db, settings, app.federation.remote, domain)

    def notice(made: list[Settlement]) -> str:
        if not made:
            return f"Nothing to send to {domain}: no held shares for its payable creators."
        total = _money(settings)(sum(batch.total for batch in made))
        return f"Queued {len(made)} batch(es) to {domain}, {total} in all."

    return _answer(request, outcome, form, notice)


async def pay(request: Request) -> Response:
    app = context(request)
    settings = app.settings
    domain = request.path_params["domain"].lower()
    form = await _form(request)
    payment_notice = admin.PaymentNotice(form.get("amount", ""), form.get("reference", ""))
    outcome = await admin.record_payment_or_page(app.db, settings, domain, payment_notice)

    def notice(paid: admin.Paid) -> str:
        return (
            f"Payment notice {paid.payment.id} of {_money(settings)(paid.amount)} sent to "
            f"{domain}; it becomes final when {domain} confirms."
        )

    return _answer(request, outcome, form, notice)


async def answer_payment(request: Request) -> Response:
    app = context(request)
    settings = app.settings
    require_admin(request)
    payment_id, decision = int(request.path_params["payment_id"]), request.path_params["decision"]
    if decision not in admin.PAYMENT_DECISIONS:
        raise NotFound(f"no action {decision!r} on a payment notice")
    form = await _form(request)
    reason = form.get("reason", "").strip() or "the transfer has not arrived"
    outcome = await admin.answer_payment_or_page(app.db, settings, payment_id, decision, reason)

    def notice(payment: SettlementPayment) -> str:
        if decision == "confirm":
            return (
                f"Payment {payment_id} confirmed ({_money(settings)(payment.amount)}, "
                f"{payment.reference}): creators' promised funds are available."
            )
        return f"Payment {payment_id} refused; its batches are open again."

    return _answer(request, outcome, form, notice)


async def verify(request: Request) -> Response:
    app = context(request)
    settlement_id = int(request.path_params["settlement_id"])
    form = await _form(request)
    outcome = await admin.verify_batch_or_page(app.db, app.settings, settlement_id)

    def notice(result: Verification) -> str:
        names = ", ".join(name for name, _, _ in result.checks)
        return f"Batch {settlement_id} verifies ({names})."

    return _answer(request, outcome, form, notice)


def _short(text: str) -> str:
    """A chart label: "batch 3 (2025-01) sent to …" → "batch 3", "payment to …" → "payment"."""
    words = text.split()
    return " ".join(words[:2] if words[:1] == ["batch"] else words[:1])


async def statement_page(request: Request) -> Response:
    require_admin(request)
    settings: Settings = context(request).settings
    domain = request.path_params["domain"].lower()
    found = await admin.statement_page(context(request).db, settings, domain)
    result = found.statement
    chart = balance_bars([(_short(entry.text), entry.balance) for entry in result.entries])
    rows = list(zip(chart.bars, result.entries, strict=True))
    values = {
        "domain": domain,
        "result": result,
        "lines": found.lines,
        "chart": chart,
        "rows": rows,
    }
    return _render(request, "peer_statement.html", values)


async def decide_claim(request: Request) -> Response:
    """Accept or refuse a peer's claim of an identity (a contested one, usually)."""
    app = context(request)
    form = await _form(request)
    claim_id = parse_id(form.get("claim_id", ""), field="claim_id")
    decision = form.get("decision", "")
    outcome = await admin.decide_claim_or_page(app.db, app.settings, claim_id, decision)

    def notice(claim: PeerClaim) -> str:
        return f"The claim of {claim.actor_uri} through {claim.peer_domain} is {claim.state}."

    return _answer(request, outcome, form, notice)


routes = [
    Route(PAGE, peers_page, methods=["GET"]),
    Route(f"{PAGE}/propose", add_peer, methods=["POST"]),
    Route(PAGE + "/{domain:str}/statement", statement_page, methods=["GET"]),
    Route(PAGE + "/{domain:str}/send", send_batches, methods=["POST"]),
    Route(PAGE + "/{domain:str}/paid", pay, methods=["POST"]),
    Route(PAGE + "/{domain:str}/{action:str}", peer_action, methods=["POST"]),
    Route("/admin/settlements/{settlement_id:int}/verify", verify, methods=["POST"]),
    Route("/admin/payments/{payment_id:int}/{decision:str}", answer_payment, methods=["POST"]),
    Route("/admin/claims/decide", decide_claim, methods=["POST"]),
]
