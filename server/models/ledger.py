"""Double-entry ledger: accounts and immutable transfers, amounts in integer minor units."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, String
from sqlmodel import Field, SQLModel

from server.models.base import enum_type, in_enum, utcnow

# The most any amount or balance may be, in minor units (docs/settlement.md, "Amounts"):
# 9,999,999,999,999.99 EUR. Below JCS's 2^53 - 1, so it signs as it is; far below BIGINT's
# 2^63 - 1, so a sum of two never overflows; CHECK constraints keep the tables within it.
AMOUNT_CEILING = 10**15 - 1
BALANCE_WITHIN_CEILING = f"balance BETWEEN -{AMOUNT_CEILING} AND {AMOUNT_CEILING}"
AMOUNT_WITHIN_CEILING = f"amount <= {AMOUNT_CEILING}"


def bytewise(length: int) -> String:
    """A key compared byte by byte: PostgreSQL's "C" collation (SQLite's default), much
    cheaper than a locale's for the million index lookups and insertions of a close."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class LedgerKind(enum.StrEnum):
    donor_wallet = "donor_wallet"
    donor_reserve = "donor_reserve"
    creator_pending = "creator_pending"
    creator_available = "creator_available"
    escrow_identity = "escrow_identity"
    escrow_peer = "escrow_peer"
    instance_fees = "instance_fees"
    peer_receivable = "peer_receivable"
    peer_payable = "peer_payable"
    payouts_in_flight = "payouts_in_flight"
    outside_world = "outside_world"
    provider_fees = "provider_fees"  # one per funding provider: the processing fees it kept
    instance_loss = "instance_loss"  # the instance: refunds and disputes of money already spent


class TransferKind(enum.StrEnum):
    """Why money moved: every transfer is one of these (`likewise ledger check` sums the
    close's kinds per period)."""

    funding = "funding"  # money came in from outside: a donor's wallet is funded
    close_reserve = "close_reserve"  # the close: a donor's budget leaves the wallet
    close_fee = "close_fee"  # the close: the instance's fee from the reserve
    close_share = "close_share"  # the close: one click's share, to its creator or escrow
    close_unspent = "close_unspent"  # the close: a budget given unspent (LIKEWISE_UNSPENT_TO)
    escrow_return = "escrow_return"  # expired escrow back to the donors' wallets
    escrow_claim = "escrow_claim"  # a claimed identity's escrow to its creator
    not_payable = "not_payable"  # a peer's creator it cannot pay: to identity escrow
    settlement_rejected = "settlement_rejected"  # lines a peer rejected: to identity escrow
    settlement_accepted = "settlement_accepted"  # a batch the peer accepted: now owed to it
    settlement_credit = "settlement_credit"  # a peer's batch credits our creators (pending)
    settlement_paid = "settlement_paid"  # a payment between peers, and funds it released
    settlement_netted = "settlement_netted"  # what both sides owed each other, netted
    payout = "payout"  # a creator's payout: held, rejected back, or paid out
    provider_fee = "provider_fee"  # a payment's processing fee, to the provider's fee account
    reversal = "reversal"  # a refund or dispute takes a payment back out of the wallet
    reversal_loss = "reversal_loss"  # the part of a reversal the wallet no longer held


class LedgerAccount(SQLModel, table=True):
    """One ledger account; `balance` is a cache of credits minus debits, checked by
    `likewise ledger check`. On PostgreSQL its pages are half filled (migration 0008), so
    the close's balance updates stay on the page and leave the indexes alone."""

    __tablename__ = "ledger_account"
    __table_args__ = (
        CheckConstraint(BALANCE_WITHIN_CEILING, name="ledger_account_balance_ceiling"),
        CheckConstraint(in_enum("kind", LedgerKind), name="ledger_account_kind_valid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(bytewise(300), unique=True, nullable=False))
    kind: LedgerKind = Field(sa_type=enum_type(LedgerKind, 32))
    currency: str = Field(max_length=3)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    identity_id: int | None = Field(default=None, foreign_key="identity.id")
    peer_domain: str = Field(default="", max_length=255)
    balance: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    created_at: datetime = Field(default_factory=utcnow)


class Transfer(SQLModel, table=True):
    """An immutable movement of `amount` from `debit_id` to `credit_id`. The two accounts
    have no per-row foreign keys: every posting updates both accounts' balances in the
    same transaction and fails if one is missing, and `likewise ledger check` reports any
    transfer whose account does not exist."""

    __table_args__ = (
        CheckConstraint("amount > 0", name="transfer_amount_positive"),
        CheckConstraint("debit_id <> credit_id", name="transfer_distinct_accounts"),
        CheckConstraint(AMOUNT_WITHIN_CEILING, name="transfer_amount_ceiling"),
        CheckConstraint(in_enum("kind", TransferKind), name="transfer_kind_valid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(sa_column=Column(bytewise(200), unique=True, nullable=False))
    debit_id: int = Field(index=True)
    credit_id: int = Field(index=True)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    kind: TransferKind = Field(sa_type=enum_type(TransferKind, 32))
    period: str = Field(default="", max_length=7)
    click_id: int | None = Field(default=None)
    reference: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
