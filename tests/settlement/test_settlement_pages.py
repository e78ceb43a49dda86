"""The admin's peer pages and the creator's per-peer funds, in process: two apps joined by
the in-process network where peering needs the other side, stored rows where it does not."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from server.context import context
from server.models import (
    LineState,
    Peer,
    PeerState,
    Settlement,
    SettlementLineRow,
    SettlementPayment,
    SettlementState,
)
from server.models.base import utcnow
from server.render.bars import LABEL_WIDTH, VALUE_WIDTH, balance_bars, stacked_bars
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.databases import DatabaseFactory
from tests.support.network import Network, running, settings_for

HTML = {"accept": "text/html"}


@pytest.fixture
def network() -> Network:
    return Network()


@pytest.fixture
async def alpha(
    network: Network, tmp_path: Path, databases: DatabaseFactory
) -> AsyncIterator[Starlette]:
    async with running(network, settings_for(tmp_path, "alpha.test", databases)) as app:
        yield app


@pytest.fixture
async def beta(
    network: Network, tmp_path: Path, databases: DatabaseFactory
) -> AsyncIterator[Starlette]:
    async with running(network, settings_for(tmp_path, "beta.test", databases)) as app:
        yield app


async def _admin(app: Starlette, http: httpx.AsyncClient, name: str = "operator") -> str:
    """Log an admin in; the CSRF token of the peers page."""
    await make_account(app, name, admin=True)
    assert (await log_in(http, name)).status_code == 303
    page = await http.get("/admin/peers")
    assert page.status_code == 200
    return csrf_from(page.text)


def _row(html: str, domain: str) -> str:
    match = re.search(rf'<tr class="peer" data-domain="{re.escape(domain)}">(.*?)</tr>', html, re.S)
    assert match is not None, f"no row for {domain}"
    return match.group(1)


async def test_only_admins_see_the_peers_pages(app: Starlette, client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/admin/peers", headers=HTML)
    await make_account(app, "ann")
    await log_in(client, "ann")
    page = await client.get("/admin/peers", headers=HTML)
    token = csrf_from((await client.get("/money")).text)
    propose = await client.post(
        "/admin/peers/propose", data={"domain": "beta.test", "csrf_token": token}, headers=HTML
    )
    statement = await client.get("/admin/peers/beta.test/statement", headers=HTML)
    assert anonymous.status_code == 303  # a browser is sent to the log-in page
    assert anonymous.headers["location"] == "/login?next=%2Fadmin%2Fpeers"
    assert page.status_code == 403 and "this is for instance admins" in page.text
    assert propose.status_code == 403 and statement.status_code == 403


async def test_a_bad_domain_or_limit_is_a_clear_message(alpha: Starlette, network: Network) -> None:
    async with network.client("alpha.test") as http:
        token = await _admin(alpha, http)
        cases = {
            "not a/domain": (422, "is not an instance domain"),
            "alpha.test": (422, "cannot peer with itself"),
            "gamma.test": (422, "cannot read the NodeInfo of gamma.test"),
        }
        for domain, (status, message) in cases.items():
            response = await http.post(
                "/admin/peers/propose", data={"domain": domain, "csrf_token": token}
            )
            assert response.status_code == status, domain
            assert re.search(rf'<p class="error" role="alert">[^<]*{message}', response.text)
            assert ">Peer instances</h1>" in response.text
            assert re.search(rf'<input id="domain"[^>]*value="{re.escape(domain)}"', response.text)
        limit = await http.post(
            "/admin/peers/propose",
            data={"domain": "beta.test", "credit_limit": "-5", "csrf_token": token},
        )
        assert limit.status_code == 422
        assert 'id="credit_limit-error">' in limit.text and "not an amount" in limit.text


async def test_admins_propose_and_accept_on_their_pages(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    async with network.client("alpha.test") as a, network.client("beta.test") as b:
        a_token, b_token = await _admin(alpha, a), await _admin(beta, b)
        # Given alpha's admin proposes beta with a credit limit
        proposed = await a.post(
            "/admin/peers/propose",
            data={"domain": "beta.test", "credit_limit": "250.00", "csrf_token": a_token},
            follow_redirects=True,
        )
        assert "Proposed settling with beta.test (credit limit 250.00 EUR)" in proposed.text
        assert "waiting for their answer" in _row(proposed.text, "beta.test")
        await context(alpha).worker.drain()
        # When beta's admin accepts on its page
        waiting = _row((await b.get("/admin/peers")).text, "alpha.test")
        assert "proposed" in waiting and "250.00 EUR" in waiting and ">Accept<" in waiting
        accepted = await b.post(
            "/admin/peers/alpha.test/accept", data={"csrf_token": b_token}, follow_redirects=True
        )
        await context(beta).worker.drain()
        # Then both pages show an active peer, settled, with a bar chart row
        assert "Accepted the proposal of alpha.test; the peer is active." in accepted.text
        page = (await a.get("/admin/peers")).text
        row = _row(page, "beta.test")
        assert '<td class="state">active</td>' in row and "settled" in row
        assert '<title id="balances-title">Open balance with each peer</title>' in page
        assert "beta.test: settled." in page
        # And the agreement can be suspended, resumed and ended, each once
        for action, state in (("suspend", "suspended"), ("resume", "active"), ("end", "ended")):
            done = await a.post(
                f"/admin/peers/beta.test/{action}",
                data={"csrf_token": a_token},
                follow_redirects=True,
            )
            assert f"beta.test is now {state}." in done.text
        again = await a.post("/admin/peers/beta.test/resume", data={"csrf_token": a_token})
        assert again.status_code == 409
        assert "beta.test is ended; it cannot become active" in again.text
        nothing = await b.post("/admin/peers/alpha.test/reject", data={"csrf_token": b_token})
        assert nothing.status_code == 409 and "no proposal waiting" in nothing.text
        statement = await a.get("/admin/peers/beta.test/statement")
        assert "Statement with beta.test (ended, EUR)" in statement.text
        missing = await a.get("/admin/peers/gamma.test/statement", headers=HTML)
        assert missing.status_code == 404 and "gamma.test is not a peer" in missing.text


async def _stored_peer(app: Starlette) -> Peer:
    """An active peer with batches both ways and a payment notice, as rows."""
    long_ago = utcnow() - timedelta(hours=context(app).settings.receipt_hours + 1)
    async with context(app).db.transaction() as session:
        peer = Peer(domain="beta.test", state=PeerState.active, currency="EUR", credit_limit=50_000)
        session.add(peer)
        await session.flush()
        batches = [
            ("out", 1, "offered", "", long_ago),
            ("out", 2, "offered", "beta.test answered 500", utcnow()),
            ("in", 1, "accepted", "", utcnow()),
        ]
        for direction, sequence, state, error, created in batches:
            session.add(
                Settlement(
                    uri=f"http://x.test/settlements/{direction}{sequence}",
                    peer_id=peer.id or 0,
                    direction=direction,
                    period="2025-01",
                    sequence=sequence,
                    currency="EUR",
                    total=700,
                    accepted_total=700 if state == "accepted" else 0,
                    state=SettlementState(state),
                    document="{}",
                    digest="0" * 64,
                    last_error=error,
                    created_at=created,
                    answered_at=None if state == "offered" else created,
                )
            )
        session.add(
            SettlementPayment(
                uri="http://beta.test/settlements/p1",
                peer_id=peer.id or 0,
                direction="in",
                amount=700,
                reference="SEPA-9",
                document="{}",
            )
        )
        return peer


async def test_batches_are_flagged_and_notices_can_be_answered(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await _stored_peer(app)
    await make_account(app, "operator", admin=True)
    await log_in(client, "operator")
    page = await client.get("/admin/peers")
    flagged = re.findall(r'<tr class="batch flagged">(.*?)</tr>', page.text, re.S)
    assert len(flagged) == 2
    assert "no receipt after 24 h: check the peer" in flagged[1]
    assert "failed: beta.test answered 500" in flagged[0]
    assert page.text.count('<tr class="batch">') == 1
    assert 'aria-label="Confirm payment 1">Confirm<' in page.text
    assert 'aria-label="Refuse payment 1">Refuse<' in page.text
    token = csrf_from(page.text)
    # The services' refusals come back as messages on the page
    unpaid = await client.post(
        "/admin/peers/beta.test/paid",
        data={"amount": "7.00", "reference": "SEPA-1", "csrf_token": token},
    )
    assert unpaid.status_code == 409 and "this instance owes beta.test nothing" in unpaid.text
    blank = await client.post(
        "/admin/peers/beta.test/paid", data={"amount": "7.00", "csrf_token": token}
    )
    assert blank.status_code == 422 and "give the transfer&#39;s reference" in blank.text
    unknown = await client.post("/admin/payments/99/confirm", data={"csrf_token": token})
    assert unknown.status_code == 404 and "no payment notice 99 from a peer" in unknown.text
    forged = await client.post("/admin/settlements/1/verify", data={"csrf_token": token})
    assert forged.status_code == 422 and "Batch 1 does not verify: batch proof" in forged.text
    expired = await client.post("/admin/peers/beta.test/suspend", data={"csrf_token": "x"})
    assert expired.status_code == 403


async def test_the_creator_sees_pending_and_available_per_peer(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given bob's lines in batches from two peers, one of them paid and confirmed
    bob = await make_account(app, "bob")
    other = await make_account(app, "carol")
    async with context(app).db.transaction() as session:
        for domain, state, amount in (("beta.test", "confirmed", 300), ("gamma.test", "paid", 120)):
            peer = Peer(domain=domain, state=PeerState.active, currency="EUR", credit_limit=10_000)
            session.add(peer)
            await session.flush()
            batch = Settlement(
                uri=f"http://{domain}/settlements/1",
                peer_id=peer.id or 0,
                direction="in",
                period="2025-01",
                sequence=1,
                currency="EUR",
                total=amount + 50 + 999,
                accepted_total=amount + 50,
                state=SettlementState(state),
                document="{}",
                digest="0" * 64,
                answered_at=utcnow(),
                confirmed_at=utcnow() if state == "confirmed" else None,
            )
            session.add(batch)
            await session.flush()
            lines = [(bob.id, amount, "accepted"), (other.id, 50, "accepted")]
            lines.append((bob.id, 999, "rejected"))
            for position, (account_id, value, line_state) in enumerate(lines):
                session.add(
                    SettlementLineRow(
                        settlement_id=batch.id or 0,
                        position=position,
                        creator_uri=f"http://alpha.test/users/{account_id}",
                        account_id=account_id,
                        amount=value,
                        supporters=1,
                        state=LineState(line_state),
                    )
                )
    # When bob opens his creator page
    await log_in(client, "bob")
    page = (await client.get("/money/creator")).text
    # Then each peer's share is pending or available, in a table and a chart
    rows = re.findall(r'<tr class="peer-funds" data-domain="([^"]+)">(.*?)</tr>', page, re.S)
    assert [domain for domain, _ in rows] == ["beta.test", "gamma.test"]
    assert '<td class="num pending">0.00 EUR</td>' in rows[0][1]
    assert '<td class="num available">3.00 EUR</td>' in rows[0][1]
    assert '<td class="num pending">1.20 EUR</td>' in rows[1][1]
    assert '<td class="num available">0.00 EUR</td>' in rows[1][1]
    assert "<title>gamma.test: 1.20 EUR promised, not yet paid</title>" in page
    assert "beta.test: 3.00 EUR available, 0.00 EUR promised." in page
    # And a creator with no settled lines sees no such section
    await make_account(app, "dora")
    await log_in(client, "dora")
    assert "From supporters on other instances" not in (await client.get("/money/creator")).text


def test_balance_bars_diverge_from_the_axis_and_leave_room_for_values() -> None:
    chart = balance_bars([("a.test", 500), ("b.test", -500), ("c.test", 0), ("d.test", -250)])
    owed, owing, settled, half = chart.bars
    assert owed.x == chart.axis and owed.anchor == "start"
    assert owing.x + owing.width == chart.axis and owing.anchor == "end"
    assert owing.width == owed.width == 2 * half.width and settled.width == 0
    # the value text has VALUE_WIDTH less its 6-unit gap to the bar
    assert chart.width - owed.text_x == VALUE_WIDTH - 6
    assert owing.text_x - LABEL_WIDTH == VALUE_WIDTH - 6
    assert chart.height == 16 + 4 * 34
    stacked = stacked_bars([("a.test", [("available", 300), ("pending", 100)])])
    available, pending = stacked.rows[0].segments
    assert pending.x == available.x + available.width
    assert stacked.width - stacked.rows[0].text_x == VALUE_WIDTH - 6
