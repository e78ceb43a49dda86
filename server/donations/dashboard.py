"""What the donor's and the creator's pages (/money, /money/creator) and the money API
(/api/v1/likewise) read and do: each function owns its session or transaction and returns
one typed answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.engine import Database
from server.domain_errors import FieldChecks, Outcome, ServiceError, attempt
from server.donations.budget import update_donor_settings
from server.donations.clicks import remove_click_by_id
from server.donations.history import GuideSteps, MonthHistory, donor_history, guide_steps
from server.donations.likes import canonical_url, clicks_on, like_url
from server.donations.outlook import Outlook, Standing, outlook
from server.donations.summary import CreatorSummary, DonorSummary, creator_summary, donor_summary
from server.escrow.claims import Received, claim_fediverse_account, claims_received, linked_accounts
from server.escrow.escrow import Claim, Waiting, claim_identity, waiting_for
from server.federation.remote import RemoteActors
from server.models import Account, Identity, LedgerKind, Note, Payout
from server.models.base import utcnow
from server.money.amounts import parse_amount
from server.money.forms import use_form_key
from server.money.ledger import Owner, balance_of
from server.money.payouts import (
    PayoutRequest,
    checked_request,
    list_payouts,
    request_payout,
)
from server.settings import Settings
from server.settlement.creator import PeerFunds, funds_by_peer
from server.social.favourites import SOURCE_API, favourite
from server.social.interaction import resolve
from server.social.notes import local_actor


@dataclass(frozen=True)
class CreatorDashboard:
    creator: CreatorSummary
    by_peer: list[PeerFunds]
    waiting: list[Waiting]
    received: list[Received]
    linked: list[Identity]
    profile_url: str


@dataclass(frozen=True)
class Summaries:
    donor: DonorSummary
    creator: CreatorSummary


@dataclass(frozen=True)
class BudgetForm:
    """The budget form as sent: the amount as typed, the two boxes ticked or not."""

    monthly_budget: str
    paused: bool
    anonymous: bool


@dataclass(frozen=True)
class PayoutForm:
    amount: str  # as typed
    iban: str
    name: str
    bic: str
    form_key: str = ""  # made when the form was shown: the form requests once


async def donor_dashboard(db: Database, settings: Settings, who: int) -> DonorSummary:
    async with db.session() as session:
        return await donor_summary(session, settings, who)


@dataclass(frozen=True)
class DonorPage:
    """The donor's money page: the summary, the coming close in words, the first-visit
    guide's steps and the history by month."""

    donor: DonorSummary
    outlook: Outlook
    guide: GuideSteps
    history: list[MonthHistory]


async def donor_page(
    db: Database, settings: Settings, who: int, today: date | None = None
) -> DonorPage:
    async with db.session() as session:
        donor = await donor_summary(session, settings, who)
        standing = Standing(
            donor.period,
            donor.wallet,
            donor.settings.monthly_budget,
            donor.settings.paused,
            len(donor.clicks),
            donor.unspent_to,
        )
        return DonorPage(
            donor,
            outlook(standing, settings, today or utcnow().date()),
            await guide_steps(session, who),
            await donor_history(session, settings, who),
        )


async def creator_dashboard(db: Database, settings: Settings, who: int) -> CreatorDashboard:
    async with db.session() as session:
        return CreatorDashboard(
            creator=await creator_summary(session, settings, who),
            by_peer=await funds_by_peer(session, who),
            waiting=await waiting_for(session, who),
            received=await claims_received(session, settings, who),
            linked=await linked_accounts(session, settings, who),
            profile_url=(await local_actor(session, who)).url,
        )


async def summaries(db: Database, settings: Settings, who: int) -> Summaries:
    async with db.session() as session:
        donor = await donor_summary(session, settings, who)
        creator = await creator_summary(session, settings, who)
    return Summaries(donor, creator)


async def save_budget(db: Database, settings: Settings, who: int, form: BudgetForm) -> None:
    amount = parse_amount(form.monthly_budget, settings, field="monthly_budget")
    async with db.transaction() as session:
        await update_donor_settings(
            session,
            settings,
            who,
            monthly_budget=amount,
            paused=form.paused,
            anonymous=form.anonymous,
        )


async def remove_click(db: Database, who: int, click_id: int) -> bool:
    """Unclick one of the donor's own clicks in a period still open; False if none."""
    async with db.transaction() as session:
        return await remove_click_by_id(session, who, click_id)


async def ask_payout(db: Database, settings: Settings, who: int, form: PayoutForm) -> bool:
    """Request the payout once per form: False when this form was sent before."""
    checks = FieldChecks()
    amount = checks.check(parse_amount, form.amount, settings) or 0
    asked = PayoutRequest(who, amount, form.iban, form.name, form.bic)
    wanted = checked_request(settings, asked, checks)  # every wrong field refused at once
    async with db.transaction() as session:
        if not await use_form_key(session, form.form_key, who, "payout"):
            return False
        await request_payout(session, settings, wanted)
    return True


