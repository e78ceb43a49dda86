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
from server.models.connections import (
    BridgeBudget,
    BridgeLike,
    BridgeLikeOutcome,
    BridgeUsage,
    ConnectAttempt,
    ConnectedAccount,
    ConnectionState,
)
from server.models.federation import Follow, InboxItem, PeerInbox
from server.models.imports import ImportBatch, ImportLike, ImportLikeOutcome, ImportState
from server.models.instance_texts import InstanceText  # noqa: F401
from server.models.jobs import Job, JobState
from server.models.ledger import LedgerAccount, LedgerKind, Transfer, TransferKind
from server.models.markers import Marker
from server.models.media import MediaAttachment
from server.models.money_in import BankCredit, BankImport, MoneyForm, WalletCredit  # noqa: F401
from server.models.notes import Note, NoteLike, NoteShare, StatusIdempotency
from server.models.notices import CreatorNotice, NoticeOptOut
from server.models.notifications import Notification
from server.models.oauth import OAuthApplication, OAuthCode
from server.models.password_resets import PasswordReset  # noqa: F401
from server.models.payouts import EscrowLine, Payout, PayoutBatch
from server.models.peer_claims import PeerClaim, PeerClaimState
from server.models.relations import Block, DomainBlock, Mute
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
from server.models.statuses import Bookmark, NoteMention, NoteTag
from server.models.stripe_payments import StripeCheckout, StripeEvent, WalletNotice  # noqa: F401
from server.models.stripe_top_ups import StripeAutoTopUp  # noqa: F401

__all__ = [
    "Account",
    "Actor",
    "ApiToken",
    "Block",
    "Bookmark",
    "BridgeBudget",
    "BridgeLike",
    "BridgeLikeOutcome",
    "BridgeUsage",
    "Click",
    "ConnectAttempt",
    "ConnectedAccount",
    "ConnectionState",
    "CreatorNotice",
    "Direction",
    "DomainBlock",
    "DonorPeriod",
    "DonorSettings",
    "EscrowLine",
    "Follow",
    "Identity",
    "ImportBatch",
    "ImportLike",
    "ImportLikeOutcome",
    "ImportState",
    "InboxItem",
    "Job",
    "JobState",
    "LedgerAccount",
    "LedgerKind",
    "LineState",
    "Marker",
    "MediaAttachment",
    "Mute",
    "Note",
    "NoteLike",
    "NoteMention",
    "NoteShare",
    "NoteTag",
    "NoticeOptOut",
    "Notification",
    "OAuthApplication",
    "OAuthCode",
    "PaymentState",
    "Payout",
    "PayoutBatch",
    "Peer",
    "PeerClaim",
    "PeerClaimState",
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
