"""Claims a local account makes beyond one identity's Claim button: a fediverse account
elsewhere, proved by links both ways (its profile field links to the account's profile
here; that profile links back with rel="me"), and at sign-up whatever this instance can
verify itself. Money moves through `escrow.claim_identity`.

Network work happens before the transaction that claims (SQLite holds its write lock
from BEGIN)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.builders import Json, build_update
from activitypub.errors import ActivityPubError, InvalidHandle
from activitypub.jsonld import PUBLIC_COLLECTION
from activitypub.profile_fields import profile_links
from activitypub.vocab import ActorDocument
from activitypub.webfinger import parse_acct
from server.db.engine import Database
from server.domain_errors import (
    Conflict,
    Forbidden,
    NotFound,
    ServiceError,
    ValidationFailed,
)
from server.donations.clicks import CreatorRef, ensure_identity
from server.donations.likes import canonical_url
from server.escrow.announcements import announce_claims
from server.escrow.escrow import LOCAL_NETWORK, WEB_NETWORK, Claim, claim_identity, claimable_by
from server.federation.delivery import deliver, follower_inboxes
from server.federation.origins import own_url
from server.federation.remote import NotAnActor, RemoteActors, RemoteError, domain_of
from server.models import (
    Account,
    Actor,
    Identity,
    LedgerAccount,
    LedgerKind,
    Transfer,
    TransferKind,
)
from server.money.ledger import Owner
from server.render.activitypub import render_person
from server.settings import Settings
from server.social.notes import local_actor

FIELD = "actor"


class LinkMissing(Forbidden):
    code = "link_missing"


@dataclass(frozen=True)
class Received:
    """Escrow claimed into an account: for whom it was set aside, how much, when."""

    label: str
    amount: int
    at: datetime


async def claim_fediverse_account(
    db: Database, settings: Settings, remote: RemoteActors, account_id: int, named: str
) -> Claim:
    """Claim the fediverse account `named` (`@user@host` or its actor or profile URL) for
    a local account, once its profile has a field linking to the account's profile here.
    The identity is created if new; what is held for it moves to the account."""
    async with db.session() as session:
        own = await local_actor(session, account_id)
    uri = await _actor_uri(settings, remote, own, named.strip())
    document = await _fetch(remote, uri)
    _refuse_local(settings, own, document.id)
    async with db.session() as session:
        found = await session.exec(
            select(Identity.claimed_account_id).where(
                Identity.network == LOCAL_NETWORK, Identity.external_id == document.id
            )
        )
        owner = found.first()
    if owner is not None and owner != account_id:
        raise Conflict(f"{_label(document)} is already claimed by another account", field=FIELD)
    _check_link_back(settings, own, document)
    profile = own_url(document.url, document.id)  # our rel=me link: never a page elsewhere
    async with db.transaction() as session:
        creator = CreatorRef(LOCAL_NETWORK, document.id, _label(document), profile)
        identity = await ensure_identity(session, creator)
        claim = await claim_identity(
            session, settings, int(identity.id or 0), account_id, verified=True
        )
        claim.identity.handle, claim.identity.profile_url = _label(document), profile[:2048]
        session.add(claim.identity)
        if not claim.already_claimed:
            # The followers' servers and the claimed account's own see the new field at
            # once; the latter can verify it (its account's profile links back here).
            await announce_profile(
                session, settings, account_id, also=[document.shared_inbox or document.inbox]
            )
        # Peers holding money for the account send it here (a repeat is not sent again).
        await announce_claims(session, settings, account_id)
    return claim


async def announce_profile(
    session: AsyncSession, settings: Settings, account_id: int, also: Sequence[str] = ()
) -> int:
    """Queue an Update of the account's actor, as its actor document reads now, for its
    followers' inboxes and `also`; returns the number of inboxes."""
    account = await session.get_one(Account, account_id)
    actor = await local_actor(session, account_id)
    person = await person_document(session, settings, account, actor)
    context = person.pop("@context")  # the Person's terms (PropertyValue, publicKey, …)
    activity = build_update(
        f"{actor.uri}#updates/{uuid.uuid4()}", actor.uri, person, to=[PUBLIC_COLLECTION]
    )
    activity["@context"] = context
    inboxes = [*await follower_inboxes(session, actor), *also]
    return await deliver(session, actor, activity, inboxes)


async def person_document(
    session: AsyncSession, settings: Settings, account: Account, actor: Actor
) -> Json:
    """The account's actor document as it reads now, with the accounts it has claimed as
    profile fields: what `/users/{username}` serves and what an Update carries."""
    linked = await linked_accounts(session, settings, int(account.id or 0))
    return render_person(settings, actor, account, linked)


async def claim_own_identities(
    session: AsyncSession, settings: Settings, account_id: int
) -> list[Claim]:
    """Claim every identity this instance verifies itself as the account's (its actor; its
    profile page or actor liked as web pages) that nobody has claimed; run after an
    account is created, so money liked before sign-up arrives without a click."""
    ids = await session.exec(
        select(Identity.id)
        .where(claimable_by(account_id), col(Identity.claimed_account_id).is_(None))
        .order_by(col(Identity.id))
    )
    claims = [
        await claim_identity(session, settings, int(identity_id or 0), account_id)
        for identity_id in ids.all()
    ]
    if claims:
        await announce_claims(session, settings, account_id)
    return claims


