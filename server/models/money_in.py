"""Money coming in: who credited a wallet and through which provider, the money forms
already used (a form books once), and bank statements imported with their credits."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from server.models.base import enum_type, in_enum, utcnow


class WalletCredit(SQLModel, table=True):
    """One credit of a donor's wallet (its `funding` transfer), by an admin or a provider."""

    __tablename__ = "wallet_credit"
    __table_args__ = (CheckConstraint("provider <> ''", name="wallet_credit_provider_named"),)

    id: int | None = Field(default=None, primary_key=True)
    transfer_id: int = Field(foreign_key="transfer.id", unique=True)
    donor_id: int = Field(foreign_key="account.id", index=True)
    admin_id: int | None = Field(default=None, foreign_key="account.id")  # None: a provider
    provider: str = Field(max_length=32)
    reference: str = Field(default="", max_length=200)  # the provider's payment id
    created_at: datetime = Field(default_factory=utcnow, index=True)


class MoneyForm(SQLModel, table=True):
    """A money form's key, made when the form was shown, stored by the action it caused: a
    reload or a second click of the same form finds it and does nothing."""

    __tablename__ = "money_form"

    key: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="account.id")
    action: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)


class BankImportState(enum.StrEnum):
    previewed = "previewed"  # read and shown; nothing booked
    confirmed = "confirmed"  # its matched credits booked, the rest listed for the admin
    cancelled = "cancelled"  # discarded before booking


class BankImport(SQLModel, table=True):
    """One bank statement file an admin imported."""

    __tablename__ = "bank_import"
    __table_args__ = (
        CheckConstraint(in_enum("state", BankImportState), name="bank_import_state_valid"),
        CheckConstraint(
            "state <> 'confirmed' OR confirmed_at IS NOT NULL", name="bank_import_confirmed_at"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    admin_id: int | None = Field(default=None, foreign_key="account.id")  # None: the CLI
    file_name: str = Field(default="", max_length=255)
    format: str = Field(max_length=16)  # camt.053, camt.054
    statement_id: str = Field(default="", max_length=140)
    iban: str = Field(default="", max_length=34)
    state: BankImportState = Field(
        default=BankImportState.previewed, sa_type=enum_type(BankImportState)
    )
    created_at: datetime = Field(default_factory=utcnow)
    confirmed_at: datetime | None = None


class BankCreditState(enum.StrEnum):
    previewed = "previewed"  # in a preview
    booked = "booked"  # its reference named a donor: credited
    unmatched = "unmatched"  # no donor found: waits for the admin
    assigned = "assigned"  # the admin named the donor: credited
    duplicate = "duplicate"  # the bank's entry was already booked or listed by an import
    dropped = "dropped"  # its preview was cancelled
    settlement = "settlement"  # a peer's payment to this instance: confirms its notice
    returned = "returned"  # unmatched, the admin sent it back to the payer through the bank


class BankCredit(SQLModel, table=True):
    """One credit entry of an imported statement; the bank's entry reference books once."""

    __tablename__ = "bank_credit"
    __table_args__ = (
        UniqueConstraint("import_id", "entry_ref", name="uq_bank_credit_import_entry"),
        CheckConstraint(in_enum("state", BankCreditState), name="bank_credit_state_valid"),
        CheckConstraint("amount > 0", name="bank_credit_amount_positive"),
        CheckConstraint(
            "(state = 'booked' OR state = 'assigned') = (transfer_id IS NOT NULL)",
            name="bank_credit_booked_transfer",
        ),
        CheckConstraint(
            "state <> 'settlement' OR payment_id IS NOT NULL",
            name="bank_credit_settlement_payment",
        ),
        CheckConstraint(
            "state <> 'returned' OR returned_at IS NOT NULL", name="bank_credit_returned_at"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    import_id: int = Field(foreign_key="bank_import.id", index=True)
    entry_ref: str = Field(max_length=140, index=True)  # AcctSvcrRef, else NtryRef
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    booked_on: str = Field(default="", max_length=10)
    reference: str = Field(default="", max_length=140)  # structured, else the free text
    debtor_name: str = Field(default="", max_length=140)
    debtor_iban: str = Field(default="", max_length=34)
    donor_id: int | None = Field(default=None, foreign_key="account.id")
    state: BankCreditState = Field(
        default=BankCreditState.previewed, sa_type=enum_type(BankCreditState)
    )
    transfer_id: int | None = Field(default=None, foreign_key="transfer.id")
    # The peer's payment notice its reference and amount name (settlement_payment).
    payment_id: int | None = Field(default=None, foreign_key="settlement_payment.id")
    # Who marked it returned (None: not through the page) and when; it never reached a wallet.
    returned_by: int | None = Field(default=None, foreign_key="account.id")
    returned_at: datetime | None = None
