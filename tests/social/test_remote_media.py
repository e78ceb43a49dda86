"""A remote note's attachments (Mastodon's Documents: url, mediaType, name, blurhash,
focalPoint, width, height) show as the status's media_attachments, typed by mediaType and
linking to where they live (nothing is downloaded); an Update replaces them. The note
arrives as a signed Create at the inbox, as another server delivers it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from tests.social.entity_fields import check
from tests.support.accounts import bearer
from tests.support.inbox import deliver, make_activity, make_note
from tests.support.network import Network
from tests.support.remote import RemoteActor

FIXTURE = Path(__file__).parent.parent / "data" / "ap_mastodon_note_attachments.json"
FILES = "http://files.mastodon.test/media_attachments/files"


def _attachments() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["attachment"]
    return copy.deepcopy(found)


async def _public(network: Network, auth: dict[str, str], **params: str) -> list[Any]:
    async with network.client("alpha.test") as http:
        answer = await http.get("/api/v1/timelines/public", params=params, headers=auth)
    assert answer.status_code == 200, answer.text
    found: list[Any] = answer.json()
    return found


async def test_a_remote_note_s_attachments_are_its_media(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    auth = await bearer(alpha, "carol")
    note = make_note(mastodon, "<p>pictures from the walk</p>")
    note["attachment"] = _attachments()
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Create", 1, note))

    [status] = await _public(network, auth)
    check("Status", status)
    check("Account", status["account"])
    media = status["media_attachments"]
    for attachment in media:
        check("MediaAttachment", attachment)
    assert [item["type"] for item in media] == ["image", "video", "audio", "unknown"]
    image, video, audio, other = media
    assert image["url"] == image["remote_url"] == image["preview_url"]
    assert image["remote_url"] == f"{FILES}/111/original/a1b2c3.jpg"
    assert image["description"] == "A red kite over a field"
    assert image["blurhash"] == "UDF~EA~q00IU00M{ofWB_3WBRjRjxuayWBay"
    assert image["meta"]["original"] == {
        "width": 1600,
        "height": 1200,
        "size": "1600x1200",
        "aspect": round(1600 / 1200, 6),
    }
    assert image["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    assert video["remote_url"] == f"{FILES}/112/original/clip.mp4"
    assert video["description"] is None and video["preview_url"] is None
    assert video["meta"]["original"]["size"] == "1280x720"
    assert audio["description"] == "Birdsong at dawn" and audio["meta"] == {}
    assert other["url"] == f"{FILES}/114/original/zine.pdf"  # a Link's href
    assert len({item["id"] for item in media}) == 4

    # only_media finds the note now; the single status answers the same media.
    assert [s["id"] for s in await _public(network, auth, only_media="true")] == [status["id"]]
    async with network.client("alpha.test") as http:
        one = await http.get(f"/api/v1/statuses/{status['id']}", headers=auth)
    assert one.status_code == 200 and one.json()["media_attachments"] == media


async def test_an_update_replaces_the_attachments(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    auth = await bearer(alpha, "carol")
    note = make_note(mastodon, "<p>one picture</p>")
    note["attachment"] = _attachments()[:2]
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Create", 1, note))
    edited = {**note, "updated": "2026-11-24T11:00:00Z", "attachment": _attachments()[2]}
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Update", 2, edited))
    [status] = await _public(network, auth)
    assert [item["type"] for item in status["media_attachments"]] == ["audio"]
    assert status["edited_at"] is not None
    removed = {**edited, "updated": "2026-11-24T12:00:00Z"}
    del removed["attachment"]
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Update", 3, removed))
    [status] = await _public(network, auth)
    assert status["media_attachments"] == []
    assert await _public(network, auth, only_media="true") == []


async def test_bad_attachment_values_are_left_out_not_refused(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    auth = await bearer(alpha, "carol")
    note = make_note(mastodon, "<p>odd media</p>")
    note["attachment"] = [
        "http://files.mastodon.test/just-a-string.png",
        {"type": "Image", "url": [], "mediaType": "image/png"},
        {
            "type": "Image",
            "url": [{"type": "Link", "href": f"{FILES}/9/a.png"}],
            "mediaType": "IMAGE/PNG",
            "width": "wide",
            "height": -3,
            "blurhash": "<script>",
            "focalPoint": [5, 5],
            "name": "x" * 5000,
        },
    ]
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Create", 1, note))
    [status] = await _public(network, auth)
    [image] = status["media_attachments"]
    check("MediaAttachment", image)
    assert image["type"] == "image" and image["url"] == f"{FILES}/9/a.png"
    assert image["meta"] == {"focus": {"x": 0.0, "y": 0.0}} and image["blurhash"] is None
    assert len(image["description"]) == 1500
