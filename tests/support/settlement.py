"""Speaking for an in-process instance in settlement: its instance actor's keys, read from
its own database, sign documents a test crafts (or tampers with) and POST them, HTTP-signed,
to another instance's inbox over the in-process network."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlmodel import func, select
from starlette.applications import Starlette

from activitypub.keys import ed25519_private_from_pem
from activitypub.settlement import (
    Amount,
    BatchOffer,
    Envelope,
    SettlementLine,
    batch_digest,
    build_batch_offer,
    envelope_fields,
    sign_document,
)
from activitypub.signatures import sign_request
from server.accounts.actors import instance_actor
from server.context import context
from server.models import Direction, LedgerKind, Peer, Settlement, SettlementState
from server.models.base import utcnow
from server.money.ledger import Owner, balance_of
from server.settlement.documents import dumps
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.network import Network


def eur(value: int, scale: int = 2, currency: str = "EUR") -> Amount:
    return Amount(value, currency, scale)


@dataclass(frozen=True)
class Speaker:
    """An instance actor's identity and keys."""

    uri: str
    key_id: str
    rsa_pem: str
    ed25519: ed25519.Ed25519PrivateKey

    def envelope(self, recipient: str) -> Envelope:
        return Envelope(
            id=f"{self.uri.rsplit('/', 1)[0]}/settlements/{uuid.uuid4()}",
            actor=self.uri,
            recipient=recipient,
            published=datetime.now(UTC),
        )

    def sign(self, document: dict[str, object]) -> dict[str, object]:
        return sign_document(document, self.ed25519, f"{self.uri}#ed25519-key")

    async def post(self, network: Network, host: str, document: object) -> httpx.Response:
        body = json.dumps(document).encode()
        url = f"http://{host}/actor/inbox"
        headers = sign_request(
            "POST",
            url,
            {"Content-Type": "application/activity+json"},
            body,
            self.key_id,
            self.rsa_pem,
        )
        async with network.client(host) as client:
            return await client.post(url, content=body, headers=headers)


async def speaker(app: Starlette) -> Speaker:
    async with context(app).db.session() as session:
        actor = await instance_actor(session, context(app).settings)
    assert actor is not None and actor.private_key_pem and actor.ed25519_private_pem
    return Speaker(
        actor.uri,
        actor.key_id,
        actor.private_key_pem,
        ed25519_private_from_pem(actor.ed25519_private_pem),
    )


def batch(
    keys: Speaker, target: str, lines: list[tuple[str, Amount]], sequence: int = 1
) -> dict[str, object]:
    """A signed batch offer to the instance actor `target` (currency: the first line's)."""
    offer = BatchOffer(
        **envelope_fields(keys.envelope(target)),
        period="2026-10",
        sequence=sequence,
        currency=lines[0][1].currency,
        lines=tuple(
            SettlementLine(creator, amount, 1, (f"{keys.uri}/clicks/{index}",))
            for index, (creator, amount) in enumerate(lines)
        ),
    )
    return keys.sign(build_batch_offer(offer))


async def admin(app: Starlette, http: httpx.AsyncClient, page: str = "/admin/peers") -> str:
    """Log an admin in; the CSRF token of `page`."""
    await make_account(app, "operator", admin=True)
    assert (await log_in(http, "operator")).status_code == 303
    response = await http.get(page)
    assert response.status_code == 200
    return csrf_from(response.text)


async def propose(app: Starlette, network: Network, host: str, other: str) -> str:
    """The admin of `app` (on `host`) proposes peering to `other`; the CSRF token."""
    async with network.client(host) as http:
        token = await admin(app, http)
        proposed = await http.post(
            "/admin/peers/propose", data={"domain": other, "csrf_token": token}
        )
        assert proposed.status_code == 303, proposed.text
    return token


async def peer(alpha: Starlette, beta: Starlette, network: Network) -> None:
    """alpha.test proposes, beta.test's admin accepts: both see an active peer."""
    await propose(alpha, network, "alpha.test", "beta.test")
    await context(alpha).worker.drain()
    async with network.client("beta.test") as http:
        token = await admin(beta, http)
        accepted = await http.post("/admin/peers/alpha.test/accept", data={"csrf_token": token})
        assert accepted.status_code == 303, accepted.text
    await context(beta).worker.drain()
    for app, other in ((alpha, "beta.test"), (beta, "alpha.test")):
        assert (await peer_row(app, other)).state == "active"


async def peer_row(app: Starlette, domain: str) -> Peer:
    async with context(app).db.session() as session:
        found: Peer = (await session.exec(select(Peer).where(Peer.domain == domain))).one()
        return found


async def settlements(app: Starlette) -> list[Settlement]:
    async with context(app).db.session() as session:
        return list((await session.exec(select(Settlement))).all())


async def count(app: Starlette, model: Any) -> int:
    async with context(app).db.session() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def pending(app: Starlette, account_id: int) -> int:
    async with context(app).db.session() as session:
        owner = Owner(LedgerKind.creator_pending, account_id=account_id)
        return await balance_of(session, context(app).settings, owner)


async def seed_outgoing(
    app: Starlette, domain: str, creator: str, value: int, state: SettlementState
) -> Settlement:
    """A batch this instance sent the peer `domain` (signed with its own key), stored as
    the batch code would have stored it, in `state`."""
    keys = await speaker(app)
    other = await peer_row(app, domain)
    document = batch(keys, other.actor_uri, [(creator, eur(value))], sequence=1)
    accepted = value if state != SettlementState.offered else 0
    row = Settlement(
        uri=str(document["id"]),
        peer_id=other.id or 0,
        direction=Direction.outgoing.value,
        period="2026-10",
        sequence=1,
        currency="EUR",
        total=value,
        accepted_total=accepted,
        state=state,
        document=dumps(document),
        digest=batch_digest(document),
        answered_at=None if state == SettlementState.offered else utcnow(),
        confirmed_at=utcnow() if state == SettlementState.confirmed else None,
    )
    async with context(app).db.transaction() as session:
        session.add(row)
    return row
