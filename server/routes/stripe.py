"""Adding money: the donor's "Add money" page (Stripe Checkout when configured, the bank
transfer details when set), the return from Stripe (which only shows; the signed webhook
credits), the automatic monthly top-up's card (saved, or forgotten) and months, Stripe's
webhook, and dismissing a wallet notice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from server.auth import checked_form, current_user
from server.context import context
from server.domain_errors import ServiceError, Unauthorized
from server.errors import status_of
from server.money.amounts import format_amount, format_money, parse_id
from server.money.forms import new_form_key
from server.money.funding import stripe as card
from server.money.funding import stripe_top_up as top_up
from server.money.funding.bank import bank_reference

PAGE = "/money/add"


def _user_id(request: Request) -> int:
    user = current_user(request)
    if user is None:
        raise Unauthorized("log in first")
    return user.id


def _login(request: Request) -> Response:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def _render(
    request: Request, name: str, values: Mapping[str, object], status: int = 200
) -> Response:
    settings = context(request).settings
    full: dict[str, Any] = {"money": lambda value: format_money(value, settings), **values}
    response: Response = context(request).templates.TemplateResponse(
        request, name, full, status_code=status
    )
    return response


def _add_page(
    request: Request,
    auto: top_up.AutoTopUpView | None,
    shown: card.Quote | None = None,
    error: ServiceError | None = None,
    entered: Mapping[str, str] | None = None,
) -> Response:
    """The page; `auto` is the automatic top-up's section (None leaves it out)."""
    settings = context(request).settings
    who = _user_id(request)
    entered = dict(entered or {})
    values = {
        "auto": auto,
        "months_choices": list(top_up.MONTHS),
        "card_saved": request.query_params.get("card") == "saved",
        "card_forgotten": request.query_params.get("card") == "forgotten",
        "card_replaced": request.query_params.get("card") == "replaced",
        "stripe": settings.stripe,
        "quote": shown,
        "quote_amount": format_amount(shown.amount, settings) if shown else "",
        "error": error,
        "entered": entered,
        "form_key": entered.get("form_key") or new_form_key(),
        "bank": settings.bank,
        "payment_reference": bank_reference(who) if settings.bank else "",
    }
    return _render(request, "money_add.html", values, status_of(error) if error else 200)


async def add_money(request: Request) -> Response:
    """The ways to add money; with ?amount=…, the fee and total before paying by card."""
    if current_user(request) is None:
        return _login(request)
    app = context(request)
    settings = app.settings
    if settings.stripe is None:
        return _add_page(request, None)
    auto = await top_up.top_up_page(app.db, settings, _user_id(request))
    amount = request.query_params.get("amount")
    if amount is None:
        return _add_page(request, auto)
    try:
        shown = card.quote(amount, settings)
    except ServiceError as error:
        return _add_page(request, auto, error=error, entered={"amount": amount})
    return _add_page(request, auto, shown, entered={"amount": amount})


async def checkout(request: Request) -> Response:
    """Send the donor to Stripe's page for this form's session (made once per form)."""
    who = _user_id(request)
    app = context(request)
    form = await checked_form(request)
    entered = {key: str(form.get(key, "")) for key in ("amount", "currency", "form_key")}
    wanted = card.CheckoutForm(who, entered["amount"], entered["currency"], entered["form_key"])
    try:
        started = await card.start_checkout(app.db, app.settings, wanted)
    except ServiceError as error:
        return _add_page(request, None, error=error, entered=entered)
    return RedirectResponse(started.url, status_code=303)


async def save_card(request: Request) -> Response:
    """Send the donor to Stripe's page that saves a card for the automatic top-up."""
    who = _user_id(request)
    app = context(request)
    await checked_form(request)
    try:
        url = await top_up.start_saving(app.db, app.settings, who)
    except ServiceError as error:
        return _add_page(request, None, error=error)
    return RedirectResponse(url, status_code=303)


async def forget_card(request: Request) -> Response:
    """Forget the saved card (detached at Stripe) and turn the automatic top-up off; a
    resent form finds no card and says the same."""
    who = _user_id(request)
    app = context(request)
    await checked_form(request)
    forgot = await top_up.choose_forgetting(app.db, app.settings, who)
    if forgot.error is not None:
        return _add_page(request, forgot.view, error=forgot.error)
    # A card saved meanwhile (in another tab) is kept, and the page says so
    shown = "replaced" if forgot.forgot == top_up.Forgot.replaced else "forgotten"
    return RedirectResponse(f"{PAGE}?card={shown}#auto-top-up", status_code=303)


async def auto_months(request: Request) -> Response:
    """Keep the wallet at N months of budget (or turn the top-up off)."""
    who = _user_id(request)
    app = context(request)
    form = await checked_form(request)
    months = str(form.get("months", ""))
    chosen = await top_up.choose_months(app.db, app.settings, who, months)
    if chosen.error is not None:
        return _add_page(request, chosen.view, error=chosen.error, entered={"months": months})
    return RedirectResponse(f"{PAGE}#auto-top-up", status_code=303)


async def done(request: Request) -> Response:
    """The donor is back from Stripe: shown, never credited (the webhook does that)."""
    if current_user(request) is None:
        return _login(request)
    app, who = context(request), _user_id(request)
    session_id = request.query_params.get("session_id", "")
    view = await card.returned(app.db, app.settings, who, session_id)
    return _render(request, "money_add_done.html", {"view": view})


async def webhook(request: Request) -> Response:
    """Stripe's events: verified by signature before the body is read as JSON."""
    app = context(request)
    body = await request.body()
    signature = request.headers.get("stripe-signature")
    try:
        outcome = await card.handle_event(app.db, app.settings, body, signature)
    except ServiceError as error:
        refused = {"error": error.message, "code": error.code}
        return JSONResponse(refused, status_code=status_of(error))
    return JSONResponse({"received": True, "outcome": outcome})


async def dismiss(request: Request) -> Response:
    who = _user_id(request)
    form = await checked_form(request)
    notice_id = parse_id(form.get("notice_id", ""), field="notice_id")
    await card.dismiss_notice(context(request).db, who, notice_id)
    return RedirectResponse("/money", status_code=303)


routes = [
    Route(PAGE, add_money, methods=["GET"]),
    Route(f"{PAGE}/checkout", checkout, methods=["POST"]),
    Route(f"{PAGE}/done", done, methods=["GET"]),
    Route(f"{PAGE}/auto", auto_months, methods=["POST"]),
    Route(f"{PAGE}/auto/card", save_card, methods=["POST"]),
    Route(f"{PAGE}/auto/card/forget", forget_card, methods=["POST"]),
    Route("/money/notices/dismiss", dismiss, methods=["POST"]),
    Route("/webhooks/stripe", webhook, methods=["POST"]),
]
