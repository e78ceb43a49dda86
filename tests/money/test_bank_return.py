"""An unmatched bank credit the admin sent back to its payer through the bank: marked
returned on the bank page behind a ticked confirmation, once; it books nothing (it never
reached a wallet), leaves the unmatched list for the returned one, and a later statement
holding the entry again does not list it anew. Only an unmatched credit can be returned,
only by an admin. The books balance after each scenario."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select
from starlette.applications import Starlette

from server.context import context
from server.db.engine import Database, create_engine
from server.db.migrations import alembic_config, upgrade_async
from server.models import Account, Transfer
from server.models.money_in import BankCredit, BankCreditState
from server.settings import Settings
from tests.money.test_bank import BANK, statement
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.databases import DatabaseFactory
from tests.support.instances import LiveInstance
from tests.support.ledger import assert_books_balance, balance, wallet

PAGE = "/admin/money/bank"
TABLES = SQLModel.metadata.tables
CONFIG = '[bank]\nname = "Likewise Test e.V."\niban = "DE89370400440532013000"\n'


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(extra={**settings.extra, "bank": BANK})


async def _credits(db: Database) -> dict[str, BankCredit]:
    """The statement's credits by their payer's name."""
    async with db.session() as session:
        rows = await session.exec(select(BankCredit).order_by(col(BankCredit.id)))
        return {credit.debtor_name: credit for credit in rows.all()}


async def _transfers(db: Database) -> int:
    async with db.session() as session:
        return int((await session.exec(select(func.count()).select_from(Transfer))).one())


async def _imported(app: Starlette, client: httpx.AsyncClient) -> tuple[int, str]:
    """Ann and an admin logged in; day 1's statement confirmed: Ann's 50.00 booked, Bob
    Sample's 12.34 (his reference names no account) and Carol Nobody's 7.00 unmatched.
    Ann's id and the admin's CSRF token."""
    ann = await make_account(app, "ann")
    await make_account(app, "boss", admin=True)
    assert (await log_in(client, "boss")).status_code == 303
    token = csrf_from((await client.get(PAGE)).text)
    data = statement("camt053_day1.xml", {"ann": int(ann.id or 0), "bob": 999})
    files = {"statement": ("day1.xml", data, "application/xml")}
    sent = await client.post(f"{PAGE}/upload", data={"csrf_token": token}, files=files)
    assert sent.status_code == 303
    confirmed = await client.post(sent.headers["location"] + "/confirm", data={"csrf_token": token})
    assert confirmed.status_code == 303
    return int(ann.id or 0), token


async def test_the_admin_returns_an_unmatched_credit_once(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    # Given a confirmed statement with two unmatched credits
    db = context(app).db
    ann, token = await _imported(app, client)
    bob = (await _credits(db))["Bob Sample"]
    before = await _transfers(db)
    # When the admin marks Bob Sample's returned, having ticked the confirmation
    first = await client.post(
        f"{PAGE}/credits/{bob.id}/return", data={"csrf_token": token, "sent": "yes"}
    )
    # Then the page says so, and lists it as returned, by whom; Carol's still waits
    assert first.status_code == 303 and first.headers["location"] == PAGE
    shown = (await client.get(PAGE)).text
    assert f"Bank credit {bob.id} (12.34 EUR from Bob Sample) marked returned" in shown
    assert "nothing was booked" in shown
    assert shown.count('class="waiting-credit"') == 1 and "Carol Nobody" in shown
    assert "Returned credits" in shown and 'class="returned-credit"' in shown
    returned = shown.split("Returned credits", 1)[1]
    assert "12.34 EUR from Bob Sample" in returned and "by @boss" in returned
    # And a second submit, or the same POST resent, changes nothing and says so
    second = await client.post(
        f"{PAGE}/credits/{bob.id}/return", data={"csrf_token": token, "sent": "yes"}
    )
    assert second.status_code == 303
    again = (await client.get(PAGE)).text
    assert f"Credit {bob.id} was marked returned before; nothing changed." in again
    assert again.count('class="returned-credit"') == 1
    # And it is recorded with who and when; nothing was booked, the books balance
    credit = (await _credits(db))["Bob Sample"]
    assert credit.state == BankCreditState.returned and credit.transfer_id is None
    assert credit.returned_at is not None and credit.donor_id is None
    boss = await _account_id(db, "boss")
    assert credit.returned_by == boss
    assert await _transfers(db) == before
    assert await balance(db, settings, wallet(ann)) == 5000
    await assert_books_balance(db)


async def _account_id(db: Database, username: str) -> int:
    async with db.session() as session:
        found = await session.exec(select(Account.id).where(Account.username == username))
        return int(found.one() or 0)


async def test_a_returned_entry_is_not_listed_again_by_a_later_statement(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    db = context(app).db
    ann, token = await _imported(app, client)
    carol = (await _credits(db))["Carol Nobody"]
    sent = await client.post(
        f"{PAGE}/credits/{carol.id}/return", data={"csrf_token": token, "sent": "yes"}
    )
    assert sent.status_code == 303
    # When the same statement is imported again
    data = statement("camt053_day1.xml", {"ann": ann, "bob": 999})
    files = {"statement": ("again.xml", data, "application/xml")}
    upload = await client.post(f"{PAGE}/upload", data={"csrf_token": token}, files=files)
    confirm = await client.post(upload.headers["location"] + "/confirm", data={"csrf_token": token})
    assert confirm.status_code == 303
    # Then Carol's entry counts as imported: only Bob's still waits
    shown = (await client.get(PAGE)).text
    assert "0 unmatched to assign; 3 already imported" in shown
    waiting = shown.split("Unmatched credits", 1)[1].split("Returned credits", 1)[0]
    assert "Bob Sample" in waiting and "Carol Nobody" not in waiting
    await assert_books_balance(db)


async def test_without_the_confirmation_nothing_changes(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    db = context(app).db
    _, token = await _imported(app, client)
    bob = (await _credits(db))["Bob Sample"]
    for form in ({}, {"sent": "no"}):
        refused = await client.post(
            f"{PAGE}/credits/{bob.id}/return", data={"csrf_token": token, **form}
        )
        # Refused with a clear message next to the box, its form kept open
        assert refused.status_code == 422
        assert "I have sent this money back through the bank" in refused.text
        assert f'id="sent-{bob.id}-error"' in refused.text
        assert 'aria-invalid="true"' in refused.text
        assert '<details class="confirm" open>' in refused.text
        assert refused.text.count('class="waiting-credit"') == 2
    assert (await _credits(db))["Bob Sample"].state == BankCreditState.unmatched
    await assert_books_balance(db)


async def test_only_an_unmatched_credit_is_returned(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    db = context(app).db
    ann, token = await _imported(app, client)
    credits = await _credits(db)
    # Given Bob Sample's credit assigned to Ann (booked to her wallet)
    bob, booked = credits["Bob Sample"], credits["Ann Example"]
    assigned = await client.post(
        f"{PAGE}/credits/{bob.id}/assign", data={"csrf_token": token, "username": "ann"}
    )
    assert assigned.status_code == 303
    before = await _transfers(db)
    # When the admin tries to return it, or the credit booked by Ann's own reference
    for credit, state in ((bob, "assigned"), (booked, "booked")):
        for form in ({"sent": "yes"}, {}):
            refused = await client.post(
                f"{PAGE}/credits/{credit.id}/return", data={"csrf_token": token, **form}
            )
            # Then it is refused as it is: nothing changes
            assert refused.status_code == 409, refused.text
            assert f"bank credit {credit.id} is {state}, not unmatched" in refused.text
    after = await _credits(db)
    assert after["Bob Sample"].state == BankCreditState.assigned
    assert after["Ann Example"].state == BankCreditState.booked
    assert await _transfers(db) == before
    assert await balance(db, settings, wallet(ann)) == 5000 + 1234
    # And an unknown credit is not found
    missing = await client.post(
        f"{PAGE}/credits/99999/return", data={"csrf_token": token, "sent": "yes"}
    )
    assert missing.status_code == 404 and "no bank credit 99999" in missing.text
    await assert_books_balance(db)


async def test_a_returned_credit_cannot_be_assigned(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    db = context(app).db
    _, token = await _imported(app, client)
    bob = (await _credits(db))["Bob Sample"]
    sent = await client.post(
        f"{PAGE}/credits/{bob.id}/return", data={"csrf_token": token, "sent": "yes"}
    )
    assert sent.status_code == 303
    assigned = await client.post(
        f"{PAGE}/credits/{bob.id}/assign", data={"csrf_token": token, "username": "ann"}
    )
    assert assigned.status_code == 409 and "is returned, not waiting" in assigned.text
    assert (await _credits(db))["Bob Sample"].state == BankCreditState.returned
    await assert_books_balance(db)


async def test_only_an_admin_returns_a_credit(app: Starlette, client: httpx.AsyncClient) -> None:
    db = context(app).db
    _, token = await _imported(app, client)
    bob = (await _credits(db))["Bob Sample"]
    url = f"{PAGE}/credits/{bob.id}/return"
    # A form without the session's CSRF token is refused
    forged = await client.post(url, data={"csrf_token": "forged", "sent": "yes"})
    assert forged.status_code == 403
    # A donor who is no admin is refused
    await client.post("/logout", data={"csrf_token": token})
    client.cookies.clear()
    await make_account(app, "dora")
    assert (await log_in(client, "dora")).status_code == 303
    dora = csrf_from((await client.get("/money")).text)
    refused = await client.post(url, data={"csrf_token": dora, "sent": "yes"})
    assert refused.status_code == 403 and "for instance admins" in refused.text
    # Nobody logged in is not let through either
    client.cookies.clear()
    anonymous = await client.post(url, data={"sent": "yes"})
    assert anonymous.status_code in (401, 403)
    assert (await _credits(db))["Bob Sample"].state == BankCreditState.unmatched


def test_a_returned_credit_over_http_leaves_the_ledger_checked(
    instances: Callable[..., LiveInstance], tmp_path: Path
) -> None:
    """A real instance on loopback: the admin's forms over HTTP, then `likewise ledger check`."""
    instance = instances(autostart=False)
    instance.data_dir.mkdir(parents=True)
    (instance.data_dir / "config.toml").write_text(CONFIG)
    for name, extra in (("ann", ()), ("boss", ("--admin",))):
        instance.cli(
            "users", "create", name, "--email", f"{name}@example.org",
            "--password", "correct horse", *extra,
        )  # fmt: skip
    file = tmp_path / "day1.xml"
    file.write_bytes(statement("camt053_day1.xml", {"ann": 1, "bob": 999}))
    assert "2 unmatched" in instance.cli("bank", "import", str(file), "--yes").stdout
    instance.start()
    with httpx.Client(base_url=instance.base_url, timeout=30) as http:
        login = http.get("/login")
        form = {"login": "boss", "password": "correct horse", "csrf_token": csrf_from(login.text)}
        assert http.post("/login", data=form).status_code == 303
        page = http.get(PAGE)
        token = csrf_from(page.text)
        ids = [int(part.split("/", 1)[0]) for part in page.text.split(f"{PAGE}/credits/")[1:]][
            ::2
        ]  # each waiting credit has an assign form, then a return form
        assert len(ids) == 2
        for _ in range(2):  # a double submit
            sent = http.post(
                f"{PAGE}/credits/{ids[0]}/return", data={"csrf_token": token, "sent": "yes"}
            )
            assert sent.status_code == 303
        shown = http.get(PAGE).text
        assert "marked returned before; nothing changed" in shown
        assert shown.count('class="waiting-credit"') == 1
        assert shown.count('class="returned-credit"') == 1
    assert "ledger OK" in instance.cli("ledger", "check").stdout


