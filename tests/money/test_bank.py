"""Bank statements into wallets: camt.053 files written from the schema's structure
(tests/data/bank/), previewed before booking, booked once per bank entry across overlapping
statements; a wrong currency or a malformed file books nothing. The books balance after
each scenario."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from server.db.engine import Database
from server.domain_errors import ValidationFailed
from server.donations import bank_admin
from server.money.funding.bank import bank_reference, donor_of_reference
from server.money.funding.camt import StatementRefused, read_statement
from server.settings import ConfigError, Settings, load_settings
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.instances import LiveInstance
from tests.support.ledger import assert_books_balance, balance, donor, wallet

DATA = Path(__file__).resolve().parents[1] / "data" / "bank"
BANK = {"name": "Likewise Test e.V.", "iban": "DE89 3704 0044 0532 0130 00", "bic": "COBADEFFXXX"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(extra={**settings.extra, "bank": BANK})


def statement(name: str, refs: dict[str, int]) -> bytes:
    text = (DATA / name).read_text()
    for who, account_id in refs.items():
        text = text.replace(f"{{ref:{who}}}", bank_reference(account_id))
    return text.encode()


async def _import(db: Database, settings: Settings, data: bytes) -> int:
    return await bank_admin.import_statement(
        db, settings, bank_admin.StatementFile("s.xml", data, None)
    )


def test_a_reference_carries_its_check_digits() -> None:
    ref = bank_reference(42)
    assert ref.startswith("RF") and donor_of_reference(ref) == 42
    assert donor_of_reference(ref.replace(" ", "").lower()) == 42
    assert donor_of_reference(f"thanks {ref}, Ann") == 42
    assert donor_of_reference("RF00 LW42") is None  # a typo fails the check digits
    assert donor_of_reference(ref.replace(" ", "") + "7") is None  # and names nobody else


def test_the_statement_is_read_as_credits() -> None:
    parsed = read_statement(statement("camt053_day1.xml", {"ann": 1, "bob": 2}), "EUR", 2)
    assert parsed.format == "camt.053" and parsed.iban == "DE89370400440532013000"
    assert [(c.entry_ref, c.amount) for c in parsed.credits] == [
        ("2026120100001", 5000),
        ("2026120100002", 1234),
        ("2026120100003", 700),
    ]
    assert parsed.skipped == 1  # the debit
    assert parsed.credits[0].debtor_iban == "NL91ABNA0417164300"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("camt053_usd.xml", "this instance books EUR only"),
        ("camt053_malformed.xml", "not well-formed"),
        ("camt053_entities.xml", "DOCTYPE"),
    ],
)
async def test_a_wrong_or_broken_file_books_nothing(
    db: Database, settings: Settings, name: str, says: str
) -> None:
    ann = await donor(db, settings, "ann")
    with pytest.raises(StatementRefused, match=says):
        await _import(db, settings, statement(name, {"ann": ann, "bob": ann}))
    assert await bank_admin.bank_page(db) == bank_admin.BankPage([], [])
    assert await balance(db, settings, wallet(ann)) == 0
    await assert_books_balance(db)


async def test_another_accounts_statement_is_refused(db: Database, settings: Settings) -> None:
    other = settings.replace(extra={"bank": {**BANK, "iban": "GB33BUKB20201555555555"}})
    with pytest.raises(ValidationFailed, match="not this instance's"):
        await _import(db, other, statement("camt053_day1.xml", {"ann": 1, "bob": 2}))


async def test_overlapping_statements_book_each_entry_once(
    db: Database, settings: Settings
) -> None:
    # Given two donors and two statements sharing Bob's entry
    ann, bob = await donor(db, settings, "ann"), await donor(db, settings, "bob")
    refs = {"ann": ann, "bob": bob}
    # When the first is previewed, nothing is booked yet
    first = await _import(db, settings, statement("camt053_day1.xml", refs))
    shown = await bank_admin.import_preview(db, first)
    assert [(line.donor, line.seen) for line in shown.lines] == [
        ("ann", False),
        ("bob", False),
        ("", False),
    ]
    assert await balance(db, settings, wallet(ann)) == 0
    # Then confirming books the matched two and lists the third
    done = await bank_admin.confirm_import(db, settings, first, None)
    assert (done.booked, done.amount, done.unmatched, done.duplicates) == (2, 6234, 1, 0)
    again = await bank_admin.confirm_import(db, settings, first, None)
    assert again.again and again.booked == 0
    # And the overlapping second books only its new entry
    second = await _import(db, settings, statement("camt053_day2.xml", refs))
    preview = await bank_admin.import_preview(db, second)
    assert [(line.donor, line.seen) for line in preview.lines] == [("bob", True), ("ann", False)]
    done = await bank_admin.confirm_import(db, settings, second, None)
    assert (done.booked, done.amount, done.duplicates) == (1, 2000, 1)
    assert await balance(db, settings, wallet(ann)) == 7000
    assert await balance(db, settings, wallet(bob)) == 1234
    # The same file twice: still once
    third = await _import(db, settings, statement("camt053_day1.xml", refs))
    done = await bank_admin.confirm_import(db, settings, third, None)
    assert (done.booked, done.unmatched, done.duplicates) == (0, 0, 3)
    page = await bank_admin.bank_page(db)
    assert [c.entry_ref for c in page.waiting] == ["2026120100003"]
    await assert_books_balance(db)


async def test_an_unmatched_credit_is_assigned_once(db: Database, settings: Settings) -> None:
    ann = await donor(db, settings, "ann")
    admin = await donor(db, settings, "boss")
    first = await _import(db, settings, statement("camt053_day1.xml", {"ann": ann, "bob": 999}))
    await bank_admin.confirm_import(db, settings, first, None)
    waiting = (await bank_admin.bank_page(db)).waiting
    assert [c.amount for c in waiting] == [1234, 700]  # bob's reference names no account
    done = await bank_admin.assign_credit(db, settings, int(waiting[1].id or 0), "@ann", admin)
    repeat = await bank_admin.assign_credit(db, settings, int(waiting[1].id or 0), "ann", admin)
    assert done.created and not repeat.created
    assert await balance(db, settings, wallet(ann)) == 5700
    await assert_books_balance(db)


async def test_a_cancelled_preview_books_nothing(db: Database, settings: Settings) -> None:
    ann = await donor(db, settings, "ann")
    first = await _import(db, settings, statement("camt053_day1.xml", {"ann": ann, "bob": ann}))
    await bank_admin.cancel_import(db, first)
    assert (await bank_admin.confirm_import_or_page(db, settings, first, ann)).error is not None
    assert await balance(db, settings, wallet(ann)) == 0
    await assert_books_balance(db)


async def test_the_donor_page_shows_the_account_and_reference(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    ann = await make_account(app, "ann")
    assert (await log_in(client, "ann")).status_code == 303
    page = (await client.get("/money")).text
    assert "DE89 3704 0044 0532 0130 00" in page and "COBADEFFXXX" in page
    assert bank_reference(int(ann.id or 0)) in page


async def test_the_admin_imports_through_the_pages(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    ann = await make_account(app, "ann")
    await make_account(app, "boss", admin=True)
    assert (await log_in(client, "boss")).status_code == 303
    page = await client.get("/admin/money/bank")
    token = csrf_from(page.text)
    data = statement("camt053_day1.xml", {"ann": int(ann.id or 0), "bob": 999})
    files = {"statement": ("day1.xml", data, "application/xml")}
    sent = await client.post("/admin/money/bank/upload", data={"csrf_token": token}, files=files)
    assert sent.status_code == 303
    preview = await client.get(sent.headers["location"])
    assert "@ann" in preview.text and "unmatched" in preview.text
    confirm = sent.headers["location"] + "/confirm"
    first = await client.post(confirm, data={"csrf_token": token})
    second = await client.post(confirm, data={"csrf_token": token})  # a double submit
    assert first.status_code == second.status_code == 303
    shown = await client.get("/admin/money/bank")
    assert "confirmed before; nothing more booked" in shown.text
    bad = {"statement": ("usd.xml", statement("camt053_usd.xml", {}), "application/xml")}
    refused = await client.post("/admin/money/bank/upload", data={"csrf_token": token}, files=bad)
    assert refused.status_code == 422 and "books EUR only" in refused.text
    assert await balance(context_db(app), settings, wallet(int(ann.id or 0))) == 5000
    await assert_books_balance(context_db(app))


def context_db(app: Starlette) -> Database:
    from server.context import context

    return context(app).db


def test_likewise_bank_import_previews_then_books_once(
    instances: Callable[..., LiveInstance], tmp_path: Path
) -> None:
    instance = instances(autostart=False)
    instance.data_dir.mkdir(parents=True)
    (instance.data_dir / "config.toml").write_text(
        '[bank]\nname = "Likewise Test e.V."\niban = "DE89370400440532013000"\n'
    )
    instance.cli("users", "create", "ann", "--email", "a@example.org", "--password", "pw-correct")
    listed = instance.cli("users", "list", "--json")
    ann = next(u["id"] for u in json.loads(listed.stdout) if u["username"] == "ann")
    file = tmp_path / "day1.xml"
    file.write_bytes(statement("camt053_day1.xml", {"ann": ann, "bob": 999}))
    # Answering no books nothing
    data = str(instance.data_dir)
    declined = subprocess.run(
        [sys.executable, "-m", "server.cli", "bank", "import", str(file), "--data", data],
        env=instance.environment(),
        input="n\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "@ann" in declined.stdout and "cancelled; nothing was booked" in declined.stdout
    booked = instance.cli("bank", "import", str(file), "--yes")
    assert "booked 1 credit(s), 50.00 EUR; 2 unmatched" in booked.stdout
    again = instance.cli("bank", "import", str(file), "--yes")
    assert "already imported" in again.stdout and "booked 0 credit(s)" in again.stdout
    # The two unmatched credits: Bob's (his reference names no account here) goes to ann,
    # Carol's (no reference) is sent back; each once, however often the command runs
    waiting = instance.cli("bank", "waiting").stdout
    assert "2 unmatched credit(s)" in waiting
    rows = [line.split() for line in waiting.splitlines() if "EUR" in line]
    bob = next(row[0] for row in rows if "Bob" in row)
    carol = next(row[0] for row in rows if "Carol" in row)
    assigned = instance.cli("bank", "assign", bob, "@ann").stdout
    assert f"credit {bob}: 12.34 EUR booked to @ann's wallet" in assigned
    assert "booked before; nothing booked now" in instance.cli("bank", "assign", bob, "ann").stdout
    unsure = instance.cli("bank", "return", carol, check=False)
    assert unsure.returncode != 0 and "--sent" in unsure.stderr
    assert "marked returned" in instance.cli("bank", "return", carol, "--sent").stdout
    assert "returned before" in instance.cli("bank", "return", carol, "--sent").stdout
    refused = instance.cli("bank", "assign", carol, "ann", check=False)
    assert refused.returncode != 0 and "returned, not waiting" in refused.stderr
    assert "0 unmatched credit(s)" in instance.cli("bank", "waiting").stdout
    usd = tmp_path / "usd.xml"
    usd.write_bytes(statement("camt053_usd.xml", {}))
    refused = instance.cli("bank", "import", str(usd), "--yes", check=False)
    assert refused.returncode != 0 and "books EUR only" in refused.stderr
    assert "ledger OK" in instance.cli("ledger", "check").stdout


def test_the_bank_account_in_config_is_checked(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[bank]\nname = "X"\niban = "DE00370400440532013000"\n')
    with pytest.raises(ConfigError, match=r"\[bank\]"):
        load_settings(tmp_path, environ={})
    (tmp_path / "config.toml").write_text(
        '[bank]\nname = "Likewise e.V."\n'
        'iban = "de89 3704 0044 0532 0130 00"\nbic = "cobadeffxxx"\n'
    )
    bank = load_settings(tmp_path, environ={}).bank
    assert bank is not None and (bank.iban, bank.bic) == ("DE89370400440532013000", "COBADEFFXXX")
