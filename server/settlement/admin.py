"""What the admin's settlement pages (/admin/peers) read and do: the page's parts in one call,
and one function per form, as the `likewise peers` / `settlements` commands call them."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.db.engine import Database
from server.domain_errors import Outcome, ValidationFailed, attempt
from server.escrow.peer_claims import decide_claim, list_claims
from server.federation.origins import host_of
from server.federation.remote import RemoteActors
from server.models import (
    Direction,
    Identity,
    PaymentState,
    Peer,
    PeerClaim,
    PeerState,
    Settlement,
    SettlementPayment,
)
from server.money.amounts import parse_amount
from server.settings import Settings
from server.settlement.exchange import (
    Verification,
    list_payments,
    list_settlements,
    overdue,
    verify_settlement,
)
from server.settlement.outgoing import prepare_batches
from server.settlement.payments import confirm_payment, mark_paid, refuse_payment
from server.settlement.peering import (
    PeerBalance,
    Waiting,
    answer_proposal,
    discover,
    find_peer,
    list_peers,
    normalize_domain,
    propose,
    set_state,
    waiting_instances,
)
from server.settlement.statements import Entry, Statement, statement
from server.settlement.waiting_notice import notices_to_instance

# What an admin may do to a peer's agreement besides answering its proposal.
STATES = {"suspend": PeerState.suspended, "resume": PeerState.active, "end": PeerState.ended}
PEER_ACTIONS = ("accept", "reject", *STATES)
PAYMENT_DECISIONS = ("confirm", "refuse")
CLAIM_DECISIONS = ("accept", "refuse")


@dataclass(frozen=True)
class PeersPage:
    balances: list[PeerBalance]
    batches: list[tuple[Settlement, Peer, bool]]  # each batch, its peer, and whether overdue
    payments: list[tuple[SettlementPayment, Peer]]
    waiting: list[Waiting]
    notices: list[tuple[str, str]]
    awaiting: set[str]  # domains whose confirmation of our payment notice we await
    # claims peers announced here, and ours announced to them (contested first)
    claims: list[tuple[PeerClaim, Identity]] = field(default_factory=list)


@dataclass(frozen=True)
class PeerProposal:
    """The propose form as sent."""

    domain: str
    credit_limit: str  # as typed; blank for the instance's default


@dataclass(frozen=True)
class Proposed:
    peer: Peer
    credit_limit: int


@dataclass(frozen=True)
class PaymentNotice:
    """The "we paid" form as sent."""

    amount: str  # as typed
    reference: str


@dataclass(frozen=True)
class Paid:
    payment: SettlementPayment
    amount: int


async def peers_page(db: Database, settings: Settings) -> PeersPage:
    balances = await list_peers(db, settings)
    batches = await list_settlements(db)
    payments = await list_payments(db)
    waiting = await waiting_instances(db)
    notices = unanswered(await notices_to_instance(db, settings), balances)
    awaiting = {
        peer.domain
        for payment, peer in payments
        if payment.direction == Direction.outgoing and payment.state == PaymentState.notified
    }
    return PeersPage(
        balances=balances,
        batches=[(batch, peer, overdue(settings, batch)) for batch, peer in batches],
        payments=payments,
        waiting=waiting,
        notices=notices,
        awaiting=awaiting,
        claims=await list_claims(db),
    )


def unanswered(
    notices: list[tuple[str, str]], balances: list[PeerBalance]
) -> list[tuple[str, str]]:
    """The notices of instances with no agreement here yet: one proposed, active,
    suspended or ended has been acted on, and its notice's command is no longer the step."""
    agreed = {row.peer.domain for row in balances}
    return [(sender, text) for sender, text in notices if host_of(sender) not in agreed]


async def propose_peer(
    db: Database, settings: Settings, remote: RemoteActors, form: PeerProposal
) -> Proposed:
    domain = normalize_domain(settings, form.domain)
    limit = settings.peer_credit_limit
    if form.credit_limit.strip():
        limit = parse_amount(form.credit_limit, settings, field="credit_limit")
    # Discovery reads the peer's NodeInfo and actor: network I/O, outside any transaction.
    profile = await discover(remote, remote.client, settings, domain)
    return Proposed(await propose(db, settings, profile, limit), limit)


async def act_on_peer(db: Database, settings: Settings, domain: str, action: str) -> Peer:
    """Accept or reject the peer's proposal; suspend, resume or end the agreement."""
    if action in STATES:
        return await set_state(db, domain, STATES[action])
    return await answer_proposal(db, settings, domain, accept=action == "accept")