async def linked_accounts(
    session: AsyncSession, settings: Settings, account_id: int
) -> list[Identity]:
    """The accounts elsewhere this account has claimed: fediverse accounts on other
    instances (its profile page links to each with rel="me", which makes the proof hold
    both ways), then identities on other networks (Bluesky, …) a bridge verified."""
    rows = await session.exec(
        select(Identity)
        .where(Identity.claimed_account_id == account_id, Identity.network != WEB_NETWORK)
        .order_by(col(Identity.network) != LOCAL_NETWORK, col(Identity.id))
    )
    own = settings.domain.lower()
    return [
        row
        for row in rows.all()
        if row.network != LOCAL_NETWORK or domain_of(row.external_id) != own
    ]


async def claims_received(
    session: AsyncSession, settings: Settings, account_id: int
) -> list[Received]:
    """Escrow moved into the account's available balance, per identity, newest first."""
    key = Owner(LedgerKind.creator_available, account_id=account_id).key
    rows = await session.exec(
        select(Transfer.reference, func.sum(Transfer.amount), func.max(Transfer.created_at))
        .join(LedgerAccount, col(LedgerAccount.id) == col(Transfer.credit_id))
        .where(LedgerAccount.key == key, Transfer.kind == TransferKind.escrow_claim)
        .group_by(col(Transfer.reference))
        .order_by(func.max(Transfer.created_at).desc())
    )
    received = []
    for reference, amount, at in rows.all():
        identity = None
        if (
            reference.startswith("identity:")
            and reference[9:].isascii()
            and reference[9:].isdigit()
        ):
            identity = await session.get(Identity, int(reference[9:]))
        label = (identity.handle or identity.external_id) if identity else "earlier claims"
        received.append(Received(label, int(amount), at))
    return received


def _same_url(a: str, b: str) -> bool:
    """As Mastodon compares a rel=me link with a profile: ignoring case (and here also a
    trailing slash)."""
    return a.lower().removesuffix("/") == b.lower().removesuffix("/")


def _refuse_local(settings: Settings, own: Actor, uri: str) -> None:
    if domain_of(uri) == settings.domain.lower():
        raise _local_error(_same_url(uri, own.uri) or _same_url(uri, own.url))


def _local_error(is_own: bool) -> ServiceError:
    if is_own:
        return ValidationFailed(
            "that is your own account here: what supporters set aside for it reaches you "
            "by itself (or waits under “Waiting for you”)",
            field=FIELD,
        )
    return Forbidden("that is another account of this instance", field=FIELD)


async def _actor_uri(settings: Settings, remote: RemoteActors, own: Actor, named: str) -> str:
    """The actor URL behind `@user@host`, `acct:user@host` or an http(s) URL."""
    if named.startswith(("https://", "http://")):
        try:
            canonical_url(named)  # a host that parses, at most 2048 characters
        except ValidationFailed as error:
            raise ValidationFailed("that is not a usable URL", field=FIELD) from error
        _refuse_local(settings, own, named)
        return named
    try:
        user, domain = parse_acct(named)
    except InvalidHandle as error:
        raise ValidationFailed(
            "name a fediverse account as @user@host or by its URL", field=FIELD
        ) from error
    if domain == settings.domain.lower():
        raise _local_error(user.lower() == own.username)
    try:
        found = await remote.client.webfinger_lookup(f"{user}@{domain}", scheme=settings.scheme)
    except ActivityPubError as error:
        raise NotFound(f"@{user}@{domain} could not be found: {error}", field=FIELD) from error
    return found.self_href


async def _fetch(remote: RemoteActors, uri: str) -> ActorDocument:
    """The actor as its home instance serves it now (signed GET; the cache is refreshed)."""
    try:
        _, document = await remote.fetch_actor_document(uri)
    except NotAnActor as error:
        raise ValidationFailed(f"{uri} is not a fediverse account", field=FIELD) from error
    except RemoteError as error:
        raise NotFound(f"the account could not be fetched: {error.message}", field=FIELD) from error
    return document


def _label(document: ActorDocument) -> str:
    name = document.preferred_username
    return f"@{name}@{domain_of(document.id)}"[:255] if name else document.id[:255]


def _check_link_back(settings: Settings, own: Actor, document: ActorDocument) -> None:
    """The actor's profile fields must claim this account's profile (or actor) URL."""
    links = profile_links(document)
    if any(_same_url(link, own.url) or _same_url(link, own.uri) for link in links):
        return
    elsewhere = [link for link in links if domain_of(link) == settings.domain]
    instead = f" (it links to {elsewhere[0]} instead)" if elsewhere else ""
    raise LinkMissing(
        f"{_label(document)} does not link to your profile here{instead}. Add a profile "
        f"field to that account whose value is just {own.url} (on Mastodon: Edit profile, "
        "Extra fields), save the profile, then claim again.",
        field=FIELD,
    )
