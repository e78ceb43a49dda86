"""`likewise ledger check` from the command line, on books within the ceiling and on books
that went past it before it existed (a float balance, sums beyond 2^63): it reports them,
it never crashes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import text

from server.db.engine import Database
from tests.support.instances import LiveInstance

HUGE = 99_999_999_999_999_999  # 999,999,999,999,999.99 EUR in minor units


def _corrupt(url: str) -> None:
    """Books as the code before the ceiling left them after 93 credits of HUGE to ann (50
    on PostgreSQL, whose BIGINT holds no more); the schema's checks are set aside first, as
    they did not exist then."""

    async def run() -> None:
        db = Database(url)
        try:
            async with db.transaction() as session:
                connection = await session.connection()
                sqlite = connection.dialect.name == "sqlite"
                credits = 93 if sqlite else 50
                if sqlite:
                    await connection.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
                else:
                    await connection.exec_driver_sql(
                        "ALTER TABLE ledger_account DROP CONSTRAINT ledger_account_balance_ceiling"
                    )
                    await connection.exec_driver_sql(
                        "ALTER TABLE transfer DROP CONSTRAINT transfer_amount_ceiling"
                    )
                total = HUGE * credits
                for kind, value in (("outside_world", -total), ("donor_wallet", total)):
                    await connection.execute(
                        text("UPDATE ledger_account SET balance = :v WHERE kind = :kind"),
                        {"v": float(value) if sqlite else value, "kind": kind},
                    )
                ids = await connection.execute(
                    text(
                        "SELECT id FROM ledger_account WHERE kind IN ('outside_world',"
                        " 'donor_wallet') ORDER BY kind DESC"
                    )
                )
                world, wallet = (row[0] for row in ids.all())
                # Books of then: no record of who made each credit (wallet_credit) yet
                await connection.execute(text("DELETE FROM wallet_credit"))
                await connection.execute(text("DELETE FROM transfer"))
                for index in range(credits):
                    await connection.execute(
                        text(
                            "INSERT INTO transfer (idempotency_key, debit_id, credit_id, amount,"
                            " kind, period, reference, created_at) VALUES"
                            " (:k, :debit, :credit, :v, 'funding', '', '', '2026-01-01')"
                        ),
                        {"k": f"fund:{index}", "debit": world, "credit": wallet, "v": HUGE},
                    )
        finally:
            await db.dispose()

    asyncio.run(run())


def test_the_ledger_check_reports_books_past_the_ceiling_instead_of_crashing(
    instances: Callable[..., LiveInstance],
) -> None:
    instance = instances(autostart=False)
    instance.cli(
        "users", "create", "ann", "--email", "a@example.org", "--password", "correct horse"
    )
    # A credit past the ceiling is refused; the most one amount may be is booked
    refused = instance.cli("wallet", "credit", "ann", "999999999999999.99", check=False)
    assert refused.returncode == 1
    assert "an amount is at most 9999999999999.99 EUR" in refused.stderr
    instance.cli("wallet", "credit", "ann", "9999999999999.99", "--reference", "r1")
    again = instance.cli("wallet", "credit", "ann", "0.01", "--reference", "r2", check=False)
    assert again.returncode == 1 and "beyond 999999999999999 minor units" in again.stderr
    assert "ledger OK" in instance.cli("ledger", "check").stdout
    # When the books went past the ceiling before it existed
    _corrupt(instance.database_url)
    check = instance.cli("ledger", "check", check=False)
    # Then the check fails loudly, naming each account, with no traceback
    assert check.returncode == 1, check.stdout + check.stderr
    assert "Traceback" not in check.stderr, check.stderr
    assert "ledger check FAILED" in check.stdout
    output = " ".join(check.stdout.split())
    assert "donor_wallet:" in output and "outside_world:" in output
    assert "beyond the ceiling of ±999999999999999 minor units" in output
