"""The public page a creator notice links to, read in a session of its own: what waits,
and once nothing does, what became of it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.engine import Database
from server.escrow.notices import WaitingPage, waiting_page
from server.federation.origins import host_of
from server.models import EscrowLine, Identity, LedgerAccount, LedgerKind
from server.models.payouts import EscrowState
from server.settings import Settings


@dataclass(frozen=True)
class Outcomes:
    """What became of the shares set aside for one identity."""

    claimed_here: bool  # its creator claimed them with an account here
    claimed_through: str  # the instance its creator claimed it from, if a peer
    paid_to: tuple[str, ...]  # their instances, paid by a settlement
    going_to: tuple[str, ...]  # their instances, in the next settlement
    returned: bool  # some went back to the supporters, unclaimed

    @property
    def claimed_or_paid(self) -> bool:
        return self.claimed_here or bool(self.claimed_through or self.paid_to or self.going_to)


@dataclass(frozen=True)
class WaitingView:
    page: WaitingPage
    outcomes: Outcomes


async def outcomes(session: AsyncSession, identity_id: int) -> Outcomes:
    rows = await session.exec(
        select(EscrowLine.state, EscrowLine.peer_domain, LedgerAccount.kind)
        .join(LedgerAccount, col(LedgerAccount.id) == EscrowLine.ledger_account_id)
        .where(EscrowLine.identity_id == identity_id)
        .distinct()
    )
    found = {(EscrowState(state), domain, LedgerKind(kind)) for state, domain, kind in rows.all()}
    identity = await session.get(Identity, identity_id)
    claimed_through = host_of(identity.claimed_by_actor_uri) if identity else ""
    paid = {domain for state, domain, _ in found if state == EscrowState.settled}
    # In a batch out to their instance, or held in its escrow after a claim there: a
    # settlement pays it. (A remote creator's shares wait in their host's escrow from the
    # close on, which alone pays nobody.)
    going = {
        domain
        for state, domain, kind in found
        if state == EscrowState.offered
        or (
            kind == LedgerKind.escrow_peer
            and state == EscrowState.held
            and domain == claimed_through
        )
    }
    return Outcomes(
        claimed_here=any(state == EscrowState.claimed for state, _, _ in found)
        or (identity is not None and identity.claimed_account_id is not None),
        claimed_through=claimed_through,
        paid_to=tuple(sorted(paid)),
        going_to=tuple(sorted(going)),
        returned=any(state == EscrowState.returned for state, _, _ in found),
    )


async def waiting(db: Database, settings: Settings, token: str) -> WaitingView:
    async with db.session() as session:
        page = await waiting_page(session, settings, token)
        return WaitingView(page, await outcomes(session, page.notice.identity_id))