async def claim_waiting(db: Database, settings: Settings, who: int, identity_id: int) -> Claim:
    """Claim what waits for one of the account's own identities."""
    async with db.transaction() as session:
        return await claim_identity(session, settings, identity_id, who)


async def save_budget_or_page(
    db: Database, settings: Settings, who: int, form: BudgetForm
) -> Outcome[None, DonorPage]:
    """Save the dashboard's budget form, or the donor's dashboard showing its refusal."""
    return await attempt(
        save_budget(db, settings, who, form), lambda: donor_page(db, settings, who)
    )


async def ask_payout_or_page(
    db: Database, settings: Settings, who: int, form: PayoutForm
) -> Outcome[bool, CreatorDashboard]:
    """Ask for a payout, or the creator's dashboard showing the refusal."""
    return await attempt(
        ask_payout(db, settings, who, form), lambda: creator_dashboard(db, settings, who)
    )


async def claim_waiting_or_page(
    db: Database, settings: Settings, who: int, identity_id: int
) -> Outcome[Claim, CreatorDashboard]:
    """Claim what waits for one of the account's identities, or the creator's dashboard
    showing the refusal."""
    return await attempt(
        claim_waiting(db, settings, who, identity_id),
        lambda: creator_dashboard(db, settings, who),
    )


async def claim_account_or_page(
    db: Database, settings: Settings, remote: RemoteActors, who: int, named: str
) -> Outcome[Claim, CreatorDashboard]:
    """Claim a fediverse account by its handle, or the creator's dashboard showing the
    refusal."""
    return await attempt(
        claim_fediverse_account(db, settings, remote, who, named),
        lambda: creator_dashboard(db, settings, who),
    )


@dataclass(frozen=True)
class BudgetChange:
    """A budget request of the money API, parsed: None leaves a setting as it is."""

    monthly_budget: int | None
    paused: bool | None
    anonymous: bool | None


@dataclass(frozen=True)
class ClaimDone:
    claim: Claim
    available: int  # the creator's available balance after the claim


@dataclass(frozen=True)
class Liked:
    outcome: str  # "recorded", or why nothing was recorded
    uri: str  # what the like is counted on
    recorded: bool


async def change_budget(
    db: Database, settings: Settings, who: int, change: BudgetChange
) -> DonorSummary:
    """Apply the change, then read the donor's summary as it is after the commit."""
    async with db.transaction() as session:
        await update_donor_settings(
            session,
            settings,
            who,
            monthly_budget=change.monthly_budget,
            paused=change.paused,
            anonymous=change.anonymous,
        )
    return await donor_dashboard(db, settings, who)


async def payouts_of(db: Database, who: int) -> list[Payout]:
    async with db.session() as session:
        return list(await list_payouts(session, account_id=who))


async def new_payout(db: Database, settings: Settings, wanted: PayoutRequest) -> Payout:
    async with db.transaction() as session:
        return await request_payout(session, settings, wanted)


async def waiting_claims(db: Database, who: int) -> list[Waiting]:
    async with db.session() as session:
        return await waiting_for(session, who)


async def _available(session: AsyncSession, settings: Settings, who: int) -> int:
    return await balance_of(session, settings, Owner(LedgerKind.creator_available, account_id=who))


async def claim_with_balance(
    db: Database, settings: Settings, who: int, identity_id: int
) -> ClaimDone:
    async with db.transaction() as session:
        done = await claim_identity(session, settings, identity_id, who)
        return ClaimDone(done, await _available(session, settings, who))


async def claim_account_with_balance(
    db: Database, settings: Settings, remote: RemoteActors, who: int, named: str
) -> ClaimDone:
    """Claim the fediverse account `named`, then read the available balance after it."""
    done = await claim_fediverse_account(db, settings, remote, who, named)
    async with db.session() as session:
        return ClaimDone(done, await _available(session, settings, who))


async def like(
    db: Database, settings: Settings, remote: RemoteActors, account: Account, uri: str
) -> Liked:
    """Like what `uri` names: a post on the fediverse is fetched and favourited (its author
    is the creator, and a Like is delivered); anything else is liked as a web URL."""
    canonical_url(uri)  # refuses what no like may name (a user name, no host) before a fetch
    note = await _fediverse_note(remote, uri)
    who = int(account.id or 0)
    async with db.transaction() as session:
        if note is not None:
            before = await clicks_on(session, who, note.uri)
            await favourite(session, settings, account, note, SOURCE_API)
            recorded = await clicks_on(session, who, note.uri) > before
            return Liked("recorded" if recorded else "already_liked", note.uri, recorded)
        outcome, thing = await like_url(session, settings, who, uri, source="client_api")
    return Liked(outcome.value, thing.uri, outcome == "recorded")


async def _fediverse_note(remote: RemoteActors, uri: str) -> Note | None:
    if not uri.startswith(("https://", "http://")):
        return None
    try:
        found = await resolve(remote, uri)
    except ServiceError:
        return None
    return found.note
