"""Migration 0013's CHECK constraints, on the database itself: a state column refuses a
value outside its enum, and a state refuses to be without the columns it implies. The
migrated schema has exactly the models' CHECK constraints."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import CheckConstraint, Connection, event, inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

import server.models  # noqa: F401  (fills SQLModel.metadata)
from server.db.engine import create_engine
from server.db.migrations import alembic_config, upgrade_async
from server.models import LedgerKind, TransferKind
from server.states import MACHINES
from tests.support.databases import DatabaseFactory

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ENUM_COLUMNS = {
    **{machine.table: machine.column for machine in MACHINES.values()},
    "ledger_account": "kind",
    "transfer": "kind",
}
# constraint -> (values it refuses, values it accepts), each set on the table's one row.
IMPLIED: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "job_running_leased": (
        {"state": "running", "locked_until": None},
        {"state": "running", "locked_until": NOW},
    ),
    "job_finished_at": (
        {"state": "failed", "finished_at": None},
        {"state": "failed", "finished_at": NOW},
    ),
    "inbox_item_processed_at": (
        {"state": "ignored", "processed_at": None},
        {"state": "ignored", "processed_at": NOW},
    ),
    "period_closing_at": (
        {"stage": "closing", "closing_at": None},
        {"stage": "closing", "closing_at": NOW},
    ),
    "period_closed_at": (
        {"stage": "closed", "closing_at": NOW, "closed_at": None},
        {"stage": "closed", "closing_at": NOW, "closed_at": NOW},
    ),
    "donor_period_closed_at": (
        {"stage": "done", "closed_at": None},
        {"stage": "done", "closed_at": NOW},
    ),
    "escrow_line_batch_unnamed": (
        {"state": "held", "settlement_id": 9},
        {"state": "offered", "settlement_id": 9},
    ),
    "escrow_line_resolved_at": (
        {"state": "returned", "resolved_at": None},
        {"state": "returned", "resolved_at": NOW},
    ),
    "payout_decided_at": (
        {"state": "rejected", "decided_at": None},
        {"state": "rejected", "decided_at": NOW},
    ),
    "payout_batch_named": (
        {"state": "in_flight", "decided_at": NOW, "batch_id": None},
        {"state": "in_flight", "decided_at": NOW, "batch_id": 3},
    ),
    "payout_paid_at": (
        {"state": "paid", "decided_at": NOW, "batch_id": 3, "paid_at": None},
        {"state": "paid", "decided_at": NOW, "batch_id": 3, "paid_at": NOW},
    ),
    "settlement_answered_at": (
        {"state": "refused", "answered_at": None},
        {"state": "refused", "answered_at": NOW},
    ),
    "settlement_payment_unnamed": (
        {"state": "accepted", "answered_at": NOW, "payment_id": 5},
        {"state": "paid", "answered_at": NOW, "payment_id": 5},
    ),
    "settlement_confirmed_at": (
        {"state": "confirmed", "answered_at": NOW, "payment_id": 5, "confirmed_at": None},
        {"state": "confirmed", "answered_at": NOW, "payment_id": 5, "confirmed_at": NOW},
    ),
    "bank_import_confirmed_at": (
        {"state": "confirmed", "confirmed_at": None},
        {"state": "confirmed", "confirmed_at": NOW},
    ),
    "bank_credit_booked_transfer": (
        {"state": "booked", "amount": 100, "transfer_id": None},
        {"state": "booked", "amount": 100, "transfer_id": 4},
    ),
    "bank_credit_settlement_payment": (
        {"state": "settlement", "amount": 100, "payment_id": None},
        {"state": "settlement", "amount": 100, "payment_id": 4},
    ),
    "bank_credit_returned_at": (
        {"state": "returned", "amount": 100, "returned_at": None},
        {"state": "returned", "amount": 100, "returned_at": NOW},
    ),
    "settlement_payment_answered_at": (
        {"state": "confirmed", "answered_at": None},
        {"state": "confirmed", "answered_at": NOW},
    ),
}
# Every other check this revision added keeps a column within its enum.
VALID = {f"{table}_{column}_valid": table for table, column in ENUM_COLUMNS.items()}


def _table(name: str) -> sa.Table:
    return SQLModel.metadata.tables[name]


def _new_checks() -> dict[str, str]:
    """Constraint name -> table, for the checks on state and kind columns."""
    found = {}
    for table in SQLModel.metadata.tables.values():
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint) and (
                str(constraint.name) in IMPLIED or str(constraint.name) in VALID
            ):
                found[str(constraint.name)] = table.name
    return found


def _row(table: sa.Table) -> dict[str, Any]:
    """A row every constraint accepts: the first state a row starts in, each NOT NULL
    column filled; foreign keys name nothing (the connection does not enforce them)."""
    row: dict[str, Any] = {}
    keys = list(table.primary_key.columns)
    serial = [c.name for c in keys if len(keys) == 1 and isinstance(c.type, sa.Integer)]
    for column in table.columns:
        if column.nullable or [column.name] == serial:
            continue
        kind = column.type
        if isinstance(kind, sa.Enum):
            machine = next((m for m in MACHINES.values() if m.states is kind.enum_class), None)
            members = list(kind.enum_class or ())
            row[column.name] = next(m for m in members if not machine or m in machine.initial)
        elif isinstance(kind, sa.Boolean):
            row[column.name] = False
        elif isinstance(kind, sa.Integer):
            row[column.name] = 1
        elif isinstance(getattr(kind, "impl", kind), sa.DateTime):
            row[column.name] = NOW
        else:
            row[column.name] = "2026-11" if column.name in ("id", "period") else "x"
    if table.name == "transfer":
        row["credit_id"] = 2  # from one account to another
    if table.name == "peer_claim":
        row["direction"] = "in"  # a plain string column with a CHECK of its own
    return row


async def _outcomes(url: str) -> dict[str, tuple[bool, bool]]:
    """Per constraint: whether the database refused its bad values, accepted its good."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def no_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # outside any transaction

    outcomes: dict[str, tuple[bool, bool]] = {}
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # Foreign keys are triggers, off for replicas; CHECKs still hold.
                await connection.exec_driver_sql("SET session_replication_role = replica")
            await connection.commit()
            checks = _new_checks()
            for table_name in sorted(set(checks.values())):
                table = _table(table_name)
                await connection.execute(sa.insert(table).values(**_row(table)))
                await connection.commit()
            for name, table_name in sorted(checks.items()):
                table = _table(table_name)
                if name in IMPLIED:
                    bad, good = IMPLIED[name]
                else:
                    bad, good = {ENUM_COLUMNS[table_name]: "bogus"}, {}
                outcomes[name] = (
                    await _refused(connection, table, bad),
                    not await _refused(connection, table, good),
                )
    finally:
        await engine.dispose()
    return outcomes