async def send_batches(
    db: Database, settings: Settings, remote: RemoteActors, domain: str
) -> list[Settlement]:
    async with db.session() as session:
        peer_id = (await find_peer(session, domain)).id
    return await prepare_batches(db, settings, remote, peer_id)


async def record_payment(
    db: Database, settings: Settings, domain: str, notice: PaymentNotice
) -> Paid:
    amount = parse_amount(notice.amount, settings)
    return Paid(await mark_paid(db, settings, domain, amount, notice.reference), amount)


async def answer_payment(
    db: Database, settings: Settings, payment_id: int, decision: str, reason: str
) -> SettlementPayment:
    """Confirm an incoming payment notice, or refuse it for `reason`."""
    if decision == "confirm":
        return await confirm_payment(db, settings, payment_id)
    return await refuse_payment(db, settings, payment_id, reason)


async def verify_batch(db: Database, settings: Settings, settlement_id: int) -> Verification:
    """Re-check a stored batch and its answer; ValidationFailed names the checks that fail."""
    result = await verify_settlement(db, settings, settlement_id)
    if not result.ok:
        failed = "; ".join(f"{name}: {detail}" for name, ok, detail in result.checks if not ok)
        raise ValidationFailed(f"Batch {settlement_id} does not verify: {failed}")
    return result


@dataclass(frozen=True)
class StatementLine:
    """A statement entry in the page's columns: what a batch adds to either side's debt
    apart from what a payment paid (a statement books a confirmed payment as lowering what
    its payer owes, the only entry that lowers a side)."""

    entry: Entry
    we_owe: int
    they_owe: int
    we_paid: int
    they_paid: int


@dataclass(frozen=True)
class StatementPage:
    statement: Statement
    lines: list[StatementLine]


def statement_line(entry: Entry) -> StatementLine:
    return StatementLine(
        entry,
        we_owe=max(entry.we_owe, 0),
        they_owe=max(entry.they_owe, 0),
        we_paid=max(-entry.we_owe, 0),
        they_paid=max(-entry.they_owe, 0),
    )


async def statement_page(db: Database, settings: Settings, domain: str) -> StatementPage:
    result = await statement(db, settings, domain)
    return StatementPage(result, [statement_line(entry) for entry in result.entries])


# Each action of the peers page, in one call: what it did, or the page showing its refusal.


async def propose_peer_or_page(
    db: Database, settings: Settings, remote: RemoteActors, form: PeerProposal
) -> Outcome[Proposed, PeersPage]:
    return await attempt(propose_peer(db, settings, remote, form), lambda: peers_page(db, settings))


async def act_on_peer_or_page(
    db: Database, settings: Settings, domain: str, action: str
) -> Outcome[Peer, PeersPage]:
    return await attempt(
        act_on_peer(db, settings, domain, action), lambda: peers_page(db, settings)
    )


async def send_batches_or_page(
    db: Database, settings: Settings, remote: RemoteActors, domain: str
) -> Outcome[list[Settlement], PeersPage]:
    return await attempt(
        send_batches(db, settings, remote, domain), lambda: peers_page(db, settings)
    )


async def record_payment_or_page(
    db: Database, settings: Settings, domain: str, notice: PaymentNotice
) -> Outcome[Paid, PeersPage]:
    return await attempt(
        record_payment(db, settings, domain, notice), lambda: peers_page(db, settings)
    )


async def answer_payment_or_page(
    db: Database, settings: Settings, payment_id: int, decision: str, reason: str
) -> Outcome[SettlementPayment, PeersPage]:
    return await attempt(
        answer_payment(db, settings, payment_id, decision, reason),
        lambda: peers_page(db, settings),
    )


async def verify_batch_or_page(
    db: Database, settings: Settings, settlement_id: int
) -> Outcome[Verification, PeersPage]:
    return await attempt(
        verify_batch(db, settings, settlement_id), lambda: peers_page(db, settings)
    )


async def decide_claim_or_page(
    db: Database, settings: Settings, claim_id: int, decision: str
) -> Outcome[PeerClaim, PeersPage]:
    """A peer's contested (or any) claim accepted or refused by the admin."""
    if decision not in CLAIM_DECISIONS:
        raise ValidationFailed(f"decide a claim by {' or '.join(CLAIM_DECISIONS)}")
    return await attempt(
        decide_claim(db, settings, claim_id, accept=decision == "accept"),
        lambda: peers_page(db, settings),
    )