async def test_migration_0035_keeps_a_returned_credit_down_and_up(
    databases: DatabaseFactory,
) -> None:
    """A returned row needs its date; a downgrade past 0035 keeps the row (the rule holds
    for new rows only), and the upgrade after it keeps it too, its date lost with the
    column."""
    url = databases.migrated()
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            when = datetime(2026, 12, 7, tzinfo=UTC)
            batch: dict[str, object] = {"file_name": "s.xml", "format": "camt.053"}
            batch["statement_id"] = "S1"
            batch |= {"iban": "", "state": "confirmed", "created_at": when, "confirmed_at": when}
            made = await connection.execute(sa.insert(TABLES["bank_import"]).values(**batch))
            row: dict[str, object] = {"entry_ref": "E1", "amount": 700}
            row["import_id"] = made.inserted_primary_key[0]  # type: ignore[index]
            row |= {"booked_on": "", "reference": "", "debtor_name": "Carol", "debtor_iban": ""}
            await connection.execute(
                sa.insert(TABLES["bank_credit"]),
                [row | {"state": "returned", "returned_at": when}],
            )
        with pytest.raises(IntegrityError):
            async with engine.begin() as connection:
                await connection.execute(sa.update(TABLES["bank_credit"]).values(returned_at=None))
    finally:
        await engine.dispose()
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0034")
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            found = await connection.execute(sa.text("SELECT state, debtor_name FROM bank_credit"))
            assert found.all() == [("returned", "Carol")]
    finally:
        await engine.dispose()


