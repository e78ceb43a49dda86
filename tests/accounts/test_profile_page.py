"""The profile settings page: a CSRF-checked form with images and up to four fields, that
a phone-sized browser can use."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import httpx
from PIL import Image
from playwright.async_api import Page, expect
from starlette.applications import Starlette

from tests.accounts.test_accounts_api import png
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.instances import LiveInstance


async def test_the_profile_form_saves_and_refuses_with_what_was_typed(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    away = await client.get("/settings/profile")
    assert away.status_code == 303 and away.headers["location"].startswith("/login")
    await make_account(app, "alice")
    await log_in(client, "alice")
    page = await client.get("/settings/profile")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    token = csrf_from(page.text)
    form = {
        "csrf_token": token,
        "display_name": "Alice",
        "note": "I sing.",
        "fields_attributes[0][name]": "Website",
        "fields_attributes[0][value]": "https://alice.example",
        "discoverable": "on",
    }
    saved = await client.post(
        "/settings/profile", data=form, files={"avatar": ("a.png", png(), "image/png")}
    )
    assert saved.status_code == 303
    shown = await client.get("/settings/profile")
    assert "Your profile is saved." in shown.text
    assert 'value="https://alice.example"' in shown.text and "/media/accounts/" in shown.text
    me = (await client.get("/api/v1/accounts/verify_credentials")).json()
    assert me["display_name"] == "Alice" and me["locked"] is False and me["discoverable"] is True
    assert me["fields"][0]["name"] == "Website"
    # A file that is no image is refused; the page keeps what was typed
    refused = await client.post(
        "/settings/profile",
        data={**form, "display_name": "Alice typed"},
        files={"header": ("h.png", b"plain text", "image/png")},
    )
    assert refused.status_code == 422
    assert 'value="Alice typed"' in refused.text and "not an image" in refused.text
    assert (await client.get("/api/v1/accounts/verify_credentials")).json()["display_name"] == (
        "Alice"
    )
    # Without the form's CSRF token nothing changes
    forged = await client.post("/settings/profile", data={**form, "csrf_token": "x"})
    assert forged.status_code == 403


async def test_a_phone_sized_browser_edits_the_profile(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    instance = instances()
    instance.cli(
        "users", "create", "cleo", "--email", "c@example.org", "--password", "correct horse"
    )
    avatar = tmp_path / "avatar.jpg"
    Image.new("RGB", (400, 400), (90, 20, 160)).save(avatar, format="JPEG")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(instance.base_url + "/login?next=/settings/profile")
    await page.get_by_label("Username or e-mail").fill("cleo")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Log in").click()
    await page.goto(instance.base_url + "/settings/profile")
    await page.get_by_label("Display name").fill("Cleo the Potter")
    await page.get_by_label("Bio").fill("Pots, mostly.")
    await page.get_by_label("Field 1 label").fill("Shop")
    await page.get_by_label("Field 1 content").fill("https://cleo.example/shop")
    await page.get_by_label("Avatar", exact=False).set_input_files(str(avatar))
    await page.get_by_role("button", name="Save profile").click()
    await expect(page.get_by_role("status")).to_contain_text("Your profile is saved.")
    await expect(page.get_by_label("Display name")).to_have_value("Cleo the Potter")
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow == 0  # nothing wider than the phone's screen
    await page.screenshot(path=str(tmp_path / "profile-390.png"), full_page=True)
    actor = httpx.get(
        instance.base_url + "/users/cleo", headers={"Accept": "application/activity+json"}
    ).json()
    assert actor["name"] == "Cleo the Potter"
    assert actor["icon"]["mediaType"] == "image/jpeg"
    served = httpx.get(actor["icon"]["url"])
    assert served.status_code == 200
    assert Image.open(io.BytesIO(served.content)).size == (400, 400)
    assert [a["name"] for a in actor["attachment"] if a["type"] == "PropertyValue"] == ["Shop"]
