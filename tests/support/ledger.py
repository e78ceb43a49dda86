"""Shared steps of the money tests: donors, likes, and a stable picture of the ledger."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import select as sa_select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.accounts.accounts import NewAccount, create_account
from server.db.engine import Database
from server.donations.budget import update_donor_settings
from server.donations.clicks import ClickOutcome, CreatorRef, ThingRef, record_click
from server.models import Account, LedgerAccount, LedgerKind, Transfer, TransferKind
from server.models.base import utcnow
from server.money.audit import check_ledger
from server.money.funding import Funding, credit_wallet
from server.money.ledger import Owner, TransferSpec, ledger_accounts, post_many
from server.settings import Settings

TransferRow = tuple[str, str, str, int, str, str, int | None]


async def donor(
    db: Database, settings: Settings, name: str, *, funds: int = 0, budget: int | None = None
) -> int:
    async with db.transaction() as session:
        account = await create_account(
            session, settings, NewAccount(name, f"{name}@example.org", "correct horse")
        )
        account_id = int(account.id or 0)
        if funds:
            await credit_wallet(session, settings, Funding(account_id, funds, f"seed-{name}"))
        if budget is not None:
            await update_donor_settings(session, settings, account_id, monthly_budget=budget)
    return account_id


def web_thing(uri: str, origin: str = "https://blog.example") -> ThingRef:
    return ThingRef(uri, CreatorRef("web", origin, profile_url=origin))


def fediverse_thing(uri: str, actor: str) -> ThingRef:
    return ThingRef(uri, CreatorRef("fediverse", actor))


async def like(
    db: Database, settings: Settings, donor_id: int, thing: ThingRef, **kwargs: object
) -> ClickOutcome:
    async with db.transaction() as session:
        return await record_click(
            session,
            settings,
            donor_account_id=donor_id,
            thing=thing,
            source="web",
            **kwargs,  # type: ignore[arg-type]
        )


async def transfers(db: Database) -> list[TransferRow]:
    """Every transfer, named by keys rather than row ids (ids differ between runs)."""
    transfer = Transfer.__table__  # type: ignore[attr-defined]
    accounts = LedgerAccount.__table__  # type: ignore[attr-defined]
    debit, credit = accounts.alias("debit"), accounts.alias("credit")
    query = (
        sa_select(
            transfer.c.idempotency_key,
            debit.c.key,
            credit.c.key,
            transfer.c.amount,
            transfer.c.kind,
            transfer.c.period,
            transfer.c.click_id,
        )
        .join_from(transfer, debit, debit.c.id == transfer.c.debit_id)
        .join(credit, credit.c.id == transfer.c.credit_id)
        .order_by(transfer.c.idempotency_key)
    )
    async with db.session() as session:
        result = await (await session.connection()).execute(query)
        return [tuple(row) for row in result.all()]


async def assert_books_balance(db: Database) -> None:
    async with db.session() as session:
        audit = await check_ledger(session)
    assert audit.ok, audit.problems


async def balance(db: Database, settings: Settings, owner: Owner) -> int:
    async with db.session() as session:
        accounts = await ledger_accounts(session, settings, [owner])
        await session.commit()
        return accounts[owner].balance


def wallet(account_id: int) -> Owner:
    return Owner(LedgerKind.donor_wallet, account_id=account_id)


def available(account_id: int) -> Owner:
    return Owner(LedgerKind.creator_available, account_id=account_id)


@dataclass(frozen=True)
class Scenario:
    donors: int
    creators: int
    clicks_per_donor: int
    seed: int = 1


async def seed_bulk(db: Database, settings: Settings, scenario: Scenario) -> None:
    """Many donors and clicks quickly, with Core inserts (no actors: donors only)."""
    rng = random.Random(scenario.seed)
    async with db.transaction() as session:
        connection = await session.connection()
        await connection.execute(
            Account.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "username": f"d{i}",
                    "email": f"d{i}@example.org",
                    "password_hash": "x",
                    "is_admin": False,
                    "display_name": "",
                    "summary": "",
                    "locked": False,
                    "discoverable": True,
                    "created_at": utcnow(),
                }
                for i in range(scenario.donors)
            ],
        )
        await _seed_clicks(session, settings, scenario, rng)


async def _seed_clicks(
    session: AsyncSession, settings: Settings, scenario: Scenario, rng: random.Random
) -> None:
    from server.models import Click, Identity, Thing

    connection = await session.connection()
    ids = [row[0] for row in (await connection.execute(sa_select(Account.id))).all()]  # type: ignore[call-overload]
    now = utcnow()
    await connection.execute(
        Identity.__table__.insert(),  # type: ignore[attr-defined]
        [
            {
                "network": "fediverse" if c % 3 == 0 else "web",
                "external_id": f"https://peer{c % 5}.example/users/c{c}"
                if c % 3 == 0
                else f"https://site{c}.example",
                "handle": "",
                "profile_url": "",
                "created_at": now,
            }
            for c in range(scenario.creators)
        ],
    )
    identities = [r[0] for r in (await connection.execute(sa_select(Identity.id))).all()]  # type: ignore[call-overload]
    await connection.execute(
        Thing.__table__.insert(),  # type: ignore[attr-defined]
        [
            {
                "uri": f"https://t.example/{i}",
                "kind": "external",
                "identity_id": i,
                "title": "",
                "created_at": now,
            }
            for i in identities
        ],
    )
    things = [r[0] for r in (await connection.execute(sa_select(Thing.id))).all()]  # type: ignore[call-overload]
    clicks = []
    for donor_id in ids:
        for thing in rng.sample(things, min(scenario.clicks_per_donor, len(things))):
            clicks.append(
                {
                    "donor_id": donor_id,
                    "thing_id": thing,
                    "period": "2026-10",
                    "source": "web",
                    "source_ref": None,
                    "created_at": now,
                }
            )
    await connection.execute(Click.__table__.insert(), clicks)  # type: ignore[attr-defined]
    accounts = await ledger_accounts(
        session, settings, [Owner(LedgerKind.outside_world), *(wallet(i) for i in ids)]
    )
    world = int(accounts[Owner(LedgerKind.outside_world)].id or 0)
    await post_many(
        session,
        [
            TransferSpec(
                f"fund:seed:{i}",
                world,
                int(accounts[wallet(i)].id or 0),
                rng.randint(1, 2000),
                TransferKind.funding,
            )
            for i in ids
        ],
    )
