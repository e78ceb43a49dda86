"""Claims that travel between real instances on loopback: a creator on beta claims a Bluesky
identity (recorded as a bridge records it, then announced by the same call the bridges
make), alpha, which holds what its donors set aside for the identity, records the claim
and pays beta by settlement. Replays change nothing, a stranger is refused, and two peers
claiming the same identity hold the money until alpha's admin decides."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from activitypub.claims import (
    ClaimAnnouncement,
    ClaimMethod,
    IdentityClaim,
    announcement_id,
    build_announcement,
)
from server.db.engine import Database
from server.donations.clicks import CreatorRef, ThingRef
from server.models import Account, Direction, EscrowLine, PeerClaim
from server.settings import Settings
from server.settlement.peering import PREPARE_JOB
from tests.support.instances import LiveInstance
from tests.support.ledger import like
from tests.support.live import (
    FAST,
    Start,
    claim_by_bridge,
    claims,
    close,
    creator_balances,
    eventually,
    instance_keys,
    jobs_finished,
    ledger_ok,
    listed,
    on,
    peer,
    post_signed,
    rows,
    user,
)

pytestmark = pytest.mark.live

DID = "did:plc:carolcarolcarol"
HANDLE = "@carol.bsky.social"


def _liked(instance: LiveInstance, username: str) -> None:
    """`username` (funded) likes carol's Bluesky post, as a bridge's poll records it."""

    async def work(db: Database, settings: Settings) -> None:
        async with db.session() as session:
            found = await session.exec(select(Account.id).where(Account.username == username))
            donor = int(found.one() or 0)
        thing = ThingRef(f"at://{DID}/app.bsky.feed.post/3k1", CreatorRef("bluesky", DID))
        await like(db, settings, donor, thing, at=datetime.now(UTC))

    on(instance, work)


def _announcement(instance: LiveInstance) -> dict[str, object]:
    (document,) = rows(
        instance,
        select(PeerClaim.document).where(PeerClaim.direction == Direction.outgoing.value),
    )
    data: dict[str, object] = json.loads(document)
    return data


def test_a_claim_on_b_brings_what_waits_on_a(instances: Start) -> None:
    alpha, beta, gamma = (instances(env=FAST) for _ in range(3))
    user(alpha, "ann")
    carol = user(beta, "carol")
    alpha.cli("wallet", "credit", "ann", "10.00", "--reference", "bank-1")
    peer(alpha, beta)
    _liked(alpha, "ann")
    close(alpha)
    # The close's own offer to peers has run (with nothing for them yet)
    eventually(lambda: jobs_finished(alpha, PREPARE_JOB))
    assert [(e.amount, e.peer_domain) for e in rows(alpha, select(EscrowLine))] == [(500, "")]
    # carol claims the identity on beta; beta's instance actor tells alpha
    assert claim_by_bridge(beta, "carol", DID, HANDLE) == 1
    carol_actor = f"{beta.base_url}/users/carol"
    eventually(lambda: claims(beta) == [("out", alpha.domain, carol_actor, "accepted")])
    assert claims(alpha) == [("in", beta.domain, carol_actor, "accepted")]
    # alpha's next batch pays it to beta, which credits carol
    assert "queued" in alpha.cli("settlements", "send").stdout
    eventually(lambda: creator_balances(beta, carol) == (500, 0), timeout=90)
    # A replay of the announcement is answered the same and changes nothing
    replay = post_signed(alpha, _announcement(beta), instance_keys(beta))
    assert replay.status_code == 200, replay.text
    assert replay.json()["type"] == "Accept"
    assert "nothing to send" in alpha.cli("settlements", "send").stdout
    lines = rows(alpha, select(EscrowLine))
    assert [(e.state, e.peer_domain, e.creator_uri) for e in lines] == [
        ("settled", beta.domain, carol_actor)
    ]
    assert claims(alpha) == [("in", beta.domain, carol_actor, "accepted")]
    assert creator_balances(beta, carol) == (500, 0)
    # gamma is no peer of alpha: its claim is refused and logged, nothing recorded
    keys = instance_keys(gamma)
    claim = IdentityClaim(f"{gamma.base_url}/users/mallory", "bluesky", DID, "", ClaimMethod.OAUTH)
    alpha_actor = f"{alpha.base_url}/actor"
    stranger = ClaimAnnouncement(
        id=announcement_id(gamma.base_url, claim, alpha_actor),
        actor=keys.uri,
        recipient=alpha_actor,
        published=datetime.now(UTC),
        claim=claim,
    )
    refused = post_signed(alpha, keys.sign(build_announcement(stranger)), keys)
    assert refused.status_code == 403 and refused.json()["code"] == "not_a_peer"
    assert "not an active peer" in alpha.read_log()
    assert claims(alpha) == [("in", beta.domain, carol_actor, "accepted")]
    for instance in (alpha, beta):
        ledger_ok(instance)
    assert "Traceback" not in alpha.read_log() + beta.read_log()


def test_two_peers_claiming_one_identity_hold_it_until_the_admin_decides(
    instances: Start,
) -> None:
    alpha, beta, gamma = (instances(env=FAST) for _ in range(3))
    user(alpha, "ann")
    user(beta, "carol")
    karl = user(gamma, "karl")
    alpha.cli("wallet", "credit", "ann", "10.00", "--reference", "bank-1")
    peer(alpha, beta)
    peer(alpha, gamma)
    _liked(alpha, "ann")
    close(alpha)
    # The close's own offer to peers has run (with nothing for them yet)
    eventually(lambda: jobs_finished(alpha, PREPARE_JOB))
    carol_actor, karl_actor = f"{beta.base_url}/users/carol", f"{gamma.base_url}/users/karl"
    claim_by_bridge(beta, "carol", DID, HANDLE)
    eventually(lambda: claims(beta) == [("out", alpha.domain, carol_actor, "accepted")])
    # When karl on gamma claims the same identity
    claim_by_bridge(gamma, "karl", DID, HANDLE)
    # Then both are contested at alpha, and both claimants' instances learn it
    eventually(lambda: claims(gamma) == [("out", alpha.domain, karl_actor, "contested")])
    eventually(lambda: claims(beta) == [("out", alpha.domain, carol_actor, "contested")])
    assert claims(alpha) == sorted(
        [
            ("in", beta.domain, carol_actor, "contested"),
            ("in", gamma.domain, karl_actor, "contested"),
        ]
    )
    # Nothing moves: no batch goes out
    assert "nothing to send" in alpha.cli("settlements", "send").stdout
    # When alpha's admin decides for gamma's claim
    (chosen,) = [c for c in listed(alpha, "claims", "list") if c["peer"] == gamma.domain]
    assert "accepted" in alpha.cli("claims", "accept", chosen["id"]).stdout
    eventually(lambda: claims(gamma) == [("out", alpha.domain, karl_actor, "accepted")])
    eventually(lambda: claims(beta) == [("out", alpha.domain, carol_actor, "refused")])
    assert "queued" in alpha.cli("settlements", "send").stdout
    # (a delivery between three loaded instances may need a retry: give it the time)
    eventually(lambda: creator_balances(gamma, karl) == (500, 0), timeout=90)
    for instance in (alpha, beta, gamma):
        ledger_ok(instance)
    assert "Traceback" not in alpha.read_log() + beta.read_log() + gamma.read_log()
