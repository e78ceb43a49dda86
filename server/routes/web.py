"""People's pages: home, sign up, log in, log out; one's account: sessions, password."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.accounts import accounts, own
from server.accounts.signup import sign_up
from server.auth import checked_form, current_user, login_session, logout_session
from server.context import context
from server.domain_errors import Forbidden, ServiceError
from server.errors import status_of
from server.money.amounts import format_money
from server.routes.dashboard import CREATOR_NOTICE
from server.text_checks import has_control_characters


def _render(
    request: Request, name: str, values: Mapping[str, object], status: int = 200
) -> Response:
    response: Response = context(request).templates.TemplateResponse(
        request, name, dict(values), status_code=status
    )
    return response


async def home(request: Request) -> Response:
    users = await own.account_count(context(request).db)
    return _render(request, "home.html", {"users": users})


async def signup(request: Request) -> Response:
    settings = context(request).settings
    if not settings.registrations:
        raise Forbidden("sign-up is closed on this instance; ask its admin for an account")
    next_url = local_path(request.query_params.get("next", "/"))
    if request.method == "GET":
        return _render(request, "signup.html", {"values": {}, "error": None, "next": next_url})
    form = await checked_form(request)
    values = {k: str(form.get(k, "")) for k in ("username", "email", "display_name")}
    new = accounts.NewAccount(
        username=values["username"],
        email=values["email"],
        password=str(form.get("password", "")),
        display_name=values["display_name"],
    )
    try:
        done = await sign_up(context(request).db, settings, new)
    except ServiceError as exc:
        page = {"values": values, "error": exc, "next": next_url}
        return _render(request, "signup.html", page, status_of(exc))
    if done.account.id is not None:
        await login_session(request, done.account.id)
    moved = done.moved
    if not moved:
        return RedirectResponse(next_url, status_code=303)
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
    if not target.startswith("/") or "\\" in target or has_control_characters(target):
        return "/"
    return "/" if target.startswith("//") else target


LOGIN_NOTICE = "login_notice"


async def login(request: Request) -> Response:
    next_url = local_path(request.query_params.get("next", "/"))
    if request.method == "GET":
        notice = request.session.pop(LOGIN_NOTICE, "")
        values = {"login": "", "error": None, "next": next_url, "notice": notice}
        return _render(request, "login.html", values)
    form = await checked_form(request)
    login_name = str(form.get("login", ""))
    password = str(form.get("password", ""))
    account = await own.log_in(context(request).db, login_name, password)
    if account is None or account.id is None:
        values = {"login": login_name, "error": "Wrong username or password.", "next": next_url}
        return _render(request, "login.html", values, 401)
    await login_session(request, account.id)
    return RedirectResponse(next_url, status_code=303)


async def logout(request: Request) -> Response:
    await checked_form(request)
    await logout_session(request)
    return RedirectResponse("/", status_code=303)


ACCOUNT_NOTICE = "account_notice"


async def account_page(
    request: Request, error: ServiceError | None = None, status: int = 200
) -> Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse("/login?next=/account", status_code=303)
    sessions = await own.sessions_of(context(request).db, user.id)
    values = {
        "sessions": sessions,
        "current": user.session_id,
        "notice": request.session.pop(ACCOUNT_NOTICE, ""),
        "error": error,
    }
    return _render(request, "account.html", values, status)


async def log_out_everywhere(request: Request) -> Response:
    await checked_form(request)
    user = current_user(request)
    if user is not None:
        await own.end_all_sessions(context(request).db, user.id)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def change_password(request: Request) -> Response:
    form = await checked_form(request)
    user = current_user(request)
    if user is None:
        return RedirectResponse("/login?next=/account", status_code=303)
    current, new = str(form.get("current_password", "")), str(form.get("new_password", ""))
    try:
        db = context(request).db
        ended = await own.change_password(db, user.id, current, new, user.session_id)
    except ServiceError as exc:
        return await account_page(request, exc, status_of(exc))
    others = f"; {ended} other session{'' if ended == 1 else 's'} ended" if ended else ""
    request.session[ACCOUNT_NOTICE] = f"Your password is changed{others}."
    return RedirectResponse("/account", status_code=303)


async def about(request: Request) -> Response:
    return await home(request)


routes = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/about", about, methods=["GET"], name="about"),
    Route("/signup", signup, methods=["GET", "POST"], name="signup"),
    Route("/login", login, methods=["GET", "POST"], name="login"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/account", account_page, methods=["GET"], name="account"),
    Route("/account/sessions/end", log_out_everywhere, methods=["POST"]),
    Route("/account/password", change_password, methods=["POST"]),
]

__all__ = ["current_user", "routes"]
