"""What a donor does with their connected accounts: connect one (start, then finish when the
network sends them back), pause, resume, disconnect; and what a creator does to claim an
identity there without connecting it for likes (an organisation on GitHub, a blog on
Tumblr: the network's sign-in, then `verify_claim`).

Connecting keeps what the network module asks us to keep until the donor comes back (a PKCE
verifier, a dynamically registered client's secret, a proof code) in a `connect_attempt`
row, sealed, found again by the hash of the OAuth `state` and only for the donor who
started it, used once, and void after `ATTEMPT_LIFETIME`. Nothing of it is in a cookie.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.claims import ClaimMethod
from bridges.base import Connection, ConnectKind, Credentials, Network
from bridges.errors import BridgeError
from server.connections.credentials import context_of, seal_credentials
from server.connections.networks import Networks
from server.connections.polling import POLL_JOB
from server.connections.secrets import SealError, seal_json, unseal_json
from server.db.engine import Database
from server.db.upsert import insert_ignoring_duplicates
from server.domain_errors import Conflict, NotFound, ValidationFailed
from server.donations.clicks import CreatorRef, ensure_identity
from server.escrow.announcements import announce_claims
from server.escrow.escrow import claim_identity
from server.jobs.queue import enqueue
from server.models import ConnectAttempt, ConnectedAccount, ConnectionState, Identity
from server.models.base import utcnow
from server.settings import Settings
from server.states import advance

ATTEMPT_LIFETIME = timedelta(minutes=30)
log = logging.getLogger("likewise.bridges")
HANDLE_LIMIT = 255


@dataclass(frozen=True)
class ConnectStep:
    """Where the donor goes next: the network's page, or ours with the proof to place."""

    redirect_to: str


@dataclass(frozen=True)
class Finished:
    """A connection finished: the handle there, and whether it was a claim only."""

    handle: str
    claim_only: bool = False


CONNECT, CLAIM = "connect", "claim"


def callback_path(network: str) -> str:
    return f"/settings/connections/{network}/callback"


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _attempt_context(account_id: int, network: str) -> str:
    return f"connect_attempt:{account_id}:{network}"


async def start_connect(
    db: Database,
    settings: Settings,
    networks: Networks,
    account_id: int,
    network_name: str,
    handle: str,
    purpose: str = CONNECT,
) -> ConnectStep:
    """Ask the network where to send the donor, and keep what it needs for the way back.
    `purpose` CLAIM: a creator claims the `handle` (a group the network lets them prove)."""
    network = networks.get(network_name)
    handle = handle.strip()
    if len(handle) > HANDLE_LIMIT:
        raise ValidationFailed("that handle is too long", field="handle")
    if purpose not in (CONNECT, CLAIM):
        raise ValidationFailed("connect an account or claim one", field="purpose")
    if purpose == CLAIM and not (network.group_claim and handle):
        what = network.group_claim or "identity"
        raise ValidationFailed(f"name the {network.label} {what} to claim", field="handle")
    state = secrets.token_urlsafe(32)
    redirect_uri = settings.base_url + callback_path(network_name)
    try:
        start = await network.start_connect(handle, redirect_uri, state)
    except BridgeError as error:
        raise ValidationFailed(f"{network.label}: {error}", field="handle") from error
    pending = {
        **start.pending,
        "_kind": start.kind.value,
        "_instructions": start.instructions,
        "_purpose": purpose,
    }
    sealed = seal_json(settings.secret_key, pending, _attempt_context(account_id, network_name))
    now = utcnow()
    async with db.transaction() as session:
        await session.exec(delete(ConnectAttempt).where(col(ConnectAttempt.expires_at) < now))
        session.add(
            ConnectAttempt(
                state_hash=_state_hash(state),
                account_id=account_id,
                network=network_name,
                handle=handle,
                pending=sealed,
                expires_at=now + ATTEMPT_LIFETIME,
            )
        )
    if start.kind == ConnectKind.handle_proof:
        return ConnectStep(f"/settings/connections/{network_name}/proof?state={state}")
    return ConnectStep(start.redirect_to)


@dataclass(frozen=True)
class Proof:
    network: str
    label: str
    handle: str
    state: str
    instructions: str


