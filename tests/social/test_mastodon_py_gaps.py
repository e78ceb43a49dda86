"""Mastodon.py against a live instance, as a donor's app: posting defaults set through
update_credentials and read back from preferences, search (own URLs and handles, words,
hashtags) parsed into its entities, and follow requests answered by the ids it lists."""

from __future__ import annotations

from mastodon import Mastodon

from tests.support.live import Start, user


def _app(instance_url: str, auth: dict[str, str]) -> Mastodon:
    token = auth["Authorization"].removeprefix("Bearer ")
    return Mastodon(access_token=token, api_base_url=instance_url, version_check_mode="none")


def test_mastodon_py_defaults_search_and_follow_requests(instances: Start) -> None:
    instance = instances()
    carol = _app(instance.base_url, user(instance, "carol"))
    dave = _app(instance.base_url, user(instance, "dave"))
    # Posting defaults: set as Mastodon.py sends them, read back, used
    carol.account_update_credentials(default_privacy="unlisted", default_language="de")
    preferences = carol.preferences()
    assert preferences["posting:default:visibility"] == "unlisted"
    assert preferences["posting:default:language"] == "de"
    posted = carol.status_post("Seedlings and #gardening tips")
    assert posted["visibility"] == "unlisted" and posted["language"] == "de"
    public = carol.status_post("Open to all #gardening", visibility="public")
    # Search: the post's web URL and carol's handle found here, words and tags too
    by_url = dave.search_v2(public["url"], resolve=True)
    assert [s["id"] for s in by_url["statuses"]] == [public["id"]]
    by_handle = dave.search_v2(f"@carol@{instance.domain}", resolve=True)
    assert [a["acct"] for a in by_handle["accounts"]] == ["carol"]
    by_word = dave.search_v2("car", resolve=False)
    assert [a["username"] for a in by_word["accounts"]] == ["carol"]
    tags = dave.search_v2("#garden", resolve=False, result_type="hashtags")
    assert [t["name"] for t in tags["hashtags"]] == ["gardening"]
    assert tags["hashtags"][0]["url"].endswith("/tags/gardening")
    assert tags["accounts"] == [] and tags["statuses"] == []
    # Follow requests: carol locks her account, dave asks, carol authorizes by the listed id
    carol.account_update_credentials(locked=True)
    carol_id = carol.me()["id"]
    assert dave.account_follow(carol_id)["requested"] is True
    requests = carol.follow_requests()
    notified = carol.notifications(types=["follow_request"])
    assert [a["acct"] for a in requests] == ["dave"]
    assert [n["account"]["id"] for n in notified] == [requests[0]["id"]]
    relationship = carol.follow_request_authorize(requests[0]["id"])
    assert relationship["id"] == requests[0]["id"] and relationship["followed_by"] is True
    assert dave.account_relationships(carol_id)[0]["following"] is True
    assert carol.follow_requests() == []
    assert carol.notifications(types=["follow_request"]) == []
    assert "Traceback" not in instance.read_log()
