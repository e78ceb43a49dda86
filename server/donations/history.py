"""A donor's history by month: for each closed month, each creator and what they got, what
waits in escrow for creators who have not joined (and until when), what came back; and the
wallet's own lines (money added, refunds, disputes, escrow returned, the closes), each in the
month it happened. Also the facts the first-visit guide ticks off."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.models import (
    Click,
    DonorPeriod,
    DonorSettings,
    EscrowLine,
    Identity,
    LedgerAccount,
    LedgerKind,
    Thing,
    Transfer,
    TransferKind,
)
from server.models.clicks import DonorStage
from server.models.payouts import EscrowState
from server.models.stripe_payments import StripeEvent
from server.money.ledger import Owner
from server.settings import Settings

MONTHS_SHOWN = 24
WALLET_LINES_SHOWN = 200
REACHED = (None, EscrowState.claimed, EscrowState.settled)  # no line: paid at the close
WAITING = (EscrowState.held, EscrowState.offered)
REVERSAL_PREFIX = "reverse:stripe:"  # server/money/funding/stripe.py keys a reversal by its event
DISPUTE_PREFIX = "reverse:stripe:dispute:"  # … and a dispute's by the dispute (stripe_books.py)
WON_PREFIX = "reinstate:stripe:dispute:"  # a dispute won: the wallet's part back
WON = "dispute won"
WALLET_KINDS = (
    TransferKind.funding,
    TransferKind.reversal,
    TransferKind.escrow_return,
    TransferKind.close_reserve,
)


@dataclass
class CreatorLine:
    creator: str
    got: int = 0  # reached the creator: at the close, by a claim, or through their instance
    waiting: int = 0  # held in escrow for a creator who has not joined
    waits_until: date | None = None  # when the earliest held part goes back to the wallet
    returned: int = 0  # came back to the wallet: the creator did not join in time
    returned_on: date | None = None


@dataclass(frozen=True)
class WalletLine:
    on: date
    what: str  # "Money added", "Refund", "Dispute", "Came back from escrow", "Month closed"
    amount: int  # signed: into the wallet is positive
    kind: str  # the transfer's kind, for the page's classes
    period: str  # the month it belongs to: a close's own month, else the month it happened


@dataclass
class MonthHistory:
    period: str
    closed: bool
    likes: int = 0
    spent: int = 0  # what the close took from the wallet
    fee: int = 0
    unspent: int = 0  # given to LIKEWISE_UNSPENT_TO in a month without likes
    creators: list[CreatorLine] = field(default_factory=list)
    wallet: list[WalletLine] = field(default_factory=list)

    @property
    def got(self) -> int:
        return sum(line.got for line in self.creators)

    @property
    def waiting(self) -> int:
        return sum(line.waiting for line in self.creators)

    @property
    def returned(self) -> int:
        return sum(line.returned for line in self.creators)


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment is not None else None


async def _wallet_id(session: AsyncSession, account_id: int) -> int | None:
    key = Owner(LedgerKind.donor_wallet, account_id=account_id).key
    found = await session.exec(select(LedgerAccount.id).where(LedgerAccount.key == key))
    return found.first()


async def _closed_months(session: AsyncSession, account_id: int) -> dict[str, MonthHistory]:
    rows = await session.exec(
        select(DonorPeriod)
        .where(DonorPeriod.donor_id == account_id, DonorPeriod.stage == DonorStage.done)
        .order_by(col(DonorPeriod.period).desc())
        .limit(MONTHS_SHOWN)
    )
    return {
        row.period: MonthHistory(
            row.period,
            True,
            row.clicks,
            row.budget,
            row.fee,
            row.budget - row.fee if not row.clicks and row.budget else 0,
        )
        for row in rows.all()
    }


async def _creator_lines(
    session: AsyncSession, settings: Settings, account_id: int, months: dict[str, MonthHistory]
) -> None:
    """Each month's shares by creator, and where each went (escrow line or none)."""
    if not months:
        return
    name = func.coalesce(func.nullif(col(Identity.handle), ""), col(Identity.external_id))
    rows = await (await session.connection()).execute(
        sa_select(
            col(Transfer.period),
            name,
            col(EscrowLine.state),
            func.sum(col(Transfer.amount)),
            func.min(col(EscrowLine.created_at)),
            func.max(col(EscrowLine.resolved_at)),
        )
        .join(Click, col(Click.id) == Transfer.click_id)
        .join(Thing, col(Thing.id) == Click.thing_id)
        .join(Identity, col(Identity.id) == Thing.identity_id)
        .outerjoin(EscrowLine, col(EscrowLine.click_id) == Transfer.click_id)
        .where(
            col(Transfer.kind) == TransferKind.close_share,
            col(Click.donor_id) == account_id,
            col(Transfer.period).in_(list(months)),
        )
        .group_by(Transfer.period, name, EscrowLine.state)
        .order_by(Transfer.period, name)
    )
    by_creator: dict[tuple[str, str], CreatorLine] = {}
    wait = timedelta(days=settings.escrow_days)
    for period, creator, state, amount, held_since, resolved in rows.all():
        line = by_creator.get((period, creator))
        if line is None:
            line = by_creator[(period, creator)] = CreatorLine(creator)
            months[period].creators.append(line)
        if state in WAITING:
            line.waiting += int(amount)
            line.waits_until = _day(held_since + wait if held_since else None)
        elif state == EscrowState.returned:
            line.returned += int(amount)
            line.returned_on = _day(resolved)
        else:
            line.got += int(amount)
    for month in months.values():
        month.creators.sort(
            key=lambda line: (-(line.got + line.waiting + line.returned), line.creator)
        )


