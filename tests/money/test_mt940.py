"""MT940 statements into wallets, as camt ones: files written after a German bank's MT940
(tests/data/bank/mt940_*.sta: `:61:` entries with their bank reference after `//`, `:86:`
with `?20-?29` purpose, `?31` IBAN and `?32` name), previewed before booking, booked once
per bank entry across overlapping statements (and across a camt and an MT940 file of the
same account); a wrong currency, a malformed file or an entry without its bank reference
books nothing."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from server.context import context
from server.db.engine import Database
from server.donations import bank_admin
from server.money.funding.camt import StatementRefused
from server.money.funding.statements import read_statement_file
from server.settings import Settings
from tests.money.test_bank import BANK, statement
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.ledger import assert_books_balance, balance, donor, wallet


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(extra={**settings.extra, "bank": BANK})


async def _import(db: Database, settings: Settings, name: str, data: bytes) -> int:
    return await bank_admin.import_statement(
        db, settings, bank_admin.StatementFile(name, data, None)
    )


def test_the_mt940_statement_is_read_as_credits() -> None:
    parsed = read_statement_file(statement("mt940_day1.sta", {"ann": 1, "bob": 2}), "EUR", 2)
    assert (parsed.format, parsed.statement_id) == ("mt940", "STMT-2026-12-01")
    assert parsed.iban == "DE89370400440532013000"
    assert [(c.entry_ref, c.amount, c.booked_on) for c in parsed.credits] == [
        ("MT-2026120100001", 5000, "2026-12-01"),
        ("MT-2026120100002", 1234, "2026-12-01"),
        ("MT-2026120100003", 700, "2026-12-01"),
    ]
    assert parsed.skipped == 1  # the account fee, a debit
    first = parsed.credits[0]
    assert (first.debtor_name, first.debtor_iban) == ("Ann Example", "NL91ABNA0417164300")
    assert first.reference.startswith("RF") and first.reference.endswith("Danke")


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("mt940_usd.sta", "this instance books EUR only"),
        ("mt940_malformed.sta", "not a readable MT940 statement"),
        ("mt940_no_reference.sta", "has no bank reference"),
    ],
)
async def test_a_wrong_or_broken_mt940_file_books_nothing(
    db: Database, settings: Settings, name: str, says: str
) -> None:
    ann = await donor(db, settings, "ann")
    with pytest.raises(StatementRefused, match=says):
        await _import(db, settings, name, statement(name, {"ann": ann, "bob": ann}))
    assert await bank_admin.bank_page(db) == bank_admin.BankPage([], [])
    assert await balance(db, settings, wallet(ann)) == 0
    await assert_books_balance(db)


@pytest.mark.parametrize(
    "data", [b":20:X\r\n:25:NOT AN ACCOUNT\r\n:60F:C261130EUR1,00\r\n", b":20:only\r\n"]
)
def test_an_mt940_file_without_its_account_is_refused(data: bytes) -> None:
    with pytest.raises(StatementRefused, match="account"):
        read_statement_file(data, "EUR", 2)


async def test_overlapping_mt940_statements_book_each_entry_once(
    db: Database, settings: Settings
) -> None:
    # Given two donors and two MT940 statements sharing Bob's entry
    ann, bob = await donor(db, settings, "ann"), await donor(db, settings, "bob")
    refs = {"ann": ann, "bob": bob}
    first = await _import(db, settings, "day1.sta", statement("mt940_day1.sta", refs))
    shown = await bank_admin.import_preview(db, first)
    assert [(line.donor, line.seen) for line in shown.lines] == [
        ("ann", False),
        ("bob", False),
        ("", False),
    ]
    assert await balance(db, settings, wallet(ann)) == 0  # a preview books nothing
    done = await bank_admin.confirm_import(db, settings, first, None)
    assert (done.booked, done.amount, done.unmatched, done.duplicates) == (2, 6234, 1, 0)
    # When the overlapping second is imported, only its new entry books
    second = await _import(db, settings, "day2.sta", statement("mt940_day2.sta", refs))
    preview = await bank_admin.import_preview(db, second)
    assert [(line.donor, line.seen) for line in preview.lines] == [("bob", True), ("ann", False)]
    done = await bank_admin.confirm_import(db, settings, second, None)
    assert (done.booked, done.amount, done.duplicates) == (1, 2000, 1)
    # And the first again: nothing more
    third = await _import(db, settings, "day1.sta", statement("mt940_day1.sta", refs))
    done = await bank_admin.confirm_import(db, settings, third, None)
    assert (done.booked, done.unmatched, done.duplicates) == (0, 0, 3)
    assert await balance(db, settings, wallet(ann)) == 7000
    assert await balance(db, settings, wallet(bob)) == 1234
    page = await bank_admin.bank_page(db)
    assert [c.entry_ref for c in page.waiting] == ["MT-2026120100003"]
    await assert_books_balance(db)


async def test_the_admin_uploads_an_mt940_file_on_the_bank_page(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    ann = await make_account(app, "ann")
    await make_account(app, "boss", admin=True)
    assert (await log_in(client, "boss")).status_code == 303
    token = csrf_from((await client.get("/admin/money/bank")).text)
    data = statement("mt940_day1.sta", {"ann": int(ann.id or 0), "bob": 999})
    files = {"statement": ("day1.sta", data, "application/octet-stream")}
    sent = await client.post("/admin/money/bank/upload", data={"csrf_token": token}, files=files)
    assert sent.status_code == 303
    preview = await client.get(sent.headers["location"])
    assert "@ann" in preview.text and "mt940" in preview.text.lower()
    confirmed = await client.post(sent.headers["location"] + "/confirm", data={"csrf_token": token})
    assert confirmed.status_code == 303
    bad = {"statement": ("bad.sta", statement("mt940_malformed.sta", {}), "text/plain")}
    refused = await client.post("/admin/money/bank/upload", data={"csrf_token": token}, files=bad)
    assert refused.status_code == 422 and "not a readable MT940 statement" in refused.text
    db = context(app).db
    assert await balance(db, settings, wallet(int(ann.id or 0))) == 5000
    await assert_books_balance(db)
