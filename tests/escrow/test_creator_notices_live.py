"""The creator notice as admins run it: a real `likewise serve` on a loopback port, and a
fediverse server (bob's) on another, talking over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.live import FAST, Start, close, eventually, like, user
from tests.support.remote import RemoteActor, RemoteServer, fediverse_creator, serving

PAGE = re.compile(r'href="(http://127\.0\.0\.1:\d+/waiting/[\w-]+)"')


@pytest.fixture
def bob() -> Iterator[RemoteActor]:
    """Bob's server, served by uvicorn in a thread on its own loopback port."""
    with serving(RemoteServer()) as server:
        yield fediverse_creator(server)


def test_a_liked_fediverse_creator_gets_one_signed_direct_note_and_can_block(
    instances: Start, bob: RemoteActor
) -> None:
    # Given a donor on alpha who likes bob's post (alpha fetches it from bob's server)
    alpha = instances(env=FAST)
    ann = user(alpha, "ann")
    alpha.cli("wallet", "credit", "ann", "10.00", "--reference", "bank-1")
    like(alpha, ann, bob.post_uri(1))
    # When the admin closes the month, and alpha's own worker carries on
    close(alpha)
    # Then bob's server receives one note, signed with the key alpha's actor publishes
    notices = eventually(bob.server.notices)
    actor = httpx.get(f"{alpha.base_url}/actor", headers={"Accept": "application/activity+json"})
    key = actor.json()["publicKey"]
    bob.server.check_signed_by(notices[0], key["id"], key["publicKeyPem"])
    note = notices[0].activity["object"]
    assert note["to"] == [bob.uri] and note["cc"] == []
    assert (
        f"Supporters on {alpha.domain} have set aside 5.00 EUR for you (1 supporter)"
        in (note["content"])
    )
    found = PAGE.search(note["content"])
    assert found is not None and found.group(1).startswith(alpha.base_url)
    page = httpx.get(found.group(1))
    assert page.status_code == 200 and "5.00 EUR" in page.text
    # Nothing more this month (the admin's list shows the one notice)
    assert "5.00" in alpha.cli("notices", "list").stdout
    assert len(bob.server.notices()) == 1
    # An unsigned Block is refused; bob's signed Block is taken, and the admin sees it
    inbox = f"{alpha.base_url}/actor/inbox"
    block = bob.block(f"{alpha.base_url}/actor")
    unsigned = httpx.post(inbox, json=block, headers={"Content-Type": "application/activity+json"})
    assert unsigned.status_code == 401
    assert "nobody has opted out" in alpha.cli("notices", "opt-outs").stdout
    body, headers = bob.signed(inbox, block)
    assert httpx.post(inbox, content=body, headers=headers).status_code == 202
    listed = eventually(lambda: bob.uri in (out := alpha.cli("notices", "opt-outs").stdout) and out)
    assert "block" in listed
    assert "Traceback" not in alpha.read_log()