def _wallet_words(kind: TransferKind, event_type: str | None) -> str:
    if kind == TransferKind.reversal:
        if event_type == WON:
            return "Dispute decided in your favour: the payment came back"
        if event_type and event_type.startswith("charge.dispute"):
            return "Dispute: a payment taken back"
        return "Refund: a payment taken back"
    return {
        TransferKind.funding: "Money added",
        TransferKind.escrow_return: "Came back from escrow (creators who did not join in time)",
        TransferKind.close_reserve: "The month closed: your budget left the wallet",
    }[kind]


async def wallet_lines(session: AsyncSession, account_id: int) -> list[WalletLine]:
    """The wallet's lines, newest first: money in, refunds and disputes, escrow returned,
    and each close."""
    wallet = await _wallet_id(session, account_id)
    if wallet is None:
        return []
    rows = await (await session.connection()).execute(
        sa_select(
            col(Transfer.created_at),
            col(Transfer.kind),
            col(Transfer.amount),
            col(Transfer.credit_id),
            col(Transfer.idempotency_key),
            col(Transfer.period),
        )
        .where(
            or_(col(Transfer.credit_id) == wallet, col(Transfer.debit_id) == wallet),
            col(Transfer.kind).in_([kind.value for kind in WALLET_KINDS]),
        )
        .order_by(col(Transfer.created_at).desc(), col(Transfer.id).desc())
        .limit(WALLET_LINES_SHOWN)
    )
    found = list(rows.all())
    events = await _stripe_events(session, [row[4] for row in found])
    return [
        WalletLine(
            at.date(),
            _wallet_words(TransferKind(kind), events.get(key)),
            int(amount) if credit == wallet else -int(amount),
            str(TransferKind(kind).value),
            period or f"{at.year:04d}-{at.month:02d}",
        )
        for at, kind, amount, credit, key, period in found
    ]


async def _stripe_events(session: AsyncSession, keys: list[str]) -> dict[str, str]:
    """A reversal's Stripe event type (a refund or a dispute), by the transfer's key."""
    known = {key: "charge.dispute.created" for key in keys if key.startswith(DISPUTE_PREFIX)}
    known |= {key: WON for key in keys if key.startswith(WON_PREFIX)}
    ids = {
        key.removeprefix(REVERSAL_PREFIX): key
        for key in keys
        if key.startswith(REVERSAL_PREFIX) and key not in known
    }
    if not ids:
        return known
    rows = await session.exec(
        select(StripeEvent.event_id, StripeEvent.type).where(col(StripeEvent.event_id).in_(ids))
    )
    return known | {ids[event_id]: kind for event_id, kind in rows.all()}


async def donor_history(
    session: AsyncSession, settings: Settings, account_id: int
) -> list[MonthHistory]:
    """Closed months, newest first, and any month whose wallet lines have no close (yet)."""
    months = await _closed_months(session, account_id)
    await _creator_lines(session, settings, account_id, months)
    for line in await wallet_lines(session, account_id):
        period = line.period
        if period not in months:
            if len(months) >= MONTHS_SHOWN and period < min(months):
                continue
            months[period] = MonthHistory(period, False)
        months[period].wallet.append(line)
    return [months[period] for period in sorted(months, reverse=True)]


@dataclass(frozen=True)
class GuideSteps:
    """The first-visit guide: each step done or not."""

    added_money: bool
    set_budget: bool
    liked: bool

    @property
    def done(self) -> bool:
        return self.added_money and self.set_budget and self.liked


async def guide_steps(session: AsyncSession, account_id: int) -> GuideSteps:
    wallet = await _wallet_id(session, account_id)
    funded = None
    if wallet is not None:
        found = await session.exec(
            select(Transfer.id)
            .where(Transfer.credit_id == wallet, Transfer.kind == TransferKind.funding)
            .limit(1)
        )
        funded = found.first()
    chosen = await session.get(DonorSettings, account_id)
    liked = await session.exec(select(Click.id).where(Click.donor_id == account_id).limit(1))
    return GuideSteps(funded is not None, chosen is not None, liked.first() is not None)