async def _refused(connection: Any, table: sa.Table, values: Mapping[str, Any]) -> bool:
    if not values:
        return False
    try:
        await connection.execute(sa.update(table).values(**values))
    except IntegrityError:
        await connection.rollback()
        return True
    await connection.rollback()
    return False


def test_every_state_check_is_exercised() -> None:
    assert set(_new_checks()) == set(IMPLIED) | set(VALID)


def test_the_database_refuses_a_state_out_of_its_enum_or_without_what_it_implies(
    databases: DatabaseFactory,
) -> None:
    outcomes = asyncio.run(_outcomes(databases.migrated()))
    assert outcomes == {name: (True, True) for name in _new_checks()}


def test_every_kind_of_its_enum_is_accepted(databases: DatabaseFactory) -> None:
    """The enum CHECKs name every value: each state (with what it implies) and each kind
    is written and read back as its enum member."""
    url = databases.migrated()

    async def run() -> list[tuple[str, object]]:
        engine = create_engine(url)
        found: list[tuple[str, object]] = []
        try:
            async with engine.begin() as connection:
                for name in ("ledger_account", "transfer"):
                    table = _table(name)
                    kinds = table.c.kind.type.enum_class  # type: ignore[attr-defined]
                    for n, kind in enumerate(kinds):
                        row = _row(table) | {"kind": kind}
                        row |= {"key" if name == "ledger_account" else "idempotency_key": str(n)}
                        await connection.execute(sa.insert(table).values(**row))
                    read = await connection.execute(sa.select(table.c.kind).order_by(table.c.id))
                    found += [(name, kind) for (kind,) in read.all()]
        finally:
            await engine.dispose()
        return found

    found = asyncio.run(run())
    expected = [
        (name, kind)
        for name in ("ledger_account", "transfer")
        for kind in _table(name).c.kind.type.enum_class  # type: ignore[attr-defined]
    ]
    assert found == expected
    assert all(type(kind) is not str for _, kind in found)  # members, not plain strings


