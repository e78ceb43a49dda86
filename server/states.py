"""The state machines of the schema: for every state column, the states a new row may
start in and the states a row may move to from each state, read off the code that moves
them. Domain code changes a row's state only through `advance`, and a bulk UPDATE of a
state column selects its rows with `moving`: both refuse a move the table does not
declare. Migration 0013's CHECK constraints keep each column within its enum's values
and tie states to the columns they imply."""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement

from server.domain_errors import Conflict
from server.models.clicks import DonorStage, PeriodStage
from server.models.connections import ConnectionState
from server.models.federation import FollowState, InboxState
from server.models.imports import ImportState
from server.models.jobs import JobState
from server.models.money_in import BankCreditState, BankImportState
from server.models.notices import NoticeState
from server.models.payouts import EscrowState, PayoutState
from server.models.peer_claims import PeerClaimState
from server.models.settlement import LineState, PaymentState, PeerState, SettlementState

S = TypeVar("S", bound=enum.StrEnum)


class IllegalTransition(Conflict):
    """A move the state machine does not declare: a bug, or a row changed meanwhile."""


@dataclass(frozen=True)
class Machine:
    """One state column: its table and column, the states a row is written in, and for
    each state the states it may move to (a terminal state maps to none)."""

    table: str
    column: str
    states: type[enum.StrEnum]
    initial: frozenset[enum.StrEnum]
    moves: Mapping[enum.StrEnum, frozenset[enum.StrEnum]]

    def allows(self, current: enum.StrEnum, to: enum.StrEnum) -> bool:
        return to in self.moves[current]

    def transitions(self) -> list[tuple[enum.StrEnum, enum.StrEnum]]:
        return [(a, b) for a in self.states for b in self.states if self.allows(a, b)]


def _machine(
    table: str,
    states: type[S],
    initial: Collection[S],
    moves: Mapping[S, Collection[S]],
    column: str = "state",
) -> Machine:
    return Machine(
        table,
        column,
        states,
        frozenset(initial),
        {state: frozenset(moves.get(state, ())) for state in states},
    )


E, P, J, C = EscrowState, PayoutState, JobState, ConnectionState
Im = ImportState
Pc = PeerClaimState
Bi, Bc = BankImportState, BankCreditState

