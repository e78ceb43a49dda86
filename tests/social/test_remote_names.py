"""A remote actor's display name is shown as its author wrote it: stored as plain text,
escaped once where a page shows it, and never as HTML entities in the client API's JSON."""

from __future__ import annotations

from starlette.applications import Starlette

from server.accounts.accounts import NewAccount, create_account
from server.context import context
from tests.support.accounts import bearer, log_in, make_account
from tests.support.network import Network

NAME = "Carla Zines & co"


async def _carla_on_alpha(alpha: Starlette) -> None:
    async with context(alpha).db.transaction() as session:
        await create_account(
            session,
            context(alpha).settings,
            NewAccount("carla", "carla@example.org", "correct horse", display_name=NAME),
        )


async def test_a_remote_display_name_reads_as_written_on_a_page(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await _carla_on_alpha(alpha)
    await make_account(beta, "dave")
    async with network.client("beta.test") as browser:
        await log_in(browser, "dave")
        page = await browser.get("/authorize_interaction?uri=http://alpha.test/users/carla")
    assert page.status_code == 200
    assert "&amp;#32;" not in page.text
    assert "<h2>Carla Zines &amp; co</h2>" in page.text


async def test_a_remote_display_name_has_no_entities_in_the_client_api(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await _carla_on_alpha(alpha)
    auth = await bearer(beta, "dave")
    async with network.client("beta.test") as http:
        found = await http.get(
            "/api/v2/search", params={"q": "carla@alpha.test", "resolve": "true"}, headers=auth
        )
    assert found.status_code == 200, found.text
    accounts = found.json()["accounts"]
    assert [account["display_name"] for account in accounts] == [NAME]
