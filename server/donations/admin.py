"""What the admin's money page (/admin/money) reads and does: open payouts, funding a donor's
wallet, deciding a payout; each function owns its session or transaction."""

from __future__ import annotations

from dataclasses import dataclass

from server.accounts.accounts import get_account
from server.db.engine import Database
from server.domain_errors import Outcome, attempt
from server.models import Payout
from server.money.amounts import parse_amount
from server.money.funding import Funding, credit_wallet
from server.money.payouts import approve_payout, list_payouts, reject_payout
from server.settings import Settings


@dataclass(frozen=True)
class FundForm:
    """The funding form as sent."""

    username: str
    amount: str  # as typed
    reference: str


@dataclass(frozen=True)
class Funded:
    username: str
    amount: int
    created: bool  # False: that reference was credited before, and nothing moved now


async def open_payouts(db: Database) -> list[Payout]:
    """Payouts requested or approved, not paid or rejected yet; newest first."""
    async with db.session() as session:
        return [p for p in await list_payouts(session) if p.state in ("requested", "approved")]


async def fund_wallet(db: Database, settings: Settings, form: FundForm) -> Funded:
    amount = parse_amount(form.amount, settings)
    async with db.transaction() as session:
        account = await get_account(session, form.username)
        funding = Funding(int(account.id or 0), amount, form.reference.strip())
        _, created = await credit_wallet(session, settings, funding)
    return Funded(account.username, amount, created)


async def decide_payout(
    db: Database, settings: Settings, payout_id: int, *, approve: bool, note: str
) -> None:
    async with db.transaction() as session:
        if approve:
            await approve_payout(session, payout_id)
        else:
            await reject_payout(session, settings, payout_id, note)


async def fund_wallet_and_page(
    db: Database, settings: Settings, form: FundForm
) -> Outcome[Funded, list[Payout]]:
    """Fund a wallet; the open payouts the money page shows next come with what was done, or
    with the refusal."""
    outcome = await attempt(fund_wallet(db, settings, form), lambda: open_payouts(db))
    if outcome.error is not None:
        return outcome
    return Outcome(done=outcome.done, page=await open_payouts(db))


async def decide_payout_or_page(
    db: Database, settings: Settings, payout_id: int, *, approve: bool, note: str
) -> Outcome[None, list[Payout]]:
    """Approve or reject a payout, or the open payouts showing the refusal."""
    return await attempt(
        decide_payout(db, settings, payout_id, approve=approve, note=note),
        lambda: open_payouts(db),
    )
