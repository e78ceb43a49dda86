"""Local actors: the instance actor and one Person per account, with their keys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.keys import (
    ed25519_private_to_pem,
    ed25519_public_to_multibase,
    generate_ed25519_key,
    generate_rsa_key_pair,
)
from server.models import Account, Actor
from server.settings import Settings

INSTANCE_ACTOR_PATH = "/actor"


def generate_rsa_pem() -> tuple[str, str]:
    """A fresh RSA-2048 key pair as (private PEM, public PEM)."""
    pair = generate_rsa_key_pair()
    return pair.private_pem, pair.public_pem


def actor_uri(settings: Settings, username: str) -> str:
    return f"{settings.base_url}/users/{username}"


@dataclass(frozen=True)
class ActorIdentity:
    type: str
    username: str
    name: str
    url: str


def _keyed_actor(settings: Settings, uri: str, who: ActorIdentity) -> Actor:
    """A local actor at `uri` with its endpoints and a fresh RSA key pair."""
    private, public = generate_rsa_pem()
    return Actor(
        uri=uri,
        is_local=True,
        type=who.type,
        username=who.username,
        name=who.name,
        url=who.url,
        domain=settings.domain,
        inbox=f"{uri}/inbox",
        outbox=f"{uri}/outbox",
        shared_inbox=f"{settings.base_url}/inbox",
        key_id=f"{uri}#main-key",
        public_key_pem=public,
        private_key_pem=private,
    )


def build_local_actor(settings: Settings, account: Account) -> Actor:
    uri = actor_uri(settings, account.username)
    profile = f"{settings.base_url}/@{account.username}"
    actor = _keyed_actor(
        settings, uri, ActorIdentity("Person", account.username, account.display_name, profile)
    )
    actor.account_id = account.id
    actor.followers_url = f"{uri}/followers"
    return actor


def instance_actor_uri(settings: Settings) -> str:
    return settings.base_url + INSTANCE_ACTOR_PATH


async def instance_actor(session: AsyncSession, settings: Settings) -> Actor | None:
    result = await session.exec(select(Actor).where(Actor.uri == instance_actor_uri(settings)))
    return result.first()


async def ensure_instance_actor(session: AsyncSession, settings: Settings) -> Actor:
    """Create the instance actor and its keys on first start; reuse them afterwards."""
    existing = await instance_actor(session, settings)
    if existing is not None:
        return existing
    who = ActorIdentity("Application", settings.host, settings.name, settings.base_url + "/about")
    actor = _keyed_actor(settings, instance_actor_uri(settings), who)
    # Ed25519 (FEP-521a assertionMethod) signs settlement proofs that outlive delivery.
    signing_key = generate_ed25519_key()
    actor.ed25519_private_pem = ed25519_private_to_pem(signing_key)
    actor.ed25519_public_multibase = ed25519_public_to_multibase(signing_key.public_key())
    session.add(actor)
    await session.flush()
    return actor