async def _attempt(
    db: Database, settings: Settings, account_id: int, network: str, state: str
) -> tuple[ConnectAttempt, dict[str, str]]:
    async with db.reading() as session:
        found = await session.exec(
            select(ConnectAttempt).where(
                ConnectAttempt.state_hash == _state_hash(state),
                ConnectAttempt.account_id == account_id,
                ConnectAttempt.network == network,
            )
        )
        attempt = found.first()
    if attempt is None or attempt.expires_at < utcnow():
        raise NotFound("this connection expired or is not yours: start it again")
    try:
        pending = unseal_json(
            settings.secret_key, attempt.pending, _attempt_context(account_id, network)
        )
    except SealError as error:
        raise NotFound("this connection cannot be finished: start it again") from error
    return attempt, {str(k): str(v) for k, v in pending.items()}


async def proof_page(
    db: Database, settings: Settings, networks: Networks, account_id: int, network: str, state: str
) -> Proof:
    """What the donor must place on the network to prove the account is theirs."""
    label = networks.get(network).label
    attempt, pending = await _attempt(db, settings, account_id, network, state)
    return Proof(network, label, attempt.handle, state, pending.get("_instructions", ""))


async def finish_connect(
    db: Database,
    settings: Settings,
    networks: Networks,
    account_id: int,
    network_name: str,
    callback: Mapping[str, str],
) -> Finished:
    """The donor is back: finish with the network, store the account, poll it at once (or,
    for a claim only, claim the identity the network proved)."""
    network = networks.get(network_name)
    attempt, pending = await _attempt(
        db, settings, account_id, network_name, callback.get("state", "")
    )
    purpose = pending.pop("_purpose", CONNECT)
    for key in ("_kind", "_instructions"):
        pending.pop(key, None)
    if purpose == CLAIM:
        return await _finish_claim(
            db, settings, account_id, network_name, network, attempt, pending, callback
        )
    redirect_uri = settings.base_url + callback_path(network_name)
    try:
        connection = await network.finish_connect(pending, callback, redirect_uri)
    except BridgeError as error:
        raise ValidationFailed(f"{network.label} did not connect: {error}") from error
    async with db.transaction() as session:
        await session.exec(delete(ConnectAttempt).where(col(ConnectAttempt.id) == attempt.id))
        await _store(session, settings, account_id, network_name, connection)
        await _claim(session, settings, account_id, network_name, network, connection)
    return Finished(connection.account.handle or connection.account.external_id)


async def _finish_claim(
    db: Database,
    settings: Settings,
    account_id: int,
    network_name: str,
    network: Network,
    attempt: ConnectAttempt,
    pending: Mapping[str, str],
    callback: Mapping[str, str],
) -> Finished:
    """A creator's claim: the network proves the group is theirs; nothing is polled."""
    try:
        creator = await network.verify_claim(pending, callback)
    except BridgeError as error:
        raise ValidationFailed(f"{network.label} did not prove it: {error}") from error
    if not creator.external_id or len(creator.external_id) > 2048:
        raise ValidationFailed(f"{network.label} named no usable identity")
    async with db.transaction() as session:
        await session.exec(delete(ConnectAttempt).where(col(ConnectAttempt.id) == attempt.id))
        claimed = await _claim(
            session, settings, account_id, network_name, network, Connection(creator, Credentials())
        )
    if not claimed:
        raise Conflict(
            f"{creator.handle or creator.external_id} is already claimed by someone else"
        )
    return Finished(creator.handle or creator.external_id, claim_only=True)


async def _claim(
    session: AsyncSession,
    settings: Settings,
    account_id: int,
    network_name: str,
    network: Network,
    connection: Connection,
) -> bool:
    """Connecting proved the account is the donor's (the network's sign-in named it, or the
    code was found in its profile): claim what supporters set aside for it here, and tell
    the peers, whose escrow for it then comes by settlement. An identity another account or
    a peer's creator holds stays theirs (the connection still counts the donor's likes).
    Returns whether the identity is the donor's now."""
    who = connection.account
    creator = CreatorRef(network_name, who.external_id, who.handle, who.profile_url)
    identity = await ensure_identity(session, creator)
    try:
        await claim_identity(session, settings, int(identity.id or 0), account_id, verified=True)
    except Conflict as error:
        log.info("connected %s %s stays unclaimed: %s", network_name, who.external_id, error)
        return False
    method = (
        ClaimMethod.PROOF_CODE
        if network.connect_kind == ConnectKind.handle_proof
        else ClaimMethod.OAUTH
    )
    claimed = [int(identity.id or 0)]
    for alias in who.aliases:  # the same creator as an export named them
        found = await session.exec(
            select(Identity.id).where(
                Identity.network == network_name,
                Identity.external_id == alias,
                col(Identity.claimed_account_id).is_(None),
            )
        )
        alias_id = found.first()
        if alias_id is None:
            continue
        try:
            await claim_identity(session, settings, int(alias_id), account_id, verified=True)
        except Conflict as error:
            log.info("alias %s %s stays unclaimed: %s", network_name, alias, error)
            continue
        claimed.append(int(alias_id))
    await announce_claims(session, settings, account_id, dict.fromkeys(claimed, method))
    return True


