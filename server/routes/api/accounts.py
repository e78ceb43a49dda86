"""Mastodon client API: accounts (one's own credentials and profile, any account by id or
handle, its statuses, followers and following, following it, relationships) and the
account's browser sessions: list them, end them all ("log out everywhere")."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.accounts import own, profile
from server.accounts.images import Upload
from server.accounts.profile import AccountQuery, ProfileUpdate, StatusFilter
from server.auth import AccountUser, current_account, current_user, refuse_nul, require_scope
from server.context import context
from server.domain_errors import Unauthorized
from server.errors import BadRequest, read_json
from server.render.mastodon import render_account
from server.render.relationships import render_account_view, render_relationship
from server.render.statuses import render_status
from server.routes.api.paging import link_header, page_of
from server.social import follows

SESSIONS = "/api/v1/likewise/sessions"
ACCOUNTS = "/api/v1/accounts"
TRUE = frozenset({"true", "1", "on", "yes"})
FALSE = frozenset({"false", "0", "off", "no", ""})


def _user(request: Request) -> AccountUser:
    user = current_user(request)
    if user is None:
        raise Unauthorized("log in first")
    return user


def _ref(request: Request) -> str:
    return str(request.path_params["account_id"])


def flag(value: object, name: str) -> bool | None:
    """A Mastodon boolean parameter (absent: None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise BadRequest(f"{name} must be true or false", field=name)


def ids_of(request: Request) -> list[str]:
    """`id[]=1&id[]=r2` (or `id=1`), at most 40."""
    found = request.query_params.getlist("id[]") or request.query_params.getlist("id")
    return [value for value in found if value][:40]


@require_scope("read:accounts")
async def verify_credentials(request: Request) -> Response:
    found = await own.credentials(context(request).db, _user(request).id)
    rendered = render_account(
        context(request).settings,
        found.account,
        source=True,
        counts=found.counts,
        follow_requests=found.follow_requests,
    )
    return JSONResponse(rendered)


def _fields(data: dict[str, Any]) -> tuple[tuple[str, str], ...] | None:
    """`fields_attributes[0][name]` form keys, or a JSON list or index-keyed object."""
    given = data.get("fields_attributes")
    if isinstance(given, list):
        rows = given
    elif isinstance(given, dict):
        rows = [given[key] for key in sorted(given, key=str)]
    else:
        keyed: dict[str, dict[str, str]] = {}
        for key, value in data.items():
            if key.startswith("fields_attributes[") and isinstance(value, str):
                index, _, rest = key.removeprefix("fields_attributes[").partition("][")
                keyed.setdefault(index, {})[rest.rstrip("]")] = value
        if not keyed:
            return None
        rows = [keyed[key] for key in sorted(keyed, key=lambda k: (len(k), k))]
    if len(rows) > 16 or not all(isinstance(row, dict) for row in rows):
        raise BadRequest("fields_attributes must list {name, value} pairs", field="fields")
    return tuple((str(row.get("name") or ""), str(row.get("value") or "")) for row in rows)


async def _upload(value: object) -> Upload | None:
    if isinstance(value, UploadFile):
        try:
            return Upload(await value.read(), value.filename or "")
        finally:
            await value.close()
    return None


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return None if value is None or isinstance(value, UploadFile) else str(value)


async def _update_of(request: Request) -> ProfileUpdate:
    data: dict[str, Any]
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await read_json(request)
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        data = dict(body)
        source = data.get("source")
        if isinstance(source, dict):
            data.update({f"source[{key}]": value for key, value in source.items()})
    else:
        form: FormData = await request.form()
        refuse_nul(form)
        data = dict(form.items())
    return ProfileUpdate(
        display_name=_text(data, "display_name"),
        note=_text(data, "note"),
        locked=flag(data.get("locked"), "locked"),
        bot=flag(data.get("bot"), "bot"),
        discoverable=flag(data.get("discoverable"), "discoverable"),
        fields=_fields(data),
        privacy=_text(data, "source[privacy]"),
        sensitive=flag(data.get("source[sensitive]"), "source[sensitive]"),
        language=_text(data, "source[language]"),
        avatar=await _upload(data.get("avatar")),
        header=await _upload(data.get("header")),
    )


@require_scope("write:accounts")
async def update_credentials(request: Request) -> Response:
    user = _user(request)
    app = context(request)
    account = await profile.update_profile(app.db, app.settings, user.id, await _update_of(request))
    return JSONResponse(render_account(app.settings, account, source=True))


async def get_account(request: Request) -> Response:
    app = context(request)
    view = await profile.account_view(app.db, _ref(request))
    return JSONResponse(render_account_view(app.settings, view))


async def lookup(request: Request) -> Response:
    app = context(request)
    view = await profile.lookup(app.db, app.settings, request.query_params.get("acct", ""))
    return JSONResponse(render_account_view(app.settings, view))


def _number(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name) or str(default)
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise BadRequest(f"{name} must be a whole number", field=name)
    return min(int(raw), maximum)


@require_scope("read:accounts")
async def search(request: Request) -> Response:
    app = context(request)
    query = AccountQuery(
        text=request.query_params.get("q", ""),
        limit=max(1, _number(request, "limit", 40, 80)),
        offset=_number(request, "offset", 0, 10_000),
    )
    resolve = bool(flag(request.query_params.get("resolve"), "resolve"))
    found = await profile.search_accounts(app.db, app.federation.remote, query, resolve=resolve)
    return JSONResponse([render_account_view(app.settings, view) for view in found])


async def account_statuses(request: Request) -> Response:
    user = current_user(request)
    params = request.query_params
    wanted = StatusFilter(
        pinned=bool(flag(params.get("pinned"), "pinned")),
        exclude_replies=bool(flag(params.get("exclude_replies"), "exclude_replies")),
        only_media=bool(flag(params.get("only_media"), "only_media")),
        exclude_reblogs=bool(flag(params.get("exclude_reblogs"), "exclude_reblogs")),
        viewer_id=user.id if user else None,
    )
    app = context(request)
    views = await profile.statuses_of(app.db, app.settings, _ref(request), wanted, page_of(request))
    headers = link_header(request, [view.note.id or 0 for view in views])
    return JSONResponse([render_status(app.settings, view) for view in views], headers=headers)


async def _follow_list(request: Request, *, of_followers: bool) -> Response:
    app = context(request)
    listing = follows.followers if of_followers else follows.following
    found = await listing(app.db, _ref(request), page_of(request, 40, 80))
    rendered = [render_account_view(app.settings, view) for view in found.accounts]
    return JSONResponse(rendered, headers=link_header(request, found.cursor_ids))


async def followers(request: Request) -> Response:
    return await _follow_list(request, of_followers=True)


async def following(request: Request) -> Response:
    return await _follow_list(request, of_followers=False)


@require_scope("write:follows")
async def follow(request: Request) -> Response:
    account = await current_account(request)
    found = await follows.follow(context(request).db, account, _ref(request))
    return JSONResponse(render_relationship(found))


@require_scope("write:follows")
async def unfollow(request: Request) -> Response:
    user = _user(request)
    found = await follows.unfollow(context(request).db, user.id, _ref(request))
    return JSONResponse(render_relationship(found))


@require_scope("read:follows")
async def relationships(request: Request) -> Response:
    user = _user(request)
    found = await follows.relationships(context(request).db, user.id, ids_of(request))
    return JSONResponse([render_relationship(view) for view in found])


@require_scope("read:follows")
async def familiar_followers(request: Request) -> Response:
    user = _user(request)
    app = context(request)
    found = await follows.familiar_followers(app.db, user.id, ids_of(request))
    return JSONResponse(
        [
            {"id": ref, "accounts": [render_account_view(app.settings, v) for v in views]}
            for ref, views in found
        ]
    )


@require_scope("read:accounts")
async def sessions(request: Request) -> Response:
    user = _user(request)
    found = await own.sessions_of(context(request).db, user.id)
    return JSONResponse(
        [
            {
                "id": str(view.id),
                "user_agent": view.user_agent,
                "created_at": view.created_at.isoformat(),
                "last_seen_at": view.last_seen_at.isoformat(),
                "current": view.id == user.session_id,
            }
            for view in found
        ]
    )


@require_scope("write:accounts")
async def end_all_sessions(request: Request) -> Response:
    """Log out everywhere: every browser session of the account ends (tokens stay)."""
    user = _user(request)
    ended = await own.end_all_sessions(context(request).db, user.id)
    if user.via == "session":
        request.session.clear()
    return JSONResponse({"ended": ended})


# The named paths come before `{account_id}`, which would match them too.
routes = [
    Route(f"{ACCOUNTS}/verify_credentials", verify_credentials, methods=["GET"]),
    Route(f"{ACCOUNTS}/update_credentials", update_credentials, methods=["PATCH"]),
    Route(f"{ACCOUNTS}/relationships", relationships, methods=["GET"]),
    Route(f"{ACCOUNTS}/familiar_followers", familiar_followers, methods=["GET"]),
    Route(f"{ACCOUNTS}/lookup", lookup, methods=["GET"]),
    Route(f"{ACCOUNTS}/search", search, methods=["GET"]),
    Route(ACCOUNTS + "/{account_id}", get_account, methods=["GET"]),
    Route(ACCOUNTS + "/{account_id}/statuses", account_statuses, methods=["GET"]),
    Route(ACCOUNTS + "/{account_id}/followers", followers, methods=["GET"]),
    Route(ACCOUNTS + "/{account_id}/following", following, methods=["GET"]),
    Route(ACCOUNTS + "/{account_id}/follow", follow, methods=["POST"]),
    Route(ACCOUNTS + "/{account_id}/unfollow", unfollow, methods=["POST"]),
    Route(SESSIONS, sessions, methods=["GET"]),
    Route(SESSIONS, end_all_sessions, methods=["DELETE"]),
]
