"""Likewise's money notifications: a donor hears what a closed month sent
(`likewise.period_closed`), a local creator what arrived for them (`likewise.funds_received`:
shares of the close, available at once, or a peer's settlement batch, pending until the peer
pays). Housekeeping makes them after the close, from the books, once each (dedupe keys)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.engine import Database
from server.db.upsert import insert_ignoring_duplicates
from server.models import (
    Actor,
    DonorPeriod,
    LedgerAccount,
    LedgerKind,
    Notification,
    Period,
    Transfer,
    TransferKind,
)
from server.models.base import utcnow
from server.models.clicks import PeriodStage
from server.money.amounts import amount_json
from server.settings import Settings
from server.social.notifications import FUNDS_RECEIVED, PERIOD_CLOSED

# What happened this long ago at most (a month closed by the command line, a peer's batch).
MONEY_LOOKBACK = timedelta(days=45)


async def _insert_new(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    now = utcnow()
    for row in rows:
        row.setdefault("created_at", now)
        row.setdefault("note_id", None)
    table = Notification.__table__  # type: ignore[attr-defined]
    statement = insert_ignoring_duplicates(session, table).returning(table.c.id)
    return len((await session.exec(statement.values(rows))).all())


async def _actors_of(session: AsyncSession, account_ids: Iterable[int]) -> dict[int, int]:
    query = select(Actor.account_id, Actor.id).where(col(Actor.account_id).in_(set(account_ids)))
    found = (await session.exec(query)).all()
    return {account: actor for account, actor in found if account is not None and actor}


async def _period_closed(session: AsyncSession, settings: Settings, period: str) -> int:
    """Each donor whose likes of `period` were paid hears what was sent; each local creator
    paid by the close hears what arrived."""
    query = select(DonorPeriod).where(
        DonorPeriod.period == period, DonorPeriod.clicks > 0, DonorPeriod.budget > 0
    )
    donors = list((await session.exec(query)).all())
    shares = (
        select(LedgerAccount.account_id, func.sum(Transfer.amount), func.count())
        .join(LedgerAccount, col(LedgerAccount.id) == col(Transfer.credit_id))
        .where(
            LedgerAccount.kind == LedgerKind.creator_available,
            Transfer.kind == TransferKind.close_share,
            Transfer.period == period,
        )
        .group_by(col(LedgerAccount.account_id))
    )
    creators = [row for row in (await session.exec(shares)).all() if row[0] is not None]
    actors = await _actors_of(session, [d.donor_id for d in donors] + [c[0] for c in creators])
    rows = [
        _money_row(PERIOD_CLOSED, d.donor_id, actors, f"{period}:{d.donor_id}", {
            "period": period, "amount": amount_json(d.budget, settings),
            "fee": amount_json(d.fee, settings), "clicks": d.clicks,
        })
        for d in donors
    ] + [
        _money_row(FUNDS_RECEIVED, account, actors, f"close:{period}:{account}", {
            "period": period, "amount": amount_json(int(total), settings),
            "likes": int(likes), "source": "close", "available": True,
        })
        for account, total, likes in creators
    ]  # fmt: skip
    return await _insert_new(session, [row for row in rows if row])


def _money_row(
    type: str, account_id: int, actors: dict[int, int], key: str, data: dict[str, Any]
) -> dict[str, Any]:
    if account_id not in actors:
        return {}
    return {
        "account_id": account_id,
        "type": type,
        "actor_id": actors[account_id],
        "data": json.dumps(data),
        "dedupe_key": f"{type}:{key}",
    }


async def _settlement_credits(session: AsyncSession, settings: Settings, since: datetime) -> int:
    """Each local creator a peer's batch credited (pending until the peer pays) hears it,
    once per month of likes."""
    query = (
        select(LedgerAccount.account_id, Transfer.period, func.sum(Transfer.amount))
        .join(LedgerAccount, col(LedgerAccount.id) == col(Transfer.credit_id))
        .where(
            LedgerAccount.kind == LedgerKind.creator_pending,
            Transfer.kind == TransferKind.settlement_credit,
            col(Transfer.created_at) >= since,
        )
        .group_by(col(LedgerAccount.account_id), col(Transfer.period))
    )
    credits = [row for row in (await session.exec(query)).all() if row[0] is not None]
    actors = await _actors_of(session, [row[0] for row in credits])
    rows = [
        _money_row(FUNDS_RECEIVED, account, actors, f"settlement:{period}:{account}", {
            "period": period, "amount": amount_json(int(total), settings),
            "source": "settlement", "available": False,
        })
        for account, period, total in credits
    ]  # fmt: skip
    return await _insert_new(session, [row for row in rows if row])


async def notify_money(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """Likewise's money notifications for months closed and peers' credits since
    MONEY_LOOKBACK (housekeeping runs it after the close); safe to repeat. How many new."""
    since = (now or utcnow()) - MONEY_LOOKBACK
    made = 0
    async with db.transaction() as session:
        query = select(Period.id).where(
            Period.stage == PeriodStage.closed, col(Period.closed_at) >= since
        )
        for period in (await session.exec(query)).all():
            done = select(Notification.id).where(
                col(Notification.dedupe_key).startswith(f"{PERIOD_CLOSED}:{period}:")
            )
            if (await session.exec(done.limit(1))).first() is None:
                made += await _period_closed(session, settings, period)
        made += await _settlement_credits(session, settings, since)
    return made
