"""Claims that travel, in one process: a creator on beta.test claims a Bluesky identity
(as a bridge will record it) and beta's instance actor tells alpha.test, which holds what
its donors set aside for that identity; alpha records the claim and its next batch pays
beta. Replays change nothing, a stranger is refused, rival claims hold the money."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from activitypub.claims import (
    ClaimAnnouncement,
    ClaimMethod,
    IdentityClaim,
    announcement_id,
    build_announcement,
)
from server.context import context
from server.domain_errors import Conflict
from server.donations.clicks import CreatorRef, ThingRef
from server.donations.close import close_period
from server.escrow.announcements import announce_claims
from server.escrow.claims import claim_fediverse_account
from server.escrow.escrow import claim_identity
from server.escrow.peer_claims import decide_claim
from server.models import (
    Account,
    Direction,
    EscrowLine,
    Identity,
    LedgerKind,
    PeerClaim,
    Settlement,
    TransferKind,
)
from server.money.ledger import Owner
from server.settlement.outgoing import prepare_batches
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.databases import DatabaseFactory
from tests.support.ledger import (
    assert_books_balance,
    balance,
    donor,
    fediverse_thing,
    like,
    transfers,
)
from tests.support.mastodon import FakeMastodonServer, field_link
from tests.support.network import Network, running, settings_for
from tests.support.settlement import Speaker, pending, speaker

DID = "did:plc:carolcarolcarol"
POST = f"at://{DID}/app.bsky.feed.post/3kabc"
CAROL_ON_BETA = "http://beta.test/users/carol"
OCTOBER = datetime(2026, 10, 5, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 5, tzinfo=UTC)


@pytest.fixture
async def gamma(
    network: Network, tmp_path: Path, databases: DatabaseFactory
) -> AsyncIterator[Starlette]:
    async with running(network, settings_for(tmp_path, "gamma.test", databases)) as app:
        yield app


async def _peer(a: Starlette, b: Starlette, network: Network) -> None:
    """a's admin proposes, b's admin accepts: both see an active peer."""
    a_host, b_host = context(a).settings.domain, context(b).settings.domain
    async with network.client(a_host) as http:
        token = await _admin_token(a, http)
        proposed = await http.post(
            "/admin/peers/propose", data={"domain": b_host, "csrf_token": token}
        )
        assert proposed.status_code == 303, proposed.text
    await context(a).worker.drain()
    async with network.client(b_host) as http:
        token = await _admin_token(b, http)
        accepted = await http.post(f"/admin/peers/{a_host}/accept", data={"csrf_token": token})
        assert accepted.status_code == 303, accepted.text
    await context(b).worker.drain()
    await context(a).worker.drain()


async def _admin_token(app: Starlette, http: httpx.AsyncClient) -> str:
    """The admin ("operator", made once) logged in; the CSRF token of the peers page."""
    async with context(app).db.session() as session:
        found = await session.exec(select(Account).where(Account.username == "operator"))
        exists = found.first() is not None
    if not exists:
        await make_account(app, "operator", admin=True)
    assert (await log_in(http, "operator")).status_code == 303
    return csrf_from((await http.get("/admin/peers")).text)


async def _liked_on_alpha(alpha: Starlette, at: datetime = OCTOBER, name: str = "ann") -> None:
    """ann on alpha likes carol's Bluesky post (4.00 EUR) and the month closes."""
    db, settings = context(alpha).db, context(alpha).settings
    ann = await donor(db, settings, name, funds=1000, budget=400)
    thing = ThingRef(POST, CreatorRef("bluesky", DID, "@carol.bsky.social"))
    await like(db, settings, ann, thing, at=at)
    await close_period(db, settings, at.strftime("%Y-%m"))


async def _claim_on(
    app: Starlette,
    username: str = "carol",
    network: str = "bluesky",
    external_id: str = DID,
    handle: str = "@carol.bsky.social",
) -> int:
    """A creator on `app` claims an identity (the Bluesky one) by OAuth, as a bridge records
    it, and the instance announces it to its peers (the hook bridges call)."""
    account = await make_account(app, username)
    running = context(app)
    async with running.db.transaction() as session:
        identity = Identity(
            network=network,
            external_id=external_id,
            handle=handle,
            claimed_account_id=account.id,
            claimed_at=datetime.now(UTC),
        )
        session.add(identity)
        await session.flush()
        methods = {int(identity.id or 0): ClaimMethod.OAUTH}
        queued = await announce_claims(session, running.settings, int(account.id or 0), methods)
    await running.worker.drain()
    return queued


async def _claims(app: Starlette) -> list[tuple[str, str, str, str]]:
    async with context(app).db.session() as session:
        rows = await session.exec(select(PeerClaim).order_by(col(PeerClaim.id)))
        return [(c.direction, c.peer_domain, c.actor_uri, c.state) for c in rows.all()]


