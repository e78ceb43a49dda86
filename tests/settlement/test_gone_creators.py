"""Before a batch is offered, each creator's actor is looked up: one whose server answers
404 or 410 is not payable (its money stays in escrow); one that cannot be asked at all
stops the batch, whatever its address holds (a 404 in a URL is no answer)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from server.context import context
from server.federation.remote import RemoteError
from server.settlement.outgoing import payable_creators
from tests.support.network import Network


async def test_an_actor_that_is_not_there_is_not_payable(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    db, remote = context(alpha).db, context(alpha).federation.remote
    # Given beta has no user "nobody": beta answers its URL 404
    nobody = "http://beta.test/users/nobody"
    # Then that creator is not payable, and nothing is raised
    assert await payable_creators(db, remote, [nobody]) == (set(), {nobody})


async def test_a_server_that_cannot_be_asked_stops_the_batch_even_with_404_in_the_url(
    alpha: Starlette, network: Network
) -> None:
    db, remote = context(alpha).db, context(alpha).federation.remote
    # Given a creator on a host nobody answers for, whose URL holds "404" and "410"
    unreachable = "http://down.test/users/404-410"
    # Then the lookup fails as a whole: nothing is decided on missing information
    with pytest.raises(RemoteError) as failed:
        await payable_creators(db, remote, [unreachable])
    assert not failed.value.gone
