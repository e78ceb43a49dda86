"""Real instances on loopback ports, talking ActivityPub over HTTP as admins run them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.instances import LiveInstance
from tests.support.live import eventually, user

FAST_RETRIES = {"LIKEWISE_DELIVERY_BACKOFF_SCALE": "0.001"}
Start = Callable[..., LiveInstance]
WAIT = 20.0  # seconds a change may take to cross between these instances


def _followers(instance: LiveInstance, name: str) -> int:
    response = httpx.get(
        f"{instance.base_url}/users/{name}/followers",
        headers={"Accept": "application/activity+json"},
    )
    return int(response.json()["totalItems"])


def _home(instance: LiveInstance, auth: dict[str, str]) -> list[dict[str, Any]]:
    response = httpx.get(f"{instance.base_url}/api/v1/timelines/home", headers=auth)
    result: list[dict[str, Any]] = response.json()
    return result


def _favourites(instance: LiveInstance, status_id: str) -> int:
    response = httpx.get(f"{instance.base_url}/api/v1/statuses/{status_id}")
    return int(response.json()["favourites_count"])


def _arrived(instance: LiveInstance, auth: dict[str, str], uri: str) -> dict[str, Any]:
    def found() -> list[dict[str, Any]]:
        return [s for s in _home(instance, auth) if s["uri"] == uri]

    result: dict[str, Any] = eventually(found, timeout=WAIT)[0]
    return result


def _follow(follower: LiveInstance, auth: dict[str, str], handle: str) -> None:
    response = httpx.post(f"{follower.base_url}/api/v1/follows", data={"uri": handle}, headers=auth)
    assert response.status_code == 200, response.text


def _post(instance: LiveInstance, auth: dict[str, str], text: str) -> dict[str, Any]:
    response = httpx.post(
        f"{instance.base_url}/api/v1/statuses", json={"status": text}, headers=auth
    )
    assert response.status_code == 200, response.text
    status: dict[str, Any] = response.json()
    return status


def test_follow_post_like_unlike_between_two_instances(instances: Start) -> None:
    alpha, beta = instances(env=FAST_RETRIES), instances(env=FAST_RETRIES)
    carol, dave = user(alpha, "carol"), user(beta, "dave")
    _follow(beta, dave, f"carol@{alpha.domain}")
    eventually(lambda: _followers(alpha, "carol") == 1, timeout=WAIT)
    status = _post(alpha, carol, "a post worth a like")
    arrived = _arrived(beta, dave, status["uri"])
    assert arrived["account"]["acct"] == f"carol@{alpha.domain}"
    for _ in range(2):  # a second favourite changes nothing
        liked = httpx.post(
            f"{beta.base_url}/api/v1/statuses/{arrived['id']}/favourite", headers=dave
        )
        assert liked.status_code == 200
    eventually(lambda: _favourites(alpha, status["id"]) == 1, timeout=WAIT)
    time.sleep(1.0)
    assert _favourites(alpha, status["id"]) == 1
    httpx.post(f"{beta.base_url}/api/v1/statuses/{arrived['id']}/unfavourite", headers=dave)
    eventually(lambda: _favourites(alpha, status["id"]) == 0, timeout=WAIT)
    assert "Traceback" not in alpha.read_log() + beta.read_log()


def test_queued_deliveries_survive_a_killed_sender_and_a_down_receiver(
    instances: Start,
) -> None:
    alpha, beta = instances(env=FAST_RETRIES), instances(env=FAST_RETRIES)
    carol, dave = user(alpha, "carol"), user(beta, "dave")
    _follow(beta, dave, f"carol@{alpha.domain}")
    eventually(lambda: _followers(alpha, "carol") == 1, timeout=WAIT)
    # The receiver is down when carol posts: the Create waits in alpha's queue.
    beta.stop()
    status = _post(alpha, carol, "posted while beta was down")
    time.sleep(1.5)
    beta.start()
    arrived = _arrived(beta, dave, status["uri"])
    # The sender queues a Like while alpha is down, then is killed before it can deliver.
    alpha.stop()
    liked = httpx.post(f"{beta.base_url}/api/v1/statuses/{arrived['id']}/favourite", headers=dave)
    assert liked.status_code == 200
    # Let attempts fail; one running at the kill is given back when beta's worker starts
    # again (server/jobs/orphans.py) instead of waiting minutes for its lease.
    time.sleep(1.0)
    beta.kill()
    alpha.start()
    beta.start()
    eventually(lambda: _favourites(alpha, status["id"]) == 1, timeout=30)


def test_three_instances_each_like_counts_once(instances: Start) -> None:
    alpha, beta, gamma = (instances(env=FAST_RETRIES) for _ in range(3))
    carol, dave, erin = user(alpha, "carol"), user(beta, "dave"), user(gamma, "erin")
    _follow(beta, dave, f"carol@{alpha.domain}")
    _follow(gamma, erin, f"carol@{alpha.domain}")
    eventually(lambda: _followers(alpha, "carol") == 2, timeout=WAIT)
    status = _post(alpha, carol, "one post, two instances")
    for instance, auth in ((beta, dave), (gamma, erin)):
        arrived = _arrived(instance, auth, status["uri"])
        liked = httpx.post(
            f"{instance.base_url}/api/v1/statuses/{arrived['id']}/favourite", headers=auth
        )
        assert liked.status_code == 200
    eventually(lambda: _favourites(alpha, status["id"]) == 2, timeout=WAIT)
    assert "Traceback" not in alpha.read_log() + beta.read_log() + gamma.read_log()