async def _lines(app: Starlette) -> list[tuple[str, str, str, int]]:
    async with context(app).db.session() as session:
        rows = await session.exec(select(EscrowLine).order_by(col(EscrowLine.id)))
        return [(e.state, e.peer_domain, e.creator_uri, e.amount) for e in rows.all()]


async def _prepare(app: Starlette) -> list[Settlement]:
    running = context(app)
    return await prepare_batches(running.db, running.settings, running.federation.remote)


def _signed_by_beta(
    keys: Speaker, claim: IdentityClaim, *, withdrawn: bool = False
) -> dict[str, object]:
    """beta's instance actor announcing `claim` (or, withdrawn, taking it back) to alpha,
    signed."""
    alpha_actor = "http://alpha.test/actor"
    announcement = ClaimAnnouncement(
        id=announcement_id("http://beta.test", claim, alpha_actor),
        actor=keys.uri,
        recipient=alpha_actor,
        published=datetime.now(UTC),
        claim=claim,
        withdrawn=withdrawn,
    )
    return keys.sign(build_announcement(announcement))


async def _batch_pays(alpha: Starlette, beta: Starlette, account_id: int) -> None:
    """alpha's next batch offers beta what it holds for the account; beta's receipt credits it."""
    assert len(await _prepare(alpha)) == 1
    await context(alpha).worker.drain()
    assert await pending(beta, account_id) == 400


async def _books_balance(*apps: Starlette) -> None:
    for app in apps:
        await assert_books_balance(context(app).db)


