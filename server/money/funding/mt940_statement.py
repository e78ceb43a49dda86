"""SWIFT MT940 bank statements (the older format some banks still send) read into the same
credits as camt.053/054 (`camt.Statement`), with the `mt-940` package: `:25:` names the
account (an IBAN), `:60F:`/`:60M:` opens each statement, each `:61:` line is an entry (its
bank reference after `//` is the entry's unique reference, what books once) and the `:86:`
line after it carries the remittance (`SVWZ+`/`?20-?29` purpose, else the free text), the
debtor's name and IBAN where the bank gives them.

A file is refused whole, nothing booked, when it is not MT940, names no IBAN or two, has an
amount in another currency than the instance's, or an entry without its bank reference."""

from __future__ import annotations

import logging
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import mt940

from server.money.funding.camt import MAX_BYTES, Statement, StatementCredit, StatementRefused

IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
FORMAT = "mt940"
CREDIT, DEBIT = "C", "D"  # a leading R marks a reversal: not money in


def looks_like_mt940(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith((b":20:", b"{1:", b":940:")) or b"\n:20:" in head


def _text(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise StatementRefused(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    if b"\x00" in data:
        raise StatementRefused("the file is not an MT940 statement (it holds binary data)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # MT940's SWIFT character set is a subset of both


def _parsed(text: str) -> list[Any]:
    logger = logging.getLogger("mt940")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # the parser logs each line it cannot match
    try:
        options = mt940.Options(applicant_iban=True, strip_bom=True)  # ?31: the debtor's IBAN
        return list(mt940.parse_statements(text, options=options))
    except Exception as error:  # the parser raises RuntimeError, ValueError, KeyError…
        raise StatementRefused(f"the file is not a readable MT940 statement ({error})") from error
    finally:
        logger.setLevel(level)


def _minor(amount: Any, currency: str, scale: int, where: str) -> int:
    given = getattr(amount, "currency", "")
    if given != currency:
        raise StatementRefused(
            f"{where} is in {given or 'no currency'}; this instance books {currency} only, "
            "so nothing was imported"
        )
    try:
        value = abs(Decimal(amount.amount)) * (10**scale)
    except (InvalidOperation, TypeError, AttributeError) as error:
        raise StatementRefused(f"{where} has an amount that is not a number") from error
    if value != value.to_integral_value() or value <= 0:
        raise StatementRefused(f"{where} has an amount that is not positive in {currency}")
    return int(value)


def _iban(statement: Any) -> str:
    account = str(statement.data.get("account_identification") or "").replace(" ", "").upper()
    found = IBAN.search(account)
    return found.group() if found else ""


def _remittance(data: dict[str, Any]) -> str:
    parts = [data.get("purpose"), data.get("additional_purpose")]
    text = " ".join(str(p).strip() for p in parts if p)
    return (text or str(data.get("transaction_details") or "").replace("\n", " ").strip())[:140]


def _credit(data: dict[str, Any], currency: str, scale: int, where: str) -> StatementCredit:
    amount = _minor(data.get("amount"), currency, scale, where)
    ref = str(data.get("bank_reference") or "").strip()
    if not ref:
        raise StatementRefused(
            f"{where} has no bank reference (after // on its :61: line), so it could not be "
            "booked exactly once; nothing was imported"
        )
    day = data.get("entry_date") or data.get("date")
    booked_on = day.isoformat() if day is not None else ""
    name = str(data.get("applicant_name") or "")[:140]
    iban = str(data.get("applicant_iban") or data.get("gvc_applicant_iban") or "")[:34]
    return StatementCredit(ref[:140], amount, booked_on, _remittance(data), name, iban)


def read_mt940(data: bytes, currency: str, scale: int) -> Statement:
    """The credits of an MT940 file, all in `currency`; refused whole when any entry is
    malformed or in another currency."""
    text = _text(data)
    if not looks_like_mt940(data):
        raise StatementRefused("this is not an MT940 statement (it does not begin with :20:)")
    statements = [s for s in _parsed(text) if s.data.get("account_identification")]
    if not statements:
        raise StatementRefused("the file holds no MT940 statement with an account (:25:)")
    ibans = {_iban(statement) for statement in statements}
    if len(ibans) != 1 or "" in ibans:
        raise StatementRefused("the file must hold the statements of one account, named by IBAN")
    credits: list[StatementCredit] = []
    skipped = number = 0
    for statement in statements:
        opening = statement.data.get("final_opening_balance") or statement.data.get(
            "intermediate_opening_balance"
        )
        if opening is None:
            raise StatementRefused("a statement has no opening balance (:60F: or :60M:)")
        if opening.amount.currency != currency:
            raise StatementRefused(
                f"the account is in {opening.amount.currency}; this instance books {currency} "
                "only, so nothing was imported"
            )
        for transaction in statement:
            number += 1
            where = f"entry {number}"
            found = transaction.data
            if "amount" not in found or "status" not in found:
                raise StatementRefused(f"{where} is not a complete :61: line")
            if found["status"] != CREDIT:
                skipped += 1
                _minor(found["amount"], currency, scale, where)
                continue
            credits.append(_credit(found, currency, scale, where))
    unique = {credit.entry_ref: credit for credit in reversed(credits)}  # the first of repeats
    skipped += len(credits) - len(unique)
    ordered = [credit for credit in credits if unique.get(credit.entry_ref) is credit]
    statement_id = str(statements[0].data.get("transaction_reference") or "")[:140]
    return Statement(FORMAT, statement_id, ibans.pop(), ordered, skipped)
