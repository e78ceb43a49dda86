"""Media uploads through the client API: real images made with Pillow, checked, stripped,
previewed, stored and served; what is not an allowed image is refused with a 4xx."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image
from starlette.applications import Starlette

from server.context import context
from server.domain_errors import ValidationFailed
from server.models import Account
from server.settings import Settings
from server.social import media
from server.social.notes import NewStatus, create_status
from tests.support.accounts import make_account, make_token

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def image_bytes(fmt: str, size: tuple[int, int] = (800, 600), **save: object) -> bytes:
    image = Image.new("RGB", size, (200, 40, 40))
    for x in range(0, size[0], 50):
        for y in range(size[1] // 2):
            image.putpixel((x, y), (0, 90, 200))
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    """A 800x600 JPEG whose EXIF says: rotate 90° to show it, and where it was taken."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(GPS_IFD)[2] = (48.0, 51.0, 30.0)
    return image_bytes("JPEG", exif=exif.tobytes())


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(media_max_bytes=200_000)


@pytest.fixture
async def alice(app: Starlette) -> Account:
    return await make_account(app, "alice")


@pytest.fixture
async def token(app: Starlette, alice: Account) -> str:
    return await make_token(app, alice)


@pytest.fixture
async def api(client: httpx.AsyncClient, token: str) -> AsyncIterator[httpx.AsyncClient]:
    client.headers["Authorization"] = f"Bearer {token}"
    yield client


async def _upload(
    api: httpx.AsyncClient, data: bytes, path: str = "/api/v1/media", **fields: str
) -> httpx.Response:
    return await api.post(path, files={"file": ("picture", data, "image/png")}, data=fields)


async def test_a_png_is_stored_with_its_preview_and_served(api: httpx.AsyncClient) -> None:
    answer = await _upload(api, image_bytes("PNG", (1000, 500)), description="a red field")
    assert answer.status_code == 200, answer.text
    entity = answer.json()
    assert entity["type"] == "image" and entity["description"] == "a red field"
    assert entity["meta"]["original"] == {
        "width": 1000,
        "height": 500,
        "size": "1000x500",
        "aspect": 2.0,
    }
    assert entity["meta"]["small"]["size"] == "400x200"
    assert entity["remote_url"] is None and len(entity["blurhash"]) >= 6
    served = await api.get(entity["url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(served.content)).size == (1000, 500)
    preview = await api.get(entity["preview_url"])
    assert Image.open(io.BytesIO(preview.content)).size == (400, 200)


async def test_exif_is_dropped_and_the_orientation_applied(api: httpx.AsyncClient) -> None:
    answer = await _upload(api, jpeg_with_exif(), "/api/v2/media")
    assert answer.status_code == 200, answer.text
    entity = answer.json()
    # Shown upright: the 800x600 sensor image is 600 wide and 800 high.
    assert entity["meta"]["original"]["size"] == "600x800"
    stored = Image.open(io.BytesIO((await api.get(entity["url"])).content))
    assert stored.format == "JPEG" and stored.size == (600, 800)
    assert not stored.getexif() and "exif" not in stored.info


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "JPEG"])
async def test_each_allowed_format_is_kept_in_its_format(api: httpx.AsyncClient, fmt: str) -> None:
    answer = await _upload(api, image_bytes(fmt, (300, 300)))
    assert answer.status_code == 200, answer.text
    served = await api.get(answer.json()["url"])
    assert Image.open(io.BytesIO(served.content)).format == fmt
    assert served.headers["content-type"] == f"image/{fmt.lower()}"


async def test_description_and_focus_are_read_and_changed(
    app: Starlette, api: httpx.AsyncClient
) -> None:
    entity = (await _upload(api, image_bytes("PNG"), focus="0.5,-0.25")).json()
    assert entity["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    url = f"/api/v1/media/{entity['id']}"
    changed = await api.put(url, data={"description": "blue stripes", "focus": "-1,1"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["description"] == "blue stripes"
    again = await api.get(url)
    assert again.json()["meta"]["focus"] == {"x": -1.0, "y": 1.0}
    # Someone else's attachment is no one's business.
    other = await make_token(app, await make_account(app, "mallory"))
    hidden = await api.get(url, headers={"Authorization": f"Bearer {other}"})
    assert hidden.status_code == 404 and "error" in hidden.json()


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"this is plain text, not a picture", 422),
        (image_bytes("PNG")[:300], 422),  # a truncated PNG
        (image_bytes("BMP", (40, 40)), 422),  # an image, not of an allowed format
        (image_bytes("PNG", (9000, 10)), 413),  # wider than 8192 pixels
        (image_bytes("PNG", (6000, 6000)), 413),  # 36 Mpx
        (b"", 422),
    ],
)
async def test_what_is_not_an_allowed_image_is_refused(
    api: httpx.AsyncClient, data: bytes, status: int
) -> None:
    answer = await _upload(api, data)
    assert answer.status_code == status, answer.text
    assert "error" in answer.json()


async def test_an_oversize_body_is_refused_before_it_is_read(api: httpx.AsyncClient) -> None:
    big = image_bytes("PNG", (10, 10)) + bytes(400_000)
    answer = await _upload(api, big)
    assert answer.status_code == 413 and "error" in answer.json()


async def test_malformed_requests_get_mastodon_errors(
    app: Starlette, api: httpx.AsyncClient
) -> None:
    for answer in (
        await api.post("/api/v1/media", json={"file": "x"}),
        await api.post("/api/v1/media", data={"file": "not a file"}, files={"x": ("a", b"b")}),
        await _upload(api, image_bytes("PNG"), focus="left"),
        await _upload(api, image_bytes("PNG"), focus="2,0"),
        await _upload(api, image_bytes("PNG"), description="x" * 1501),
        await api.get("/api/v1/media/99999"),
        await api.get("/api/v1/media/x1"),
        await api.get("/media/attachments/..%2Fconfig.toml"),
        await api.get("/media/attachments/" + "0" * 32 + ".png"),
    ):
        assert 400 <= answer.status_code < 500, answer.text
    reader = await make_token(app, await make_account(app, "reader"), "read")
    no_scope = await api.post(
        "/api/v1/media",
        files={"file": ("p", image_bytes("PNG"), "image/png")},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert no_scope.status_code == 403


async def test_attach_takes_only_the_accounts_own_unattached_media(
    app: Starlette, api: httpx.AsyncClient, alice: Account
) -> None:
    ids = [int((await _upload(api, image_bytes("PNG"))).json()["id"]) for _ in range(5)]
    app_context = context(app)
    async with app_context.db.transaction() as session:
        note = await create_status(session, app_context.settings, alice, NewStatus("pictures"))
        with pytest.raises(ValidationFailed):
            await media.attach(session, alice.id or 0, note.id or 0, ids)  # five
        attached = await media.attach(session, alice.id or 0, note.id or 0, ids[1:3])
        assert [row.id for row in attached] == ids[1:3]
        with pytest.raises(ValidationFailed):
            await media.attach(session, alice.id or 0, note.id or 0, ids[1:2])  # taken
        found = await media.for_notes(session, [note.id or 0, 12345])
        assert [row.id for row in found[note.id or 0]] == ids[1:3] and 12345 not in found
    mallory = await make_account(app, "mallory")
    async with app_context.db.transaction() as session:
        with pytest.raises(ValidationFailed):
            await media.attach(session, mallory.id or 0, note.id or 0, ids[:1])
