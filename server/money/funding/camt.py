"""ISO 20022 bank statements (camt.053 end of day, camt.054 notifications) read into the
credits they hold. Parsed with the standard library's ElementTree after refusing any
DOCTYPE or entity declaration (what defusedxml guards against: entity expansion, external
entities), under a size limit; names are matched without their namespace, so every
version of the schemas reads alike."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from server.domain_errors import ValidationFailed

MAX_BYTES = 20 * 1024 * 1024
CONTAINERS = {
    "BkToCstmrStmt": ("Stmt", "camt.053"),
    "BkToCstmrDbtCdtNtfctn": ("Ntfctn", "camt.054"),
}


class StatementRefused(ValidationFailed):
    code = "statement_refused"


@dataclass(frozen=True)
class StatementCredit:
    entry_ref: str  # the bank's unique reference of the entry (AcctSvcrRef, else NtryRef)
    amount: int  # minor units
    booked_on: str  # YYYY-MM-DD
    reference: str  # the structured creditor reference, else the free text
    debtor_name: str
    debtor_iban: str


@dataclass(frozen=True)
class Statement:
    format: str  # camt.053 or camt.054
    statement_id: str
    iban: str
    credits: list[StatementCredit]
    skipped: int  # debits, pending or reversed entries: not money in


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(node: ET.Element, *path: str) -> ET.Element | None:
    for name in path:
        found = next((c for c in node if _local(c.tag) == name), None)
        if found is None:
            return None
        node = found
    return node


def _children(node: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in node if _local(c.tag) == name]


def _text(node: ET.Element | None, *path: str) -> str:
    found = _child(node, *path) if node is not None else None
    return (found.text or "").strip() if found is not None else ""


def _root(data: bytes) -> ET.Element:
    if len(data) > MAX_BYTES:
        raise StatementRefused(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    head = data.upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise StatementRefused("the file declares a DOCTYPE or entities; bank statements do not")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise StatementRefused(f"the file is not well-formed XML ({exc})") from exc


def _amount(node: ET.Element | None, currency: str, scale: int, where: str) -> int:
    if node is None or not (node.text or "").strip():
        raise StatementRefused(f"{where} has no amount")
    given = node.get("Ccy", "")
    if given != currency:
        raise StatementRefused(
            f"{where} is in {given or 'no currency'}; this instance books {currency} only, "
            "so nothing was imported"
        )
    try:
        value = Decimal((node.text or "").strip()) * (10**scale)
    except InvalidOperation as exc:
        raise StatementRefused(f"{where} has an amount that is not a number") from exc
    if value != value.to_integral_value() or value <= 0:
        raise StatementRefused(f"{where} has an amount that is not positive in {currency}")
    return int(value)


def _reference(details: ET.Element | None, entry: ET.Element) -> str:
    for node in (details, entry):
        if node is None:
            continue
        remittance = _child(node, "RmtInf")
        if remittance is None:
            continue
        for structured in _children(remittance, "Strd"):
            ref = _text(structured, "CdtrRefInf", "Ref")
            if ref:
                return ref
        free = " ".join(_text(u) for u in _children(remittance, "Ustrd"))
        if free.strip():
            return free.strip()[:140]
    return ""


def _debtor(details: ET.Element | None) -> tuple[str, str]:
    parties = _child(details, "RltdPties") if details is not None else None
    if parties is None:
        return "", ""
    name = _text(parties, "Dbtr", "Nm") or _text(parties, "Dbtr", "Pty", "Nm")
    return name[:140], _text(parties, "DbtrAcct", "Id", "IBAN")[:34]


def _booked(entry: ET.Element) -> bool:
    status = _text(entry, "Sts") or _text(entry, "Sts", "Cd")
    return status in ("", "BOOK") and _text(entry, "RvslInd").lower() != "true"


def _entry_credits(
    entry: ET.Element, number: int, currency: str, scale: int
) -> list[StatementCredit]:
    where = f"entry {number}"
    amount = _amount(_child(entry, "Amt"), currency, scale, where)
    ref = _text(entry, "AcctSvcrRef") or _text(entry, "NtryRef")
    if not ref:
        raise StatementRefused(f"{where} has neither AcctSvcrRef nor NtryRef to book it once by")
    booked_on = (_text(entry, "BookgDt", "Dt") or _text(entry, "BookgDt", "DtTm"))[:10]
    transactions = [
        tx for details in _children(entry, "NtryDtls") for tx in _children(details, "TxDtls")
    ]
    if len(transactions) <= 1:
        details = transactions[0] if transactions else None
        name, iban = _debtor(details)
        return [
            StatementCredit(ref[:140], amount, booked_on, _reference(details, entry), name, iban)
        ]
    credits = []  # a batch booking: one credit per transaction
    for index, tx in enumerate(transactions, start=1):
        tx_amount = _child(tx, "Amt")
        if tx_amount is None:
            tx_amount = _child(tx, "AmtDtls", "TxAmt", "Amt")
        tx_ref = _text(tx, "Refs", "AcctSvcrRef") or f"{ref}/{index}"
        name, iban = _debtor(tx)
        part = _amount(tx_amount, currency, scale, f"{where}, transaction {index}")
        credits.append(
            StatementCredit(tx_ref[:140], part, booked_on, _reference(tx, entry), name, iban)
        )
    if sum(c.amount for c in credits) != amount:
        raise StatementRefused(f"{where}: its transactions do not add up to its amount")
    return credits


def read_statement(data: bytes, currency: str, scale: int) -> Statement:
    """The credits of a camt.053 or camt.054 file, all in `currency`; refused whole when any
    entry is malformed or in another currency."""
    root = _root(data)
    container = next((c for c in root if _local(c.tag) in CONTAINERS), None)
    if _local(root.tag) != "Document" or container is None:
        raise StatementRefused("this is not an ISO 20022 camt.053 or camt.054 document")
    part, format_ = CONTAINERS[_local(container.tag)]
    reports = _children(container, part)
    if not reports:
        raise StatementRefused(f"the document holds no {part}")
    ibans = {_text(r, "Acct", "Id", "IBAN") for r in reports}
    if len(ibans) != 1 or "" in ibans:
        raise StatementRefused("the file must hold the statements of one account, named by IBAN")
    credits: list[StatementCredit] = []
    skipped = number = 0
    for report in reports:
        account_currency = _text(report, "Acct", "Ccy")
        if account_currency and account_currency != currency:
            raise StatementRefused(
                f"the account is in {account_currency}; this instance books {currency} only, "
                "so nothing was imported"
            )
        for entry in _children(report, "Ntry"):
            number += 1
            if _text(entry, "CdtDbtInd") != "CRDT" or not _booked(entry):
                skipped += 1
                _amount(_child(entry, "Amt"), currency, scale, f"entry {number}")
                continue
            credits.extend(_entry_credits(entry, number, currency, scale))
    unique = {credit.entry_ref: credit for credit in reversed(credits)}  # the first of repeats
    statement_id = _text(reports[0], "Id")[:140]
    skipped += len(credits) - len(unique)
    ordered = [credit for credit in credits if unique.get(credit.entry_ref) is credit]
    return Statement(format_, statement_id, ibans.pop(), ordered, skipped)
