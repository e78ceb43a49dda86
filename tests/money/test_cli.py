from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import text

from server.db.engine import Database
from tests.support.instances import LiveInstance

DEBTOR = (
    "--debtor-name",
    "Likewise e.V.",
    "--debtor-iban",
    "DE02120300000000202051",
    "--debtor-bic",
    "BYLADEM1001",
)


def _tamper(url: str) -> None:
    async def run() -> None:
        db = Database(url)
        try:
            async with db.transaction() as session:
                connection = await session.connection()
                await connection.execute(
                    text("UPDATE ledger_account SET balance = balance + 1 WHERE kind = :kind"),
                    {"kind": "donor_wallet"},
                )
        finally:
            await db.dispose()

    asyncio.run(run())


def test_wallet_credit_close_and_check_from_the_command_line(
    instances: Callable[..., LiveInstance],
) -> None:
    instance = instances(autostart=False)
    instance.cli(
        "users", "create", "ann", "--email", "a@example.org", "--password", "correct horse"
    )
    first = instance.cli("wallet", "credit", "ann", "10.00", "--reference", "r1")
    again = instance.cli("wallet", "credit", "ann", "10.00", "--reference", "r1")
    assert "credited 10.00 EUR to @ann; wallet: 10.00 EUR" in first.stdout
    assert "already credited" in again.stdout
    bad = instance.cli("wallet", "credit", "ann", "10.001", check=False)
    assert bad.returncode != 0 and "2 decimal places" in bad.stderr
    closed = instance.cli("period", "close", "--period", "2026-10")
    assert "period 2026-10: closed" in closed.stdout
    assert "ledger OK" in instance.cli("ledger", "check").stdout
    # When someone edits a cached balance behind the ledger's back
    _tamper(instance.database_url)
    check = instance.cli("ledger", "check", check=False)
    # Then the check fails loudly and says which account
    assert check.returncode == 1
    assert "FAILED" in check.stdout and "donor_wallet:" in check.stdout


def test_payouts_from_request_to_sepa_file_to_paid(
    instances: Callable[..., LiveInstance],
) -> None:
    instance = instances(autostart=False)
    instance.cli(
        "users", "create", "cat", "--email", "c@example.org", "--password", "correct horse"
    )

    async def request() -> None:
        from server.models import LedgerKind, TransferKind
        from server.money.ledger import Owner, TransferSpec, ledger_account_ids, post_transfer
        from server.money.payouts import PayoutRequest, request_payout
        from server.settings import Settings

        settings = Settings(data_dir=instance.data_dir, database_url=instance.database_url)
        db = Database(instance.database_url)
        try:
            async with db.transaction() as session:
                world, mine = (
                    Owner(LedgerKind.outside_world),
                    Owner(LedgerKind.creator_available, account_id=1),
                )
                ids = await ledger_account_ids(session, settings, [world, mine])
                await post_transfer(
                    session, TransferSpec("gift", ids[world], ids[mine], 4000, TransferKind.funding)
                )
                await request_payout(
                    session, settings, PayoutRequest(1, 2500, "DE89370400440532013000", "Cat Doe")
                )
        finally:
            await db.dispose()

    asyncio.run(request())
    instance.cli("payouts", "approve", "1")
    exported = instance.cli("payouts", "export", "--format", "sepa", *DEBTOR)
    assert exported.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "pain.001.001.03" in exported.stdout and "25.00" in exported.stdout
    assert "likewise payouts confirm 1" in exported.stderr
    none_left = instance.cli("payouts", "export", *DEBTOR, check=False)
    assert none_left.returncode != 0 and "no approved payouts" in none_left.stderr
    instance.cli("payouts", "confirm", "1")
    assert "paid" in instance.cli("payouts", "list").stdout
    assert "ledger OK" in instance.cli("ledger", "check").stdout
