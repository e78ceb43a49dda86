"""Identities, things and clicks read and written for many likes at once, a statement a
step, each sent to the driver in one round trip (round_trip.py): inserts that skip what
exists (ON CONFLICT DO NOTHING) and tell what they made (RETURNING), and lookups by key.
Identities and things, which any donor's page may share, go in key order, so that two
transactions inserting some of the same keys wait for each other in one order and never
deadlock; a donor's clicks go in the order given."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.bulk import db_time
from server.db.round_trip import Statement, run, statement

IdentityKey = tuple[str, str]  # (network, external id)


@dataclass(frozen=True)
class StoredIdentity:
    id: int
    network: str
    external_id: str
    handle: str
    profile_url: str
    claimed_account_id: int | None


@dataclass(frozen=True)
class NewIdentity:
    network: str
    external_id: str
    handle: str
    profile_url: str
    claimed_account_id: int | None  # a local actor's account: claimed at once
    now: datetime


@dataclass(frozen=True)
class NewThing:
    uri: str
    kind: str
    identity_id: int
    title: str
    now: datetime


@dataclass(frozen=True)
class StoredThing:
    """A thing's row, with what its creator's identity says about who made it."""

    id: int
    network: str
    external_id: str
    claimed_account_id: int | None


@dataclass(frozen=True)
class NewClick:
    donor_id: int
    thing_id: int
    period: str
    source: str
    source_ref: str
    at: datetime


async def donor_rows(session: AsyncSession, donor_id: int) -> list[Sequence[Any]]:
    """(suspended at, paused, own actor URI, a connected account's network, its external
    id) of the donor: a row per connected account, or one with the last two None, or none
    when there is no such account."""
    built = await statement(session)
    sql = (
        "SELECT account.suspended_at, donor_settings.paused, actor.uri, "
        "connected_account.network, connected_account.external_id FROM account "
        "LEFT JOIN donor_settings ON donor_settings.account_id = account.id "
        "LEFT JOIN actor ON actor.account_id = account.id "
        "LEFT JOIN connected_account ON connected_account.account_id = account.id "
        f"WHERE account.id = {built.mark(donor_id)}"
    )
    return await run(session, sql, built)


def _by_network(built: Statement, keys: Iterable[IdentityKey]) -> str:
    """(network = n AND external_id IN (…)) OR …: each term on the (network, external_id)
    index (SQLite scans the table for a row value IN a list)."""
    groups: dict[str, list[str]] = {}
    for network, external_id in keys:
        groups.setdefault(network, []).append(external_id)
    return " OR ".join(
        f"(network = {built.mark(network)} AND external_id IN ({built.marks(ids)}))"
        for network, ids in groups.items()
    )


async def identities_by_key(
    session: AsyncSession, keys: Sequence[IdentityKey]
) -> dict[IdentityKey, StoredIdentity]:
    if not keys:
        return {}
    built = await statement(session)
    sql = (
        "SELECT id, network, external_id, handle, profile_url, claimed_account_id "
        f"FROM identity WHERE {_by_network(built, keys)}"
    )
    rows = await run(session, sql, built)
    return {(row[1], row[2]): StoredIdentity(*row) for row in rows}


async def local_owners(session: AsyncSession, actor_uris: Sequence[str]) -> dict[str, int]:
    """The accounts of those of these actors that are ours, by actor URI."""
    if not actor_uris:
        return {}
    built = await statement(session)
    sql = (
        f"SELECT uri, account_id FROM actor WHERE uri IN ({built.marks(actor_uris)}) "
        "AND account_id IS NOT NULL"
    )
    return {uri: account for uri, account in await run(session, sql, built)}


async def insert_identities(session: AsyncSession, identities: Sequence[NewIdentity]) -> None:
    if not identities:
        return
    built = await statement(session)
    connection = built.connection
    rows = [
        (
            *(one.network, one.external_id, one.handle, one.profile_url),
            one.claimed_account_id,
            None if one.claimed_account_id is None else db_time(connection, one.now),
            *("", db_time(connection, one.now)),
        )
        for one in sorted(identities, key=lambda one: (one.network, one.external_id))
    ]
    sql = (
        "INSERT INTO identity (network, external_id, handle, profile_url, claimed_account_id, "
        f"claimed_at, claimed_by_actor_uri, created_at) VALUES {built.rows(rows)} "
        "ON CONFLICT DO NOTHING"
    )
    await run(session, sql, built)


async def fill_identities(session: AsyncSession, fills: Sequence[tuple[int, str, str]]) -> None:
    """(id, handle, profile URL): each one given where the identity has none yet."""
    if not fills:
        return
    built = await statement(session)
    values = built.rows(sorted(fills), ("bigint", "varchar", "varchar"))
    sql = (
        "UPDATE identity SET "
        "handle = CASE WHEN identity.handle = '' THEN v.column2 ELSE identity.handle END, "
        "profile_url = CASE WHEN identity.profile_url = '' THEN v.column3 "
        "ELSE identity.profile_url END "
        f"FROM (VALUES {values}) AS v WHERE identity.id = v.column1"
    )
    await run(session, sql, built)


async def insert_things(session: AsyncSession, things: Sequence[NewThing]) -> dict[str, int]:
    """The things made now (a URI already taken is skipped), their ids by URI."""
    if not things:
        return {}
    built = await statement(session)
    connection = built.connection
    rows = [
        (one.uri, one.kind, one.identity_id, one.title, db_time(connection, one.now))
        for one in sorted(things, key=lambda one: one.uri)
    ]
    sql = (
        f"INSERT INTO thing (uri, kind, identity_id, title, created_at) VALUES {built.rows(rows)} "
        "ON CONFLICT DO NOTHING RETURNING uri, id"
    )
    return {uri: thing_id for uri, thing_id in await run(session, sql, built)}


async def things_by_uri(session: AsyncSession, uris: Sequence[str]) -> dict[str, StoredThing]:
    if not uris:
        return {}
    built = await statement(session)
    sql = (
        "SELECT thing.uri, thing.id, identity.network, identity.external_id, "
        "identity.claimed_account_id FROM thing "
        "JOIN identity ON identity.id = thing.identity_id "
        f"WHERE thing.uri IN ({built.marks(uris)})"
    )
    return {row[0]: StoredThing(*row[1:]) for row in await run(session, sql, built)}


async def period_stage(session: AsyncSession, period: str) -> str | None:
    """The period's stage, its row locked shared until the transaction ends (SQLite's
    write lock, taken at BEGIN, covers it); None when it has no row yet."""
    built = await statement(session)
    lock = " FOR SHARE" if built.postgres else ""
    sql = f"SELECT stage FROM period WHERE id = {built.mark(period)}{lock}"
    rows = await run(session, sql, built)
    return str(rows[0][0]) if rows else None


async def insert_clicks(
    session: AsyncSession, clicks: Sequence[NewClick]
) -> dict[tuple[int, str], int]:
    """The clicks made now (one the donor has for the thing and period is skipped), their
    ids by (thing, period)."""
    if not clicks:
        return {}
    built = await statement(session)
    connection = built.connection
    rows = [
        (
            *(one.donor_id, one.thing_id, one.period, one.source, one.source_ref),
            db_time(connection, one.at),
        )
        for one in clicks
    ]
    sql = (
        "INSERT INTO click (donor_id, thing_id, period, source, source_ref, created_at) "
        f"VALUES {built.rows(rows)} ON CONFLICT DO NOTHING RETURNING thing_id, period, id"
    )
    made = await run(session, sql, built)
    return {(thing_id, period): click_id for thing_id, period, click_id in made}


async def donor_clicks(
    session: AsyncSession, donor_id: int, thing_ids: Sequence[int]
) -> dict[int, list[tuple[int, str]]]:
    """The donor's clicks on each of these things (one a period): (click id, period)."""
    if not thing_ids:
        return {}
    built = await statement(session)
    sql = (
        f"SELECT thing_id, id, period FROM click WHERE donor_id = {built.mark(donor_id)} "
        f"AND thing_id IN ({built.marks(thing_ids)})"
    )
    clicks: dict[int, list[tuple[int, str]]] = {}
    for thing_id, click_id, period in await run(session, sql, built):
        clicks.setdefault(thing_id, []).append((click_id, period))
    return clicks
