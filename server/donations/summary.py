"""What donors and creators see: wallet, budget, this period's clicks with the share each
would get if the period closed now, past periods, creator balances and supporters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, union_all
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.donations.budget import donor_settings
from server.donations.close import find_unspent_account
from server.donations.creator_month import (
    CreatorMonth,
    creator_month,
    short_address,
    thing_labels,
)
from server.donations.periods import open_period_for
from server.models import (
    Account,
    Click,
    DonorPeriod,
    DonorSettings,
    Identity,
    LedgerAccount,
    LedgerKind,
    Payout,
    Thing,
    Transfer,
    TransferKind,
)
from server.models.stripe_payments import WalletNotice
from server.money.funding.stripe import unread_notices
from server.money.ledger import Owner
from server.money.split import equal_split, fee_of
from server.settings import Settings


@dataclass(frozen=True)
class ClickView:
    id: int
    uri: str
    title: str
    creator: str
    network: str
    source: str
    share: int
    label: str = ""  # the title, or a post's first words, or a short address: never "" when read


@dataclass(frozen=True)
class DonorSummary:
    wallet: int
    settings: DonorSettings
    period: str
    spendable: int
    fee: int
    clicks: list[ClickView]
    history: list[DonorPeriod] = field(default_factory=list)
    unspent_to: str = ""  # who gets the budget this month, no likes and LIKEWISE_UNSPENT_TO set
    notices: list[WalletNotice] = field(default_factory=list)  # refunds, disputes: unread


@dataclass(frozen=True)
class Supporter:
    name: str
    amount: int


@dataclass(frozen=True)
class CreatorSummary:
    available: int
    pending: int
    supporters: list[Supporter]
    payouts: Sequence[Payout]
    month: CreatorMonth | None = None  # the open month's likes and projected income


async def balances(session: AsyncSession, owners: Sequence[Owner]) -> dict[Owner, int]:
    keys = {owner.key: owner for owner in owners}
    rows = await session.exec(
        select(LedgerAccount.key, LedgerAccount.balance).where(col(LedgerAccount.key).in_(keys))
    )
    found = dict(rows.all())
    return {owner: int(found.get(key, 0)) for key, owner in keys.items()}


async def period_clicks(
    session: AsyncSession, account_id: int, period: str
) -> list[tuple[Click, Thing, Identity]]:
    rows = await session.exec(
        select(Click, Thing, Identity)
        .join(Thing, col(Thing.id) == Click.thing_id)
        .join(Identity, col(Identity.id) == Thing.identity_id)
        .where(Click.donor_id == account_id, Click.period == period)
        .order_by(col(Click.id))
    )
    return list(rows.all())


async def donor_summary(session: AsyncSession, settings: Settings, account_id: int) -> DonorSummary:
    chosen = await donor_settings(session, settings, account_id)
    wallet_owner = Owner(LedgerKind.donor_wallet, account_id=account_id)
    wallet = (await balances(session, [wallet_owner]))[wallet_owner]
    period = await open_period_for(session, None)
    rows = await period_clicks(session, account_id, period)
    unspent_to = "" if rows else await _unspent_to(session, settings, account_id)
    counts = rows or unspent_to
    spendable = 0 if chosen.paused or not counts else min(chosen.monthly_budget, wallet)
    fee = fee_of(spendable, settings.fee_bps)
    shares = equal_split(spendable - fee, len(rows)) if rows else []
    labels = await thing_labels(session, ((thing.uri, thing.title) for _, thing, _ in rows))
    clicks = [
        ClickView(
            int(click.id or 0),
            thing.uri,
            thing.title,
            identity.handle or identity.external_id,
            identity.network,
            click.source,
            share,
            labels.get(thing.uri) or short_address(thing.uri),
        )
        for (click, thing, identity), share in zip(rows, shares, strict=True)
    ]
    history = await session.exec(
        select(DonorPeriod)
        .where(DonorPeriod.donor_id == account_id)
        .order_by(col(DonorPeriod.period).desc())
        .limit(24)
    )
    notices = await unread_notices(session, account_id)
    return DonorSummary(
        wallet, chosen, period, spendable, fee, clicks, list(history.all()), unspent_to, notices
    )


async def _unspent_to(session: AsyncSession, settings: Settings, account_id: int) -> str:
    """The username given this donor's budget in a month without likes, or "" (none set,
    or the donor is that account)."""
    receiver = await find_unspent_account(session, settings)
    return settings.unspent_username if receiver not in (None, account_id) else ""


async def supporters(session: AsyncSession, account_id: int, limit: int = 50) -> list[Supporter]:
    """Donors whose shares reached this creator, largest first; anonymous ones unnamed.
    Budgets given in months without likes (LIKEWISE_UNSPENT_TO) count too: the donor is
    the owner of the reserve they came from."""
    target = Owner(LedgerKind.creator_available, account_id=account_id).key
    credit = aliased(LedgerAccount)
    reserve = aliased(LedgerAccount)
    shares: Any = (
        select(col(Click.donor_id).label("donor"), col(Transfer.amount).label("amount"))
        .join(Click, col(Click.id) == Transfer.click_id)
        .join(credit, col(credit.id) == Transfer.credit_id)
        .where(credit.key == target, Transfer.kind == TransferKind.close_share)
    )
    given: Any = (
        select(col(reserve.account_id).label("donor"), col(Transfer.amount).label("amount"))
        .join(reserve, col(reserve.id) == Transfer.debit_id)
        .join(credit, col(credit.id) == Transfer.credit_id)
        .where(credit.key == target, Transfer.kind == TransferKind.close_unspent)
    )
    both = union_all(shares, given).subquery()
    total = func.sum(both.c.amount)
    ranked = await session.exec(
        select(both.c.donor, total)
        .where(both.c.donor.is_not(None))
        .group_by(both.c.donor)
        .order_by(total.desc(), both.c.donor)
        .limit(limit)
    )
    result = []
    for donor_id, amount in ranked.all():
        account = await session.get(Account, donor_id)
        chosen = await session.get(DonorSettings, donor_id)
        anonymous = account is None or (chosen is not None and chosen.anonymous)
        name = "Anonymous supporter" if anonymous or account is None else f"@{account.username}"
        result.append(Supporter(name, int(amount)))
    return result


async def creator_summary(
    session: AsyncSession, settings: Settings, account_id: int
) -> CreatorSummary:
    available = Owner(LedgerKind.creator_available, account_id=account_id)
    pending = Owner(LedgerKind.creator_pending, account_id=account_id)
    found = await balances(session, [available, pending])
    payouts = await session.exec(
        select(Payout).where(Payout.account_id == account_id).order_by(col(Payout.id).desc())
    )
    return CreatorSummary(
        found[available],
        found[pending],
        await supporters(session, account_id),
        payouts.all(),
        await creator_month(session, settings, account_id),
    )