def _checks(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    return {
        table: {str(check["name"]) for check in inspector.get_check_constraints(table)}
        for table in SQLModel.metadata.tables
    }


@pytest.mark.parametrize("source", ["migrations", "models"])
def test_migrations_and_models_have_the_same_checks(
    databases: DatabaseFactory, source: str
) -> None:
    """Alembic's comparison skips CHECK constraints: this compares their names."""
    expected = {
        table.name: {str(c.name) for c in table.constraints if isinstance(c, CheckConstraint)}
        for table in SQLModel.metadata.tables.values()
    }
    url = databases.migrated() if source == "migrations" else databases.empty()

    async def run() -> dict[str, set[str]]:
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                if source == "models":
                    await connection.run_sync(SQLModel.metadata.create_all)
                return await connection.run_sync(_checks)
        finally:
            await engine.dispose()

    assert asyncio.run(run()) == expected


# Rows as today's code writes them (every state, with the columns it implies), per table.
TODAY: dict[str, list[dict[str, Any]]] = {
    "job": [
        {"state": "queued"},
        {"state": "running", "locked_until": NOW},
        {"state": "done", "finished_at": NOW},
        {"state": "failed", "finished_at": NOW},
    ],
    "inbox_item": [
        {"state": "pending"},
        {"state": "done", "processed_at": NOW},
        {"state": "ignored", "processed_at": NOW},
        {"state": "failed", "processed_at": NOW},
    ],
    "follow": [{"state": state} for state in ("pending", "accepted", "rejected")],
    "period": [
        {"stage": "open"},
        {"stage": "closing", "closing_at": NOW},
        {"stage": "closed", "closing_at": NOW, "closed_at": NOW},
    ],
    "donor_period": [{"stage": "pending"}, {"stage": "done", "closed_at": NOW}],
    "ledger_account": [{"kind": kind.value} for kind in LedgerKind],
    "transfer": [{"kind": kind.value} for kind in TransferKind],
    "escrow_line": [
        {"state": "held"},
        {"state": "offered", "settlement_id": 1},
        {"state": "settled", "settlement_id": 1, "resolved_at": NOW},
        {"state": "claimed", "resolved_at": NOW},
        {"state": "returned", "resolved_at": NOW},
    ],
    "payout": [
        {"state": "requested"},
        {"state": "approved", "decided_at": NOW},
        {"state": "rejected", "decided_at": NOW},
        {"state": "in_flight", "decided_at": NOW, "batch_id": 1},
        {"state": "paid", "decided_at": NOW, "batch_id": 1, "paid_at": NOW},
    ],
    "creator_notice": [{"state": "sent"}, {"state": "gone"}],
    "peer": [{"state": state} for state in ("proposed", "active", "suspended", "ended")],
    "settlement": [
        {"state": "offered"},
        {"state": "accepted", "answered_at": NOW},
        {"state": "refused", "answered_at": NOW},
        {"state": "paid", "answered_at": NOW, "payment_id": 1},
        {"state": "confirmed", "answered_at": NOW, "payment_id": 1, "confirmed_at": NOW},
    ],
    "settlement_line": [{"state": state} for state in ("offered", "accepted", "rejected")],
    "settlement_payment": [
        {"state": "notified"},
        {"state": "confirmed", "answered_at": NOW},
        {"state": "refused", "answered_at": NOW},
    ],
}
# Rows an older version or a hand could have left, which a rule of 0013 refuses.
ASTRAY: dict[str, tuple[str, dict[str, Any]]] = {
    "job_finished_at": ("job", {"state": "done", "finished_at": None}),
    "payout_paid_at": ("payout", {"state": "paid", "decided_at": NOW, "batch_id": 1}),
}


def _numbered(table: sa.Table, index: int, values: Mapping[str, Any]) -> dict[str, Any]:
    """A row distinct from the table's others in every column that may be unique."""
    row = _row(table)
    for name, value in row.items():
        column = table.c[name]
        if isinstance(column.type, sa.Enum):
            continue
        if isinstance(value, str):
            row[name] = f"x{index}"
        elif isinstance(value, int) and not isinstance(value, bool):
            row[name] = index + 1 if name != "credit_id" else index + 2
    return row | dict(values)


def _without_foreign_keys(url: str) -> Any:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def no_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA foreign_keys=OFF")

    return engine


async def _seed(url: str) -> None:
    engine = _without_foreign_keys(url)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for name, rows in TODAY.items():
                table = _table(name)
                extra = [values for table_name, values in ASTRAY.values() if table_name == name]
                for i, values in enumerate(rows + extra):  # one by one: each its own columns
                    await connection.execute(sa.insert(table).values(**_numbered(table, i, values)))
    finally:
        await engine.dispose()


async def _after(url: str) -> tuple[dict[str, list[str]], dict[str, int], dict[str, bool]]:
    """Each table's states (or kinds) in id order; per check, the rows breaking it; on
    PostgreSQL, per check, whether it is validated."""
    engine = _without_foreign_keys(url)
    states: dict[str, list[str]] = {}
    breaking: dict[str, int] = {}
    validated: dict[str, bool] = {}
    try:
        async with engine.begin() as connection:
            for name in TODAY:
                table = _table(name)
                column = table.c[ENUM_COLUMNS[name]]
                order = [c for c in table.primary_key.columns]
                read = await connection.execute(sa.select(column).order_by(*order))
                states[name] = [str(value) for (value,) in read.all()]
            for check_name, table_name in _new_checks().items():
                table = _table(table_name)
                check = next(c for c in table.constraints if c.name == check_name)
                condition = str(check.sqltext)  # type: ignore[attr-defined]
                count = await connection.exec_driver_sql(
                    f"SELECT count(*) FROM {table_name} WHERE NOT ({condition})"
                )
                breaking[check_name] = int(count.scalar_one())
            if connection.dialect.name == "postgresql":
                rows = await connection.exec_driver_sql(
                    "SELECT conname, convalidated FROM pg_constraint WHERE contype = 'c'"
                )
                validated = {str(n): bool(v) for n, v in rows.all() if n in _new_checks()}
    finally:
        await engine.dispose()
    return states, breaking, validated


async def _refuses_astray_rows(url: str) -> list[bool]:
    engine = _without_foreign_keys(url)
    refused = []
    try:
        for index, (table_name, values) in enumerate(ASTRAY.values()):
            table = _table(table_name)
            try:
                async with engine.begin() as connection:
                    if connection.dialect.name == "postgresql":
                        await connection.exec_driver_sql(
                            "SET LOCAL session_replication_role = replica"
                        )
                    await connection.execute(
                        sa.insert(table).values(**_numbered(table, 100 + index, values))
                    )
            except IntegrityError:
                refused.append(True)
            else:
                refused.append(False)
    finally:
        await engine.dispose()
    return refused


async def test_the_upgrade_keeps_todays_rows_and_checks_every_new_one(
    databases: DatabaseFactory,
) -> None:
    # Given a database at 0012 holding rows in every state, and two rows a rule refuses
    url = databases.empty()
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0012")
    await _seed(url)
    # When it is upgraded
    await upgrade_async(url)
    # Then every row is still there as it was
    states, breaking, validated = await _after(url)
    assert states == {
        name: [str(values[ENUM_COLUMNS[name]]) for values in rows]
        + [str(values[ENUM_COLUMNS[name]]) for t, values in ASTRAY.values() if t == name]
        for name, rows in TODAY.items()
    }
    # And only the astray rows break a rule
    assert breaking == {name: int(name in ASTRAY) for name in _new_checks()}
    if validated:  # PostgreSQL: the rules those rows break hold for new rows only
        assert validated == {name: name not in ASTRAY for name in _new_checks()}
    # And a new row like them is refused
    assert await _refuses_astray_rows(url) == [True] * len(ASTRAY)
    # And a downgrade drops the rules, an upgrade adds them again
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0012")
    assert await _refuses_astray_rows(url) == [False] * len(ASTRAY)
    await upgrade_async(url)
    assert (await _after(url))[1] == {name: 2 * (name in ASTRAY) for name in _new_checks()}


def test_migration_0013_writes_the_models_conditions() -> None:
    """The same SQL, so a database migrated and one made from the models check alike."""
    path = next(Path(__file__).resolve().parents[2].glob("alembic/versions/*-0013_*.py"))
    spec = importlib.util.spec_from_file_location("migration_0013", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    written = {name: (table, condition) for table, name, condition in migration.CHECKS}
    tables = {table for table, _, _ in migration.CHECKS}  # later tables write their own
    # A later revision that adds kinds writes the kind checks anew (KIND_CHECKS).
    for later in sorted(path.parent.glob("*.py")):
        number = later.name.split("-", 1)[-1][:4]
        if not number.isdigit() or int(number) <= 13:
            continue
        spec = importlib.util.spec_from_file_location(f"migration_{number}", later)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for table, name, condition in getattr(module, "KIND_CHECKS", ()):
            written[name] = (table, condition)
    models = {
        str(check.name): (table.name, str(check.sqltext))
        for table in SQLModel.metadata.tables.values()
        for check in table.constraints
        if isinstance(check, CheckConstraint)
        and str(check.name) in _new_checks()
        and table.name in tables
    }
    assert written == models
