"""The paging query parameters of a list endpoint, and the `Link` header of its answer.

Mastodon sends `Link: <…?max_id=OLDEST>; rel="next", <…?min_id=NEWEST>; rel="prev"`;
clients follow them to scroll back and to catch up.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request

from server.convertors import is_row_id
from server.db.paging import DEFAULT_LIMIT, MAX_LIMIT, Page
from server.errors import BadRequest


def _id(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    raw = raw.removeprefix("r")  # remote accounts' ids are spelt r<id>
    if not is_row_id(raw):
        raise BadRequest(f"{name} must be an id", field=name)
    return int(raw)


def page_of(request: Request, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> Page:
    """The request's page: `limit` from 1 to `maximum` (larger is capped, as Mastodon does)."""
    raw = request.query_params.get("limit") or str(default)
    if not is_row_id(raw):
        raise BadRequest(f"limit must be a whole number from 1 to {maximum}", field="limit")
    return Page(
        limit=max(1, min(int(raw), maximum)),
        max_id=_id(request, "max_id"),
        since_id=_id(request, "since_id"),
        min_id=_id(request, "min_id"),
    )


def link_header(request: Request, ids: Sequence[int | str]) -> dict[str, str]:
    """The `Link` header for an answer listing `ids` newest first (none when it is empty)."""
    if not ids:
        return {}
    base = request.url.remove_query_params(["max_id", "since_id", "min_id"])
    older = base.include_query_params(max_id=str(ids[-1]))
    newer = base.include_query_params(min_id=str(ids[0]))
    return {"Link": f'<{older}>; rel="next", <{newer}>; rel="prev"'}