MACHINES: dict[type[enum.StrEnum], Machine] = {
    machine.states: machine
    for machine in (
        # The queue: a claim leases a queued job, or re-leases one whose worker's lease ran
        # out; the worker finishes it, or queues it again to retry.
        _machine(
            "job",
            JobState,
            {J.queued},
            {J.queued: {J.running}, J.running: {J.running, J.done, J.failed, J.queued}},
        ),
        # Received activities: processed once, one by one or plain Likes in bulk.
        _machine(
            "inbox_item",
            InboxState,
            {InboxState.pending},
            {InboxState.pending: {InboxState.done, InboxState.ignored, InboxState.failed}},
        ),
        # Follows: the remote side decides. A Follow again (a repeat, or after an Undo
        # that never reached us) sets it pending or accepted, as the followee's account is
        # locked or not; an Accept or a Reject may come at any time.
        _machine(
            "follow",
            FollowState,
            set(FollowState),
            {state: set(FollowState) for state in FollowState},
        ),
        # A period's close: open, then closing while donors are done one by one, closed.
        _machine(
            "period",
            PeriodStage,
            {PeriodStage.open},
            {PeriodStage.open: {PeriodStage.closing}, PeriodStage.closing: {PeriodStage.closed}},
            column="stage",
        ),
        _machine(
            "donor_period",
            DonorStage,
            {DonorStage.pending},
            {DonorStage.pending: {DonorStage.done}},
            column="stage",
        ),
        # Escrow: the close holds shares; a peer's are offered in a batch (back to held
        # when the batch is refused or a line rejected for the credit limit, or when the
        # line is rehomed to its identity's escrow); held lines are claimed or returned
        # when they expire; offered ones are settled by the peer's receipt.
        _machine(
            "escrow_line",
            EscrowState,
            {E.held},
            {E.held: {E.held, E.offered, E.claimed, E.returned}, E.offered: {E.held, E.settled}},
        ),
        # A creator's notice is written once, sent or gone; it never changes.
        _machine("creator_notice", NoticeState, set(NoticeState), {}),
        # Payouts: the admin approves or rejects a request (or rejects an approved one);
        # an export puts the approved in flight; the bank's confirmation pays them.
        _machine(
            "payout",
            PayoutState,
            {P.requested},
            {
                P.requested: {P.approved, P.rejected},
                P.approved: {P.rejected, P.in_flight},
                P.in_flight: {P.paid},
            },
        ),
        # Peering: proposed (by us or them, again after an end), active, suspended, ended.
        # An answer to a proposal of ours the admin ended meanwhile still applies: an
        # acceptance activates the peer, a rejection ends it again.
        _machine(
            "peer",
            PeerState,
            {PeerState.proposed},
            {
                PeerState.proposed: {PeerState.proposed, PeerState.active, PeerState.ended},
                PeerState.active: {PeerState.suspended, PeerState.ended},
                PeerState.suspended: {PeerState.active, PeerState.ended},
                PeerState.ended: {PeerState.proposed, PeerState.active, PeerState.ended},
            },
        ),
        # Batches: ours are offered, then accepted or refused by the peer's answer; a
        # peer's are stored accepted. A payment notice covers accepted batches (paid);
        # its confirmation confirms them, its refusal opens them again.
        _machine(
            "settlement",
            SettlementState,
            {SettlementState.offered, SettlementState.accepted},
            {
                SettlementState.offered: {SettlementState.accepted, SettlementState.refused},
                SettlementState.accepted: {SettlementState.paid},
                SettlementState.paid: {SettlementState.confirmed, SettlementState.accepted},
            },
        ),
        # Lines of our batches are offered; a receipt books them all accepted, then the
        # few it rejects. A peer's lines are stored accepted or rejected.
        _machine(
            "settlement_line",
            LineState,
            set(LineState),
            {
                LineState.offered: {LineState.accepted, LineState.rejected},
                LineState.accepted: {LineState.rejected},
            },
        ),
        # Payment notices: ours wait for the peer's answer; a peer's are stored refused
        # at once or wait for our admin (or are confirmed at once).
        _machine(
            "settlement_payment",
            PaymentState,
            {PaymentState.notified, PaymentState.refused},
            {PaymentState.notified: {PaymentState.confirmed, PaymentState.refused}},
        ),
        # A donor's account on a bridged network: paused and resumed by the donor; the
        # network refusing its token asks the donor to sign in again (connecting again makes
        # it active); disconnecting revokes it, and connecting again later revives the row.
        _machine(
            "connected_account",
            ConnectionState,
            {C.active},
            {
                C.active: {C.active, C.paused, C.needs_reauth, C.revoked},
                C.paused: {C.active, C.paused, C.needs_reauth, C.revoked},
                C.needs_reauth: {C.active, C.needs_reauth, C.revoked},
                C.revoked: {C.active},
            },
        ),
        # A data-export import: stored, read by its job (read again after a crash), shown;
        # the donor confirms (its likes of the open period are counted) or cancels; a file
        # refused fails it. A newer upload of the same network cancels one not confirmed.
        _machine(
            "import_batch",
            ImportState,
            {Im.uploaded},
            {
                Im.uploaded: {Im.parsing, Im.failed, Im.cancelled},
                Im.parsing: {Im.parsing, Im.previewed, Im.failed, Im.cancelled},
                Im.previewed: {Im.confirmed, Im.cancelled},
                Im.confirmed: {Im.counted},
            },
        ),
        # A bank statement an admin imported: previewed, then confirmed (its matched credits
        # booked) or cancelled.
        _machine(
            "bank_import",
            BankImportState,
            {Bi.previewed},
            {Bi.previewed: {Bi.confirmed, Bi.cancelled}},
        ),
        # One credit of it: at the confirmation booked to the donor its reference names,
        # a peer's settlement payment (it confirms the peer's notice), unmatched (the admin
        # assigns it later), a duplicate of an entry booked before, or dropped with its
        # cancelled preview. An unmatched one is assigned, found booked, or returned (the
        # admin sent the money back through the bank; nothing is booked).
        _machine(
            "bank_credit",
            BankCreditState,
            {Bc.previewed},
            {
                Bc.previewed: {Bc.booked, Bc.unmatched, Bc.duplicate, Bc.dropped, Bc.settlement},
                Bc.unmatched: {Bc.assigned, Bc.duplicate, Bc.returned},
            },
        ),
        # A claim of an identity through a peer. Ours starts announced; the peer's answer
        # makes it accepted, contested or refused, and a later answer may change that (a
        # rival appeared, an admin decided). Theirs starts accepted, or contested when the
        # identity is claimed already; a rival's claim contests an accepted one, an admin
        # accepts or refuses, the claimant's instance withdraws it. Announcing again (ours)
        # or receiving it again after a withdrawal (theirs) starts it over.
        _machine(
            "peer_claim",
            PeerClaimState,
            {Pc.announced, Pc.accepted, Pc.contested},
            {
                Pc.announced: {Pc.announced, Pc.accepted, Pc.contested, Pc.refused, Pc.withdrawn},
                Pc.accepted: {Pc.announced, Pc.accepted, Pc.contested, Pc.refused, Pc.withdrawn},
                Pc.contested: {Pc.announced, Pc.accepted, Pc.contested, Pc.refused, Pc.withdrawn},
                Pc.refused: {Pc.announced, Pc.accepted, Pc.contested, Pc.refused, Pc.withdrawn},
                Pc.withdrawn: {Pc.announced, Pc.accepted, Pc.contested},
            },
        ),
    )
}