async def test_a_returned_credit_without_its_date_is_listed(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """A downgrade past 0035 and the upgrade after it leave a returned credit without its
    date (the migration's docstring): the bank page lists it, saying so, not a 500."""
    db = context(app).db
    _, token = await _imported(app, client)
    bob = (await _credits(db))["Bob Sample"]
    sent = {"csrf_token": token, "sent": "yes"}
    assert (await client.post(f"{PAGE}/credits/{bob.id}/return", data=sent)).status_code == 303
    # As the upgrade leaves such a row: its CHECK ignored (SQLite) or NOT VALID (PostgreSQL)
    table = TABLES["bank_credit"]
    undated = sa.update(table).where(table.c.id == bob.id)
    async with db.engine.begin() as connection:
        if db.is_sqlite:
            await connection.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
            await connection.execute(undated.values(returned_at=None))
            await connection.exec_driver_sql("PRAGMA ignore_check_constraints = OFF")
        else:
            rule = "state <> 'returned' OR returned_at IS NOT NULL"
            await connection.exec_driver_sql(
                "ALTER TABLE bank_credit DROP CONSTRAINT bank_credit_returned_at"
            )
            await connection.execute(undated.values(returned_at=None))
            await connection.exec_driver_sql(
                "ALTER TABLE bank_credit ADD CONSTRAINT bank_credit_returned_at "
                f"CHECK ({rule}) NOT VALID"
            )
    assert (await _credits(db))["Bob Sample"].returned_at is None
    page = await client.get(PAGE)
    assert page.status_code == 200
    returned = page.text.split("Returned credits", 1)[1]
    assert "12.34 EUR from Bob Sample" in returned
    assert "returned (date not recorded) by @boss" in returned
