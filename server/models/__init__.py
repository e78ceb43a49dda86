"""Every table module is imported here so that SQLModel.metadata knows the whole schema."""

from __future__ import annotations

from server.models.accounts import Account, ApiToken
from server.models.actors import Actor
from server.models.clicks import (
    Click,
    DonorPeriod,
    DonorSettings,
    Identity,
    Period,
    Thing,
)
from server.models.federation import Follow, InboxItem, PeerInbox
from server.models.jobs import Job, JobState
from server.models.ledger import LedgerAccount, LedgerKind, Transfer, TransferKind
from server.models.notes import Note, NoteLike, NoteShare, StatusIdempotency
from server.models.notices import CreatorNotice, NoticeOptOut
from server.models.payouts import EscrowLine, Payout, PayoutBatch
from server.models.sessions import WebSession
from server.models.settlement import (
    Direction,
    LineState,
    PaymentState,
    Peer,
    PeerState,
    Settlement,
    SettlementLineRow,
    SettlementPayment,
    SettlementState,
)

__all__ = [
    "Account",
    "Actor",
    "ApiToken",
    "Click",
    "CreatorNotice",
    "Direction",
    "DonorPeriod",
    "DonorSettings",
    "EscrowLine",
    "Follow",
    "Identity",
    "InboxItem",
    "Job",
    "JobState",
    "LedgerAccount",
    "LedgerKind",
    "LineState",
    "Note",
    "NoteLike",
    "NoteShare",
    "NoticeOptOut",
    "PaymentState",
    "Payout",
    "PayoutBatch",
    "Peer",
    "PeerInbox",
    "PeerState",
    "Period",
    "Settlement",
    "SettlementLineRow",
    "SettlementPayment",
    "SettlementState",
    "StatusIdempotency",
    "Thing",
    "Transfer",
    "TransferKind",
    "WebSession",
]
