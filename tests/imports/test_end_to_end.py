"""End to end: a donor imports a Facebook and an Instagram export through the pages and
confirms; the clicks appear on the dashboard; the month closes and the shares wait in
escrow for the creators, who have not joined; one joins, the admin records her claim of her
Instagram account (`likewise escrow claim`, the admin's word: Instagram offers no proof we
can check), and her share is hers to pay out."""

from __future__ import annotations

import httpx
from sqlmodel import col, select
from starlette.applications import Starlette

from server.context import context
from server.donations.close import close_period
from server.donations.periods import period_of
from server.models import EscrowLine, Identity
from server.models.base import utcnow
from server.models.payouts import EscrowState
from tests.imports.support import Donor, facebook_export, instagram_export, long_ago, this_month
from tests.money.test_cli import DEBTOR
from tests.money.test_money_forms import form_key as form_key_from
from tests.server.test_cli import likewise
from tests.support.accounts import csrf_from, log_in
from tests.support.ledger import assert_books_balance, available, balance, donor


async def test_imported_likes_are_paid_into_escrow_and_claimed(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    db, settings = context(app).db, context(app).settings
    dora = await donor(db, settings, "dora", funds=5000, budget=3300)
    assert (await log_in(client, "dora")).status_code == 303
    web = Donor(app, client, dora)
    # Given a Facebook export (two reactions this month, one older) and an Instagram one
    facebook = facebook_export(
        [("Alex Morgan", this_month(1)), ("Zoë André", this_month(2)), ("Old Friend", long_ago())]
    )
    instagram = instagram_export(
        [("alice.photos", "CaaaaaaaaA1", this_month(3)), ("bob_makes", "CbbbbbbbbB2", long_ago())]
    )
    # When the donor imports both and confirms each
    for name, content in (
        ("likes_and_reactions_1.json", facebook),
        ("liked_posts.json", instagram),
    ):
        batch_id = await web.imported(name, content)
        assert (await web.post(batch_id, "confirm")).status_code == 303
    # Then the three likes of this month are clicks, and the dashboard shows them
    clicks = await web.clicks()
    assert sorted(click.source for click in clicks) == [
        "import:facebook",
        "import:facebook",
        "import:instagram",
    ]
    page = await client.get("/money")
    assert page.status_code == 200 and "alice.photos" in page.text and "Alex Morgan" in page.text
    # When the month closes, the 33.00 budget is split over the three clicks, held in escrow
    await close_period(db, settings, period_of(utcnow()), force=True)
    async with db.session() as session:
        lines = (await session.exec(select(EscrowLine).order_by(col(EscrowLine.id)))).all()
        identities = {
            identity.id: identity for identity in (await session.exec(select(Identity))).all()
        }
    assert [line.amount for line in lines] == [1100, 1100, 1100]
    held = {identities[line.identity_id].external_id: line for line in lines}
    assert set(held) == {"name:Alex Morgan", "name:Zoë André", "alice.photos"}
    assert all(line.state == EscrowState.held for line in lines)
    # When alice joins and the admin records her claim of her Instagram account
    alice = await donor(db, settings, "alice")
    identity_id = held["alice.photos"].identity_id
    env = {"LIKEWISE_DATABASE_URL": settings.database_url, "LIKEWISE_DATA": str(settings.data_dir)}
    claimed = likewise("escrow", "claim", str(identity_id), "alice", env=env)
    assert claimed.returncode == 0, claimed.stderr
    # Then her share is hers: she asks for it to be paid out, the admin pays it
    assert await balance(db, settings, available(alice)) == 1100
    async with db.session() as session:
        line = await session.get_one(EscrowLine, held["alice.photos"].id)
        assert line.state == EscrowState.claimed
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as her:
        assert (await log_in(her, "alice")).status_code == 303
        page = await her.get("/money/creator")
        asked = await her.post(
            "/money/payouts",
            data={
                "amount": "11.00",
                "iban": "DE89370400440532013000",
                "name": "Alice Doe",
                "bic": "",
                "form_key": form_key_from(page.text),
                "csrf_token": csrf_from(page.text),
            },
        )
        assert asked.status_code == 303, asked.text
    for command in (
        ("payouts", "approve", "1"),
        ("payouts", "export", "--format", "sepa", *DEBTOR),
        ("payouts", "confirm", "1"),
    ):
        ran = likewise(*command, env=env)
        assert ran.returncode == 0, (command, ran.stderr)
    assert "paid" in likewise("payouts", "list", env=env).stdout
    assert await balance(db, settings, available(alice)) == 0
    await assert_books_balance(db)
