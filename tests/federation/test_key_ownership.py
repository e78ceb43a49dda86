"""Keys belong to actors on their own origin: an actor document that declares another
actor's key (another origin's key id, or an owner that is not the actor) gets no key, and
the key's real owner keeps being heard."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.models import Actor
from tests.support.databases import DatabaseFactory
from tests.support.inbox import post_note
from tests.support.network import Network, running, settings_for
from tests.support.remote import RemoteActor, RemoteServer, serve_remote

INBOX = "http://alpha.test/inbox"


@pytest.fixture
def good(network: Network) -> RemoteServer:
    return serve_remote(network, "good.example")


@pytest.fixture
def evil(network: Network) -> RemoteServer:
    return serve_remote(network, "evil.example")


@pytest.fixture
def victim(good: RemoteServer) -> RemoteActor:
    actor = RemoteActor(good, "victim")
    actor.publish()
    return actor


async def send(network: Network, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with network.client("alpha.test") as http:
        return await http.post(INBOX, content=body, headers=headers)


async def _rows_holding(app: Starlette, key_id: str) -> list[str]:
    async with context(app).db.session() as session:
        rows = await session.exec(select(Actor.uri).where(Actor.key_id == key_id))
        return list(rows.all())


def _attacker(
    good: RemoteServer, evil: RemoteServer, victim: RemoteActor, case: str
) -> RemoteActor:
    """The attacker's actor, online, declaring the victim's key id with its own key."""
    if case == "another origin":
        attacker = RemoteActor(evil, "mallory")
        owner = attacker.uri
    else:  # same origin, but the key names another actor as its owner
        attacker = RemoteActor(good, "eve")
        owner = victim.uri
    key = {"id": victim.key_id, "owner": owner, "publicKeyPem": attacker.keys.public_pem}
    attacker.publish(publicKey=key)
    return attacker


@pytest.mark.parametrize("case", ["another origin", "same origin, another owner"])
async def test_an_actor_declaring_anothers_key_does_not_take_it(
    alpha: Starlette,
    network: Network,
    good: RemoteServer,
    evil: RemoteServer,
    victim: RemoteActor,
    case: str,
) -> None:
    note = (await post_note(alpha, network))["uri"]
    attacker = _attacker(good, evil, victim, case)
    # Given the victim's deliveries arrive
    assert (await send(network, *victim.signed(INBOX, victim.like(note)))).status_code == 202
    # And a forged delivery under the victim's key id spends the victim's key refetch
    forged = victim.signed(INBOX, victim.like(note, 2), private_pem=attacker.keys.private_pem)
    assert (await send(network, *forged)).status_code == 401
    # When the attacker's document is fetched (it signs with a key id of its own)
    own = attacker.signed(INBOX, attacker.like(note), key_id=f"{attacker.uri}#main-key")
    assert (await send(network, *own)).status_code == 401
    # Then the victim is still heard, and the attacker cannot speak with the victim's key id
    second = await send(network, *victim.signed(INBOX, victim.like(note, 3)))
    assert second.status_code == 202, second.text
    as_victim = attacker.signed(INBOX, attacker.like(note, 3), key_id=victim.key_id)
    assert (await send(network, *as_victim)).status_code == 401
    assert await _rows_holding(alpha, victim.key_id) == [victim.uri]
    async with context(alpha).db.session() as session:
        row = (await session.exec(select(Actor).where(Actor.uri == attacker.uri))).one()
    assert (row.key_id, row.public_key_pem) == ("", "")


async def test_a_key_lookup_never_answers_another_actors_row(
    tmp_path: Path,
    databases: DatabaseFactory,
    network: Network,
    evil: RemoteServer,
    victim: RemoteActor,
) -> None:
    settings = settings_for(tmp_path, "alpha.test", databases)
    mallory = RemoteActor(evil, "mallory")
    mallory.publish()
    async with running(network, settings) as alpha:
        note = (await post_note(alpha, network))["uri"]
        # Given a row cached before keys were checked maps the victim's key id to mallory
        async with context(alpha).db.transaction() as session:
            session.add(
                Actor(
                    uri=mallory.uri,
                    username="mallory",
                    domain=evil.host,
                    inbox=f"{mallory.uri}/inbox",
                    key_id=victim.key_id,
                    public_key_pem=mallory.keys.public_pem,
                )
            )
    # When the instance restarts (nothing in memory) and mallory signs with that key id
    async with running(network, settings) as alpha:
        as_victim = mallory.signed(INBOX, mallory.like(note), key_id=victim.key_id)
        refused = await send(network, *as_victim)
        # Then the row is not believed: the key's own origin says whose it is
        assert refused.status_code == 401
        heard = await send(network, *victim.signed(INBOX, victim.like(note)))
        assert heard.status_code == 202, heard.text
        assert victim.uri in await _rows_holding(alpha, victim.key_id)


async def test_a_key_belongs_to_the_actor_at_its_url_not_to_a_neighbour_claiming_it(
    alpha: Starlette, network: Network, good: RemoteServer, victim: RemoteActor
) -> None:
    note = (await post_note(alpha, network))["uri"]
    # Given a second actor on the victim's host declares the victim's key id as its own
    twin = RemoteActor(good, "twin")
    key = {"id": victim.key_id, "owner": twin.uri, "publicKeyPem": twin.keys.public_pem}
    twin.publish(publicKey=key)
    own = twin.signed(INBOX, twin.like(note), key_id=f"{twin.uri}#main-key")
    assert (await send(network, *own)).status_code == 401  # its document is fetched
    # When it signs with that key id before the victim was ever heard
    as_victim = twin.signed(INBOX, twin.like(note, 2), key_id=victim.key_id)
    refused = await send(network, *as_victim)
    # Then the document at the key's URL (the victim's) decides whose key it is
    assert refused.status_code == 401
    heard = await send(network, *victim.signed(INBOX, victim.like(note)))
    assert heard.status_code == 202, heard.text
