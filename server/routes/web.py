"""People's pages: home, sign up, log in, log out."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth import checked_form, current_user, login_session
from server.routes.dashboard import CREATOR_NOTICE
from server.services import accounts
from server.services.amounts import format_money
from server.services.claims import claim_own_identities
from server.services.errors import Forbidden, ServiceError


def _render(
    request: Request, name: str, context: Mapping[str, object], status: int = 200
) -> Response:
    response: Response = request.app.state.templates.TemplateResponse(
        request, name, dict(context), status_code=status
    )
    return response


async def home(request: Request) -> Response:
    async with request.app.state.db.session() as session:
        users = await accounts.count_accounts(session)
    return _render(request, "home.html", {"users": users})


async def signup(request: Request) -> Response:
    settings = request.app.state.settings
    if not settings.registrations:
        raise Forbidden("sign-up is closed on this instance; ask its admin for an account")
    if request.method == "GET":
        return _render(request, "signup.html", {"values": {}, "error": None})
    form = await checked_form(request)
    values = {k: str(form.get(k, "")) for k in ("username", "email", "display_name")}
    new = accounts.NewAccount(
        username=values["username"],
        email=values["email"],
        password=str(form.get("password", "")),
        display_name=values["display_name"],
    )
    try:
        async with request.app.state.db.transaction() as session:
            account = await accounts.create_account(session, settings, new)
            claims = await claim_own_identities(session, settings, int(account.id or 0))
    except ServiceError as exc:
        return _render(request, "signup.html", {"values": values, "error": exc}, exc.status_code)
    if account.id is not None:
        login_session(request, account.id)
    moved = sum(claim.moved for claim in claims)
    if not moved:
        return RedirectResponse("/", status_code=303)
    money = format_money(moved, settings)
    request.session[CREATOR_NOTICE] = (
        f"Supporters had set aside {money} for you before you signed up; "
        "it is now in your available balance."
    )
    return RedirectResponse("/money/creator", status_code=303)


def local_path(target: str) -> str:
    """`target` when it is a path on this site, else "/". Browsers read a backslash as a
    slash and drop tabs and newlines, so a backslash or a control character after the first
    slash would leave the site as surely as `//evil.example`."""
    if not target.startswith("/") or any(c == "\\" or c < " " or c == "\x7f" for c in target):
        return "/"
    return "/" if target.startswith("//") else target


async def login(request: Request) -> Response:
    next_url = local_path(request.query_params.get("next", "/"))
    if request.method == "GET":
        return _render(request, "login.html", {"login": "", "error": None, "next": next_url})
    form = await checked_form(request)
    login_name = str(form.get("login", ""))
    async with request.app.state.db.session() as session:
        account = await accounts.authenticate(session, login_name, str(form.get("password", "")))
    if account is None or account.id is None:
        context = {"login": login_name, "error": "Wrong username or password.", "next": next_url}
        return _render(request, "login.html", context, 401)
    login_session(request, account.id)
    return RedirectResponse(next_url, status_code=303)


async def logout(request: Request) -> Response:
    await checked_form(request)
    request.session.clear()
    return RedirectResponse("/", status_code=303)


async def about(request: Request) -> Response:
    return await home(request)


routes = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/about", about, methods=["GET"], name="about"),
    Route("/signup", signup, methods=["GET", "POST"], name="signup"),
    Route("/login", login, methods=["GET", "POST"], name="login"),
    Route("/logout", logout, methods=["POST"], name="logout"),
]

__all__ = ["current_user", "routes"]
