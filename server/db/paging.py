"""Mastodon's list paging (`max_id`, `since_id`, `min_id`, `limit`) applied to a query.

Every list endpoint of the client API pages by row id, newest first: `max_id` gives rows
older than it, `since_id` rows newer than it (the newest of them), `min_id` the rows just
newer than it (the oldest of them, for reading forward). Routes parse the query
(`server/routes/api/paging.py`) and send the `Link` header; services hand a `Page` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Integer, bindparam
from sqlalchemy.sql import ColumnElement, Select

S = TypeVar("S", bound=Select[Any])

DEFAULT_LIMIT = 20
MAX_LIMIT = 40


@dataclass(frozen=True)
class Page:
    limit: int = DEFAULT_LIMIT
    max_id: int | None = None
    since_id: int | None = None
    min_id: int | None = None

    @property
    def forward(self) -> bool:
        """Reading towards newer rows from `min_id`: fetched oldest first, shown newest first."""
        return self.min_id is not None


def paged(query: S, column: ColumnElement[Any], page: Page) -> S:
    """`query` restricted to the page's window, ordered and limited. Rows come back oldest
    first when `page.forward`; `in_order` puts them newest first again."""
    if page.max_id is not None:
        query = query.where(column < page.max_id)
    if page.since_id is not None:
        query = query.where(column > page.since_id)
    if page.min_id is not None:
        query = query.where(column > page.min_id)
        return query.order_by(column.asc()).limit(page.limit)
    return query.order_by(column.desc()).limit(page.limit)


PageShape = tuple[bool, bool, bool]  # whether max_id, since_id and min_id are set


def paged_bound(query: S, column: ColumnElement[Any], shape: PageShape) -> S:
    """`paged`, with the page's numbers as bound parameters (`page_params` gives them): the
    statement depends only on which of them are set, so a caller can build it once per
    shape and SQLAlchemy computes its cache key once (a new statement a request cost the
    key's walk over the whole query every time)."""
    max_id, since_id, min_id = shape
    if max_id:
        query = query.where(column < bindparam("page_max_id", type_=Integer))
    if since_id:
        query = query.where(column > bindparam("page_since_id", type_=Integer))
    limit = bindparam("page_limit", type_=Integer)
    if min_id:
        query = query.where(column > bindparam("page_min_id", type_=Integer))
        return query.order_by(column.asc()).limit(limit)
    return query.order_by(column.desc()).limit(limit)


def page_shape(page: Page) -> PageShape:
    """What `paged_bound`'s statement depends on."""
    return page.max_id is not None, page.since_id is not None, page.min_id is not None


def page_params(page: Page) -> dict[str, int]:
    """The values for `paged_bound`'s parameters."""
    params = {"page_limit": page.limit}
    for name in ("max_id", "since_id", "min_id"):
        value = getattr(page, name)
        if value is not None:
            params[f"page_{name}"] = value
    return params


T = TypeVar("T")


def in_order(rows: list[T], page: Page) -> list[T]:
    """Rows newest first, whichever way `paged` read them."""
    return list(reversed(rows)) if page.forward else rows
