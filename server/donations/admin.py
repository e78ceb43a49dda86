"""What the admin's money page (/admin/money) reads and does: open payouts (named by
their account's handle), exported payout batches, recent wallet credits, the instance's
loss account, funding a donor's wallet, deciding a payout; each function owns its session
or transaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.accounts.accounts import get_account
from server.db.engine import Database
from server.domain_errors import FieldChecks, NotFound, Outcome, attempt
from server.donations.admin_money import (
    Batch,
    LossLine,
    OpenPayout,
    approved_payouts,
    loss_account,
    open_payouts,
    recent_batches,
)
from server.donations.admin_runs import RunForm, start_run
from server.money.amounts import parse_amount
from server.money.funding.credits import CreditLine, recent_credits
from server.money.funding.manual import AdminCredit, credit_by_admin
from server.money.payouts import approve_payout, reject_payout
from server.settings import Settings


@dataclass(frozen=True)
class FundForm:
    """The funding form as sent."""

    username: str
    amount: str  # as typed
    reference: str
    form_key: str  # made when the form was shown: without a reference, the payment id


@dataclass(frozen=True)
class Funded:
    username: str
    amount: int
    created: bool  # False: that reference (or form) was credited before, and nothing moved


@dataclass(frozen=True)
class MoneyPage:
    payouts: list[OpenPayout]  # requested or approved, newest first
    credits: list[CreditLine]  # the latest wallet credits
    batches: list[Batch] = field(default_factory=list)  # exported, newest first
    approved: int = 0  # payouts approved and not yet exported
    loss: int = 0  # the instance's loss account: refunds and disputes of spent money
    loss_lines: list[LossLine] = field(default_factory=list)


async def money_page(db: Database) -> MoneyPage:
    async with db.session() as session:
        loss, lines = await loss_account(session)
        return MoneyPage(
            payouts=await open_payouts(session),
            credits=await recent_credits(session),
            batches=await recent_batches(session),
            approved=await approved_payouts(session),
            loss=loss,
            loss_lines=lines,
        )


async def fund_wallet(db: Database, settings: Settings, admin_id: int, form: FundForm) -> Funded:
    checks = FieldChecks()  # a wrong username and amount are refused at once
    async with db.transaction() as session:
        account = None
        try:
            account = await get_account(session, form.username)
        except NotFound as error:
            checks.add(NotFound(error.message, field="username"))
        amount = checks.check(parse_amount, form.amount, settings) or 0
        checks.done()
        if account is None:  # refused above
            raise NotFound("no such account", field="username")
        credit = AdminCredit(int(account.id or 0), amount, form.reference, form.form_key, admin_id)
        done = await credit_by_admin(session, settings, credit)
    return Funded(account.username, amount, done.created)


async def decide_payout(
    db: Database, settings: Settings, payout_id: int, *, approve: bool, note: str
) -> None:
    async with db.transaction() as session:
        if approve:
            await approve_payout(session, payout_id)
        else:
            await reject_payout(session, settings, payout_id, note)


async def fund_wallet_or_page(
    db: Database, settings: Settings, admin_id: int, form: FundForm
) -> Outcome[Funded, MoneyPage]:
    """Fund a wallet, or the money page showing the refusal."""
    return await attempt(fund_wallet(db, settings, admin_id, form), lambda: money_page(db))


async def decide_payout_or_page(
    db: Database, settings: Settings, payout_id: int, *, approve: bool, note: str
) -> Outcome[None, MoneyPage]:
    """Approve or reject a payout, or the money page showing the refusal."""
    return await attempt(
        decide_payout(db, settings, payout_id, approve=approve, note=note),
        lambda: money_page(db),
    )


async def start_run_or_page(
    db: Database, settings: Settings, admin_id: int, form: RunForm
) -> Outcome[int, MoneyPage]:
    """Start a run of the settlement round (its job's id), or the money page showing why not."""
    return await attempt(start_run(db, settings, admin_id, form), lambda: money_page(db))