async def test_a_claim_on_beta_brings_what_waits_on_alpha(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await _peer(alpha, beta, network)
    await _liked_on_alpha(alpha)
    assert await _lines(alpha) == [("held", "", "", 400)]
    # When carol claims the identity on beta
    assert await _claim_on(beta) == 1
    # Then alpha recorded it against carol's actor on beta and moved the escrow for her
    assert await _claims(alpha) == [("in", "beta.test", CAROL_ON_BETA, "accepted")]
    assert await _claims(beta) == [("out", "alpha.test", CAROL_ON_BETA, "accepted")]
    assert await _lines(alpha) == [("held", "beta.test", CAROL_ON_BETA, 400)]
    db, settings = context(alpha).db, context(alpha).settings
    assert (
        await balance(db, settings, Owner(LedgerKind.escrow_peer, peer_domain="beta.test")) == 400
    )
    # And alpha's next batch offers it to beta, whose receipt credits carol
    await _batch_pays(alpha, beta, await _account(beta, "carol"))
    assert await _lines(alpha) == [("settled", "beta.test", CAROL_ON_BETA, 400)]
    # A replay of the announcement, and a second batch run, change nothing
    before = await transfers(db)
    await _replay(beta, alpha, network)
    assert await _prepare(alpha) == []
    assert await transfers(db) == before
    assert await _claims(alpha) == [("in", "beta.test", CAROL_ON_BETA, "accepted")]
    await _books_balance(alpha, beta)


async def test_new_likes_after_the_claim_go_to_the_peer_at_the_close(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await _peer(alpha, beta, network)
    await _claim_on(beta)
    # The claim came before anything waited: alpha knows the identity now
    assert await _claims(alpha) == [("in", "beta.test", CAROL_ON_BETA, "accepted")]
    await _liked_on_alpha(alpha, NOVEMBER)
    assert await _lines(alpha) == [("held", "beta.test", CAROL_ON_BETA, 400)]
    moved = [t for t in await transfers(context(alpha).db) if t[4] == TransferKind.escrow_claim]
    assert moved == []  # straight from the close, no escrow hop
    await assert_books_balance(context(alpha).db)


async def _account(app: Starlette, username: str) -> int:
    async with context(app).db.session() as session:
        found = await session.exec(select(Account.id).where(Account.username == username))
        return int(found.one() or 0)


async def _replay(sender: Starlette, receiver: Starlette, network: Network) -> None:
    """The sender's stored announcement POSTed again: the same answer, nothing new."""
    async with context(sender).db.session() as session:
        found = await session.exec(
            select(PeerClaim.document).where(PeerClaim.direction == Direction.outgoing.value)
        )
        document = json.loads(found.one())
    keys = await speaker(sender)
    response = await keys.post(network, context(receiver).settings.domain, document)
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "Accept"


async def test_a_stranger_s_claim_is_refused(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    # beta is no peer of alpha: its signed announcement is refused, nothing recorded
    await _liked_on_alpha(alpha)
    keys = await speaker(beta)
    claim = IdentityClaim(CAROL_ON_BETA, "bluesky", DID, "@carol", ClaimMethod.OAUTH)
    response = await keys.post(network, "alpha.test", _signed_by_beta(keys, claim))
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "not_a_peer"
    assert await _claims(alpha) == []
    assert await _lines(alpha) == [("held", "", "", 400)]


async def test_a_peer_speaks_only_for_its_own_actors(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await _peer(alpha, beta, network)
    keys = await speaker(beta)
    cases = [
        IdentityClaim("http://gamma.test/users/x", "bluesky", DID, "", ClaimMethod.OAUTH),
        IdentityClaim(
            CAROL_ON_BETA, "fediverse", "http://m.test/users/c", "", ClaimMethod.HOME_INSTANCE
        ),
        IdentityClaim(CAROL_ON_BETA, "fediverse", CAROL_ON_BETA, "", ClaimMethod.REL_ME),
    ]
    for claim in cases:
        response = await keys.post(network, "alpha.test", _signed_by_beta(keys, claim))
        assert response.status_code == 422, response.text
        assert response.json()["type"] == "Reject"
        assert response.json()["result"]["status"] == "refused"
    assert await _claims(alpha) == []


async def test_rival_peers_contest_and_nothing_moves_until_the_admin_decides(
    alpha: Starlette, beta: Starlette, gamma: Starlette, network: Network
) -> None:
    await _peer(alpha, beta, network)
    await _peer(alpha, gamma, network)
    await _liked_on_alpha(alpha)
    await _claim_on(beta)
    assert await _lines(alpha) == [("held", "beta.test", CAROL_ON_BETA, 400)]
    # When a creator on gamma claims the same identity
    await _claim_on(gamma, "karl")
    await context(alpha).worker.drain()
    await context(beta).worker.drain()
    # Then both claims are contested on alpha, and the money waits in identity escrow
    karl = "http://gamma.test/users/karl"
    assert sorted(await _claims(alpha)) == [
        ("in", "beta.test", CAROL_ON_BETA, "contested"),
        ("in", "gamma.test", karl, "contested"),
    ]
    assert await _lines(alpha) == [("held", "", "", 400)]
    assert await _prepare(alpha) == []
    # Both claimants' instances learnt it from alpha's signed answers
    assert await _claims(beta) == [("out", "alpha.test", CAROL_ON_BETA, "contested")]
    assert await _claims(gamma) == [("out", "alpha.test", karl, "contested")]
    # The admin page on alpha shows it
    async with network.client("alpha.test") as http:
        await _admin_token(alpha, http)
        page = (await http.get("/admin/peers")).text
    assert "contested" in page and "gamma.test" in page and DID in page
    async with network.client("beta.test") as http:
        await _admin_token(beta, http)
        page = (await http.get("/admin/peers")).text
    assert "contested at alpha.test" in page
    # When alpha's admin gives it to gamma's claim
    async with context(alpha).db.session() as session:
        chosen = (
            await session.exec(select(PeerClaim.id).where(PeerClaim.peer_domain == "gamma.test"))
        ).one()
    async with network.client("alpha.test") as http:
        token = await _admin_token(alpha, http)
        form = {"claim_id": str(chosen), "decision": "accept", "csrf_token": token}
        decided = await http.post("/admin/claims/decide", data=form)
        assert decided.status_code == 303, decided.text
        page = (await http.get("/admin/peers")).text
        assert f"The claim of {karl} through gamma.test is accepted." in page
    await context(alpha).worker.drain()
    assert sorted(await _claims(alpha)) == [
        ("in", "beta.test", CAROL_ON_BETA, "refused"),
        ("in", "gamma.test", karl, "accepted"),
    ]
    assert await _lines(alpha) == [("held", "gamma.test", karl, 400)]
    assert await _claims(beta) == [("out", "alpha.test", CAROL_ON_BETA, "refused")]
    assert await _claims(gamma) == [("out", "alpha.test", karl, "accepted")]
    await assert_books_balance(context(alpha).db)


async def test_a_local_claim_contests_a_peer_s(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await _peer(alpha, beta, network)
    await _liked_on_alpha(alpha)
    # carol on alpha claimed the identity first (an admin's word, or a bridge's proof)
    running = context(alpha)
    local = await make_account(alpha, "carol")
    async with running.db.transaction() as session:
        found = await session.exec(select(Identity.id).where(Identity.external_id == DID))
        identity_id = int(found.one() or 0)
        await claim_identity(
            session, running.settings, identity_id, int(local.id or 0), verified=True
        )
    await _claim_on(beta)
    assert await _claims(alpha) == [("in", "beta.test", CAROL_ON_BETA, "contested")]
    assert await _claims(beta) == [("out", "alpha.test", CAROL_ON_BETA, "contested")]
    assert await _lines(alpha) == [("claimed", "", "", 400)]
    # an admin cannot give a locally claimed identity to the peer
    async with running.db.session() as session:
        claim_id = (await session.exec(select(PeerClaim.id))).one()
    with pytest.raises(Conflict):
        await decide_claim(running.db, running.settings, int(claim_id or 0), accept=True)
    await assert_books_balance(running.db)


async def test_a_mastodon_account_claimed_on_beta_by_links_both_ways_is_paid_from_alpha(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    # Given bob on a third server, mastodon.test, whose share waits on alpha for his server
    fake = FakeMastodonServer("mastodon.test")
    fake.add("bob", ("Likewise", field_link("http://beta.test/@cat")))
    network.apps[fake.host] = fake.app()
    bob = fake.actor("bob")
    await _peer(alpha, beta, network)
    db, settings = context(alpha).db, context(alpha).settings
    ann = await donor(db, settings, "ann", funds=1000, budget=400)
    await like(db, settings, ann, fediverse_thing(fake.post("bob"), bob), at=OCTOBER)
    await close_period(db, settings, "2026-10")
    assert await _lines(alpha) == [("held", "mastodon.test", bob, 400)]
    # When cat on beta claims @bob@mastodon.test (his profile links to hers)
    cat = await make_account(beta, "cat")
    running = context(beta)
    claim = await claim_fediverse_account(
        running.db,
        running.settings,
        running.federation.remote,
        int(cat.id or 0),
        "@bob@mastodon.test",
    )
    assert claim.identity.external_id == bob
    await running.worker.drain()
    # Then beta told alpha by rel-me, and alpha holds the share for cat on beta
    cat_actor = "http://beta.test/users/cat"
    assert await _claims(alpha) == [("in", "beta.test", cat_actor, "accepted")]
    async with db.session() as session:
        method = (await session.exec(select(PeerClaim.method))).one()
    assert method == "rel-me"
    assert await _lines(alpha) == [("held", "beta.test", cat_actor, 400)]
    assert (
        await balance(db, settings, Owner(LedgerKind.escrow_peer, peer_domain="mastodon.test")) == 0
    )
    # And the next batch pays cat on beta
    await _batch_pays(alpha, beta, int(cat.id or 0))
    await _books_balance(alpha, beta)


async def test_identities_of_other_networks_show_on_the_profile_and_actor(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await _peer(alpha, beta, network)
    await _claim_on(beta)
    async with network.client("beta.test") as http:
        page = await http.get("/@carol")
        actor = await http.get("/users/carol", headers={"Accept": "application/activity+json"})
    assert '<span class="network">Bluesky:</span> @carol.bsky.social' in page.text
    field = {"type": "PropertyValue", "name": "Bluesky", "value": "@carol.bsky.social"}
    assert field in actor.json()["attachment"]


async def test_a_withdrawn_claim_gives_back_what_it_held(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await _peer(alpha, beta, network)
    await _liked_on_alpha(alpha)
    await _claim_on(beta)
    assert await _lines(alpha) == [("held", "beta.test", CAROL_ON_BETA, 400)]
    # When beta withdraws carol's claim (a Remove of the same claim, signed)
    keys = await speaker(beta)
    claim = IdentityClaim(CAROL_ON_BETA, "bluesky", DID, "@carol.bsky.social", ClaimMethod.OAUTH)
    signed = _signed_by_beta(keys, claim, withdrawn=True)
    for _ in range(2):  # and again: a replay changes nothing
        response = await keys.post(network, "alpha.test", signed)
        assert response.status_code == 202, response.text
    # Then the claim is withdrawn and the share waits in identity escrow again
    assert await _claims(alpha) == [("in", "beta.test", CAROL_ON_BETA, "withdrawn")]
    assert await _lines(alpha) == [("held", "", "", 400)]
    async with context(alpha).db.session() as session:
        identity = (await session.exec(select(Identity).where(Identity.external_id == DID))).one()
    assert identity.claimed_by_actor_uri == ""
    assert await _prepare(alpha) == []
    await assert_books_balance(context(alpha).db)


async def test_a_mastodon_account_connected_by_oauth_is_announced_as_such(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    # Given cat on beta, whose Mastodon account elsewhere a bridge's sign-in proved hers,
    # When beta announces it with the method the bridge gave
    await _peer(alpha, beta, network)
    bob = "http://mastodon.test/users/bob"
    queued = await _claim_on(beta, "cat", "fediverse", bob, "@bob@mastodon.test")
    # Then alpha records the claim as made by OAuth, not by links both ways
    assert queued == 1
    async with context(alpha).db.session() as session:
        claim = (await session.exec(select(PeerClaim))).one()
    assert (claim.method, claim.state) == ("oauth", "accepted")
