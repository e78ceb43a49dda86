"""A favourite from a Mastodon app on instance A, of a post on instance B: a click on A, a
Like on B, and after A closes the month B's creator is credited through settlement
(pending, then available once the payment is confirmed). Mastodon.py is the app; both
instances are real processes talking HTTP on loopback."""

from __future__ import annotations

from typing import Any

import httpx
from mastodon import Mastodon

from tests.support.instances import LiveInstance
from tests.support.live import (
    FAST,
    Start,
    close,
    creator_balances,
    eventually,
    incoming_notice,
    ledger_ok,
    me,
    peer,
    post,
    user,
)


def _app(instance: LiveInstance, auth: dict[str, str]) -> Mastodon:
    token = auth["Authorization"].removeprefix("Bearer ")
    return Mastodon(access_token=token, api_base_url=instance.base_url)


def _favourites_count(instance: LiveInstance, status_id: str) -> int:
    response = httpx.get(f"{instance.base_url}/api/v1/statuses/{status_id}")
    assert response.status_code == 200, response.text
    count: int = response.json()["favourites_count"]
    return count


def _followers(instance: LiveInstance, auth: dict[str, str]) -> int:
    response = httpx.get(
        f"{instance.base_url}/api/v1/accounts/verify_credentials", headers=auth, timeout=10
    )
    assert response.status_code == 200, response.text
    return int(response.json()["followers_count"])


def _clicks(instance: LiveInstance, auth: dict[str, str]) -> int:
    period: dict[str, Any] = me(instance, auth)["period"]
    return int(period["clicks"])


def test_a_favourite_in_an_app_pays_the_creator_on_the_other_instance(
    instances: Start,
) -> None:
    alpha, beta = instances(env=FAST), instances(env=FAST)
    ann, bob = user(alpha, "ann"), user(beta, "bob")
    alpha.cli("wallet", "credit", "ann", "10.00", "--reference", "bank-1")
    peer(alpha, beta)
    status = post(beta, bob, "a post worth supporting")
    # Given ann's app on alpha finds bob's post by its address
    app = _app(alpha, ann)
    found = app.search_v2(status["url"], resolve=True)
    assert [hit["uri"] for hit in found["statuses"]] == [status["uri"]]
    remote = found["statuses"][0]
    # And follows bob there, found by his handle: his next post reaches her home timeline
    accounts = app.account_search(f"bob@{beta.domain}", resolve=True)
    assert [account["acct"] for account in accounts] == [f"bob@{beta.domain}"]
    relationship = app.account_follow(accounts[0]["id"])
    assert relationship["following"] or relationship["requested"]
    eventually(lambda: _followers(beta, bob) == 1)
    eventually(lambda: app.account_relationships(accounts[0]["id"])[0]["following"] is True)
    post(beta, bob, "a second post, for followers")
    eventually(
        lambda: any("a second post" in s["content"] for s in app.timeline_home()),
    )
    # When she favourites the first one
    liked = app.status_favourite(remote["id"])
    # Then it is a click on alpha and a Like on beta
    assert liked["favourited"] is True and liked["favourites_count"] == 1
    assert _clicks(alpha, ann) == 1
    eventually(lambda: _favourites_count(beta, status["id"]) == 1)
    # And when alpha closes the month, bob is credited on beta: pending, then available
    close(alpha)
    eventually(lambda: creator_balances(beta, bob) == (500, 0))
    alpha.cli("settlements", "mark-paid", beta.domain, "5.00", "--reference", "SEPA-1")
    payment = eventually(lambda: incoming_notice(beta))
    beta.cli("settlements", "confirm", payment)
    eventually(lambda: creator_balances(beta, bob) == (0, 500))
    for instance in (alpha, beta):
        ledger_ok(instance)
    assert "Traceback" not in alpha.read_log() + beta.read_log()