def _check_identity(connection: Connection) -> None:
    account = connection.account
    if not account.external_id or len(account.external_id) > 2048:
        raise ValidationFailed("the network named no usable account")
    if len(json.dumps(connection.credentials.extra)) > 16_000:
        raise ValidationFailed("the network's credentials are too large")


async def _store(
    session: AsyncSession,
    settings: Settings,
    account_id: int,
    network: str,
    connection: Connection,
) -> ConnectedAccount:
    """Create the account's row, or bring an earlier one (revoked, needing sign-in) back."""
    _check_identity(connection)
    who = connection.account
    now = utcnow()
    identity = {"account_id": account_id, "network": network, "external_id": who.external_id}
    await session.exec(
        insert_ignoring_duplicates(session, ConnectedAccount).values(
            **identity,
            handle="",
            profile_url="",
            credentials="",
            scopes="",
            cursor="",
            state=ConnectionState.active.value,
            enabled=True,
            last_error="",
            round_pages=0,
            failures=0,
            likes_counted=0,
            created_at=now,
            updated_at=now,
        )
    )
    query = select(ConnectedAccount).where(
        *(getattr(ConnectedAccount, key) == value for key, value in identity.items())
    )
    row = (await session.exec(query.with_for_update())).one()
    if row.state != ConnectionState.active:
        advance(row, ConnectionState.active)
    context = context_of(account_id, network, who.external_id)
    row.credentials = seal_credentials(settings.secret_key, connection.credentials, context)
    row.handle, row.profile_url = who.handle[:255], who.profile_url[:2048]
    row.scopes = " ".join(connection.credentials.scopes)[:500]
    row.enabled, row.last_error, row.failures = True, "", 0
    row.cursor, row.round_pages, row.round_started_at = "", 0, None
    row.next_poll_at, row.updated_at = now, now
    session.add(row)
    await session.flush()
    key = f"{POLL_JOB}:{row.id}:connected:{now.timestamp():.3f}"
    await enqueue(session, POLL_JOB, {"connection": row.id}, dedupe_key=key)
    return row


async def _own(session: AsyncSession, account_id: int, connection_id: int) -> ConnectedAccount:
    query = select(ConnectedAccount).where(
        ConnectedAccount.id == connection_id, ConnectedAccount.account_id == account_id
    )
    row = (await session.exec(query.with_for_update())).first()
    if row is None:
        raise NotFound("no such connected account")
    return row


async def pause(db: Database, account_id: int, connection_id: int) -> str:
    async with db.transaction() as session:
        row = await _own(session, account_id, connection_id)
        advance(row, ConnectionState.paused)
        row.enabled, row.next_poll_at, row.updated_at = False, None, utcnow()
        row.cursor, row.round_pages, row.round_started_at = "", 0, None
        session.add(row)
        return row.handle


async def resume(db: Database, account_id: int, connection_id: int) -> str:
    async with db.transaction() as session:
        row = await _own(session, account_id, connection_id)
        if row.state != ConnectionState.paused:
            raise ValidationFailed("only a paused account can be resumed")
        advance(row, ConnectionState.active)
        now = utcnow()
        row.enabled, row.next_poll_at, row.updated_at = True, now, now
        session.add(row)
        await session.flush()
        key = f"{POLL_JOB}:{row.id}:resumed:{now.timestamp():.3f}"
        await enqueue(session, POLL_JOB, {"connection": row.id}, dedupe_key=key)
        return row.handle


async def disconnect(db: Database, account_id: int, connection_id: int) -> str:
    """Forget the credentials; the likes already seen stay on the donor's page."""
    async with db.transaction() as session:
        row = await _own(session, account_id, connection_id)
        advance(row, ConnectionState.revoked)
        row.credentials, row.cursor, row.next_poll_at = "", "", None
        row.enabled, row.round_pages, row.round_started_at = False, 0, None
        row.last_error, row.updated_at = "", utcnow()
        session.add(row)
        return row.handle
