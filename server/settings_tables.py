"""config.toml's tables of their own, read and checked: `[bridges.<network>]` (the key set
every network shares), `[bank]` (the account donors transfer to) and `[stripe]` (card
payments). Each reader refuses what it cannot use with a `TableError` saying which key and
why; `server.settings` turns it into a `ConfigError` and keeps the typed results on
`Settings` (`bridges`, `bank`, `stripe`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException


class TableError(ValueError):
    """A config.toml table holds something the instance cannot run with."""


# --- [bridges.<network>] ----------------------------------------------------------------------

BRIDGE_KEYS = (
    "client_id",
    "client_secret",
    "base_url",
    "directory_url",
    "jetstream_url",
    "monthly_requests",
    "daily_units",
)
# Keys that hold a whole number (a request budget) rather than a string.
BRIDGE_NUMBERS = ("monthly_requests", "daily_units")


def bridge_tables(tables: object) -> dict[str, dict[str, str]]:
    """client_id, client_secret, base_url (a network's API root; tests point it at a fake),
    directory_url (Bluesky's PLC), jetstream_url, and the budgets the network modules declare:
    monthly_requests (X polls only with one), daily_units (YouTube's quota a day, 10,000
    unless Google granted more); each value as text, "" when unset."""
    if not isinstance(tables, Mapping):
        return {}
    return {
        str(name): {key: str(table.get(key, "")) for key in BRIDGE_KEYS}
        for name, table in tables.items()
        if isinstance(table, Mapping)
    }


def check_bridges(tables: object) -> None:
    """`[bridges.<network>]` tables hold strings of the known keys only."""
    if tables is None:
        return
    if not isinstance(tables, Mapping):
        raise TableError("config.toml: [bridges] must hold one [bridges.<network>] table each")
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            raise TableError(f"config.toml: [bridges.{name}] must be a table")
        for key, value in table.items():
            if key not in BRIDGE_KEYS:
                known = ", ".join(BRIDGE_KEYS)
                raise TableError(f"config.toml: [bridges.{name}] {key} is unknown ({known})")
            if key in BRIDGE_NUMBERS:
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise TableError(
                        f"config.toml: [bridges.{name}] {key} must be a whole number, 0 or more"
                    )
            elif not isinstance(value, str):
                raise TableError(f"config.toml: [bridges.{name}] {key} must be a string")


# --- [bank] ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankAccount:
    name: str
    iban: str  # compact
    bic: str  # "" when not given

    @property
    def iban_formatted(self) -> str:
        return " ".join(self.iban[i : i + 4] for i in range(0, len(self.iban), 4))


BANK_KEYS = ("name", "iban", "bic")


def bank_account(table: Mapping[str, Any]) -> BankAccount:
    unknown = sorted(set(table) - set(BANK_KEYS))
    if unknown or not all(isinstance(table.get(key, ""), str) for key in BANK_KEYS):
        raise TableError("config.toml: [bank] holds name, iban and bic, as strings")
    name = " ".join(str(table.get("name", "")).split())
    if not name or len(name) > 70:
        raise TableError("config.toml: [bank] name is the account holder's (1-70 characters)")
    try:
        iban = str(IBAN(str(table["iban"])).compact)
        bic = str(BIC(str(table["bic"])).compact) if str(table.get("bic", "")).strip() else ""
    except SchwiftyException as exc:
        raise TableError(f"config.toml: [bank] {exc}") from exc
    return BankAccount(name, iban, bic)


# --- [stripe] ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StripeConfig:
    """Card (and other) payments through Stripe Checkout. The processing fee a donor pays
    on top of the amount is fee_fixed + fee_bps/10000 of the amount, rounded up to a whole
    minor unit; amounts are min_amount to max_amount minor units."""

    secret_key: str
    webhook_secret: str
    publishable_key: str
    payment_methods: tuple[str, ...]
    fee_bps: int  # fee_percent in basis points: "1.5" is 150
    fee_fixed: int  # minor units
    min_amount: int
    max_amount: int
    api_base: str  # Stripe's API root; tests point it at a fake
    top_up_days: int = 3  # automatic top-ups charge in the month's last this many days


STRIPE_KEYS = (
    "secret_key",
    "webhook_secret",
    "publishable_key",
    "payment_methods",
    "fee_percent",
    "fee_fixed",
    "min_amount",
    "max_amount",
    "api_base",
    "top_up_days",
)
STRIPE_METHOD = re.compile(r"[a-z][a-z0-9_]{1,40}")


def stripe_config(table: Mapping[str, Any]) -> StripeConfig:
    where = "config.toml: [stripe]"
    unknown = sorted(set(table) - set(STRIPE_KEYS))
    if unknown:
        raise TableError(f"{where} {unknown[0]} is unknown ({', '.join(STRIPE_KEYS)})")
    texts = {key: table.get(key, "") for key in ("secret_key", "webhook_secret", "publishable_key")}
    if not all(isinstance(value, str) for value in texts.values()):
        raise TableError(f"{where} secret_key, webhook_secret and publishable_key are strings")
    if not texts["webhook_secret"]:
        raise TableError(
            f"{where} needs webhook_secret (whsec_…): wallets are credited only from signed "
            "webhooks"
        )
    methods = table.get("payment_methods", ["card"])
    if (
        not isinstance(methods, list)
        or not methods
        or not all(isinstance(m, str) and STRIPE_METHOD.fullmatch(m) for m in methods)
    ):
        raise TableError(f'{where} payment_methods is a list such as ["card", "sepa_debit"]')
    percent = table.get("fee_percent", "0")
    try:
        bps = Decimal(str(percent)) * 100 if not isinstance(percent, bool) else Decimal("NaN")
    except InvalidOperation:
        bps = Decimal("NaN")
    if not bps.is_finite() or bps != bps.to_integral_value() or not 0 <= bps < 10_000:
        raise TableError(f'{where} fee_percent is a percentage from 0 to 99.99, such as "1.5"')
    numbers = {"fee_fixed": 0, "min_amount": 100, "max_amount": 100_000}
    for key, default in numbers.items():
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**12:
            raise TableError(f"{where} {key} is a whole number of minor units")
        numbers[key] = value
    if not 0 < numbers["min_amount"] <= numbers["max_amount"]:
        raise TableError(f"{where} needs 0 < min_amount <= max_amount")
    api_base = table.get("api_base", "https://api.stripe.com")
    if not isinstance(api_base, str) or not re.fullmatch(r"https?://[^/?#\s]+", api_base):
        raise TableError(f"{where} api_base is a URL without a path")
    days = table.get("top_up_days", 3)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 31:
        raise TableError(f"{where} top_up_days is a whole number of days from 1 to 31")
    return StripeConfig(
        secret_key=texts["secret_key"],
        webhook_secret=texts["webhook_secret"],
        publishable_key=texts["publishable_key"],
        payment_methods=tuple(dict.fromkeys(methods)),
        fee_bps=int(bps),
        fee_fixed=numbers["fee_fixed"],
        min_amount=numbers["min_amount"],
        max_amount=numbers["max_amount"],
        api_base=api_base,
        top_up_days=days,
    )