def _check(machine: Machine, current: enum.StrEnum, to: enum.StrEnum, what: str) -> None:
    if not machine.allows(current, to):
        raise IllegalTransition(
            f"{what} is {current.value}; it cannot become {to.value} "
            f"(it may become {', '.join(sorted(machine.moves[current])) or 'nothing'})"
        )


def advance(row: Any, to: S) -> None:
    """Move one row (a model instance) to the state `to`, if its machine allows it from
    the row's current state; otherwise raise IllegalTransition (a conflict)."""
    machine = MACHINES[type(to)]
    current = machine.states(getattr(row, machine.column))
    _check(machine, current, to, f"{machine.table} {getattr(row, 'id', None) or '(new)'}")
    setattr(row, machine.column, to)


def moving(column: Any, *sources: S, to: S) -> ColumnElement[bool]:
    """The WHERE condition of a bulk UPDATE that sets `column` to `to`: rows in one of
    `sources`. Raises IllegalTransition when building a statement the table does not
    declare, so no bulk statement moves a row where `advance` would refuse to."""
    machine = MACHINES[type(to)]
    if not sources:
        raise ValueError("a bulk move names the states it moves rows from")
    for source in sources:
        _check(machine, source, to, f"a {machine.table} row")
    if len(sources) == 1:
        return column == sources[0].value  # type: ignore[no-any-return]
    return column.in_([source.value for source in sources])  # type: ignore[no-any-return]


def source_values(*sources: S, to: S) -> tuple[str, ...]:
    """For a bulk UPDATE written as SQL text: the values of `sources`, each checked to be
    a declared move to `to`, to bind into its WHERE."""
    machine = MACHINES[type(to)]
    for source in sources:
        _check(machine, source, to, f"a {machine.table} row")
    return tuple(source.value for source in sources)
