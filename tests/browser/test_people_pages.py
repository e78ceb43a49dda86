"""A creator's and a visitor's first steps in Chromium against a real instance: the header
folds into a menu on a 390 px phone (no JavaScript) and shows its links on a wide screen;
the menu reaches "Write a post" and "My profile"; a logged-out visitor of a post is offered
to log in or sign up to like it as well as to like it from their own instance, and a page
that needs a log-in comes back after it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from playwright.async_api import Page, ViewportSize, expect

from tests.support.instances import LiveInstance

PASSWORD = "correct horse"
PHONE = ViewportSize(width=390, height=844)
WIDE = ViewportSize(width=1280, height=900)
WIDTH = "document.documentElement.scrollWidth"


def _user(instance: LiveInstance, name: str) -> None:
    instance.cli("users", "create", name, "--email", f"{name}@example.org", "--password", PASSWORD)


async def _log_in_here(page: Page, name: str) -> None:
    """Fill the log-in page the browser is on."""
    await page.get_by_label("Username or e-mail").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()


async def test_the_header_is_a_menu_on_a_phone_that_reaches_compose_and_ones_profile(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    # Given cat on a phone, sent to the log-in page by the compose page
    instance = instances()
    _user(instance, "cat")
    await page.set_viewport_size(PHONE)
    await page.goto(instance.base_url + "/compose")
    await expect(page).to_have_url(f"{instance.base_url}/login?next=%2Fcompose")
    await _log_in_here(page, "cat")
    # Then the log-in came back to the compose page; its links wait folded in the menu
    await expect(page).to_have_url(instance.base_url + "/compose")
    menu = page.get_by_text("Menu", exact=True)
    write = page.get_by_role("link", name="Write a post")
    await expect(menu).to_be_visible()
    await expect(write).to_be_hidden()
    assert await page.evaluate(WIDTH) <= 390
    await page.screenshot(path=str(tmp_path / "menu-closed-390.png"))
    # When she opens the menu, it lists her pages over the content, within the screen
    await menu.click()
    await expect(write).to_be_visible()
    await expect(page.get_by_role("link", name="My profile")).to_be_visible()
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()
    box = await page.get_by_role("navigation", name="Main").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert await page.evaluate(WIDTH) <= 390
    await page.screenshot(path=str(tmp_path / "menu-open-390.png"))
    # And writing a post from the compose page, the menu leads to her profile with it
    await write.click()
    text = page.get_by_label("What's new?")
    textbox = await text.bounding_box()
    assert textbox is not None and textbox["x"] + textbox["width"] <= 390 - 16
    await text.fill("A zine about the sea, with a very long word: " + "sea" * 40)
    await page.get_by_role("button", name="Post").click()
    await expect(page.locator("article.note .content")).to_contain_text("A zine about the sea")
    assert await page.evaluate(WIDTH) <= 390
    await menu.click()
    await page.get_by_role("link", name="My profile").click()
    await expect(page).to_have_url(instance.base_url + "/@cat")
    await expect(page.locator(".notes")).to_contain_text("A zine about the sea")
    assert await page.evaluate(WIDTH) <= 390
    # When the screen is wide, there is no menu to open: the links show
    await page.set_viewport_size(WIDE)
    await expect(menu).to_be_hidden()
    await expect(page.get_by_role("link", name="Write a post")).to_be_visible()
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()
    await page.screenshot(path=str(tmp_path / "header-1280.png"))


async def test_a_logged_out_visitor_of_a_post_can_log_in_or_sign_up_to_like_it(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    # Given cat's post, and dora, who has an account here but is logged out, on a phone
    instance = instances()
    _user(instance, "cat")
    _user(instance, "dora")
    await page.set_viewport_size(PHONE)
    await page.goto(instance.base_url + "/login?next=/compose")
    await _log_in_here(page, "cat")
    await page.get_by_label("What's new?").fill("My first song")
    await page.get_by_role("button", name="Post").click()
    post = page.url
    await page.context.clear_cookies()
    # When she opens the post
    await page.goto(post)
    # Then it offers both: to log in or sign up here, and to like from her own instance
    offer = page.locator(".like-here")
    await expect(offer).to_have_text("Log in or sign up to like this post here.")
    await expect(page.get_by_label("Like from your instance: your handle")).to_be_visible()
    assert await page.evaluate(WIDTH) <= 390
    await page.screenshot(path=str(tmp_path / "post-logged-out-390.png"), full_page=True)
    # When she logs in from there, she is back on the post and can like it
    await offer.get_by_role("link", name="Log in").click()
    await _log_in_here(page, "dora")
    await expect(page).to_have_url(post)
    await page.get_by_role("button", name="Like", exact=True).click()
    await expect(page.locator(".likes")).to_have_text("1 like")


async def test_the_button_page_says_liked_and_a_reload_does_not_like_again(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    # Given dora, with money in her wallet, on the button page of a blog post, on a phone
    instance = instances()
    _user(instance, "dora")
    instance.cli("wallet", "credit", "dora", "10.00", "--reference", "bank-1")
    url = "https://blog.example/2026/a-very-long-address-of-a-post-about-zines-and-the-sea"
    address = f"{instance.base_url}/button?url={quote(url, safe='')}"
    await page.set_viewport_size(PHONE)
    await page.goto(address)
    await page.get_by_role("link", name="Log in to like this").click()
    await _log_in_here(page, "dora")
    await expect(page).to_have_url(address)
    # When she likes it
    await page.get_by_role("button", name="Like this").click()
    # Then the page she lands on (by a redirect) says it is liked, with one like
    await expect(page).to_have_url(address)
    await expect(page.locator(".liked-state")).to_have_text("Liked ✓ this month")
    await expect(page.get_by_role("status")).to_contain_text("Liked.")
    await expect(page.locator(".count")).to_contain_text("1 like from")
    await expect(page.get_by_role("button", name="Like this")).to_have_count(0)
    assert await page.evaluate(WIDTH) <= 390
    await page.screenshot(path=str(tmp_path / "button-liked-390.png"), full_page=True)
    # When she reloads the page, it likes nothing again
    await page.reload()
    await expect(page.locator(".liked-state")).to_have_text("Liked ✓ this month")
    await expect(page.locator(".count")).to_contain_text("1 like from")
    await expect(page.get_by_role("status")).to_have_count(0)
    # And the badge says a like is a donation
    await page.goto(f"{instance.base_url}/button/badge.svg?url={quote(url, safe='')}")
    badge = page.get_by_role("img", name="Donate with a like on Likewise: 1 like so far")
    await expect(badge).to_have_count(1)


async def test_a_profile_shows_avatar_bio_supporters_and_posts_as_cards_with_likes(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    # Given cat, who wrote her bio and a post, and dora, who liked the post
    instance = instances()
    _user(instance, "cat")
    _user(instance, "dora")
    await page.set_viewport_size(PHONE)
    await page.goto(instance.base_url + "/login?next=/settings/profile")
    await _log_in_here(page, "cat")
    await page.get_by_label("Bio").fill("I draw zines about <the sea> & rain.")
    await page.get_by_role("button", name="Save").click()
    await page.goto(instance.base_url + "/compose")
    await page.get_by_label("What's new?").fill("A zine about the sea")
    await page.get_by_role("button", name="Post").click()
    post = page.url
    await page.context.clear_cookies()
    back = quote(post.removeprefix(instance.base_url))
    await page.goto(f"{instance.base_url}/login?next={back}")
    await _log_in_here(page, "dora")
    await page.get_by_role("button", name="Like", exact=True).click()
    # When anyone opens her profile on a phone
    await page.context.clear_cookies()
    await page.goto(instance.base_url + "/@cat")
    # Then it shows her avatar, her bio as she wrote it, her supporters and her post's likes
    avatar = page.locator("img.avatar")
    await expect(avatar).to_be_visible()
    assert await avatar.evaluate("img => img.complete && img.naturalWidth > 0")
    await expect(page.locator(".bio")).to_have_text("I draw zines about <the sea> & rain.")
    await expect(page.locator(".supporters")).to_have_text("1 supporter on Likewise")
    card = page.locator("article.note.card")
    await expect(card).to_have_count(1)
    await expect(card.locator(".content")).to_have_text("A zine about the sea")
    await expect(card.locator(".likes")).to_have_text("1 like")
    assert await page.evaluate(WIDTH) <= 390
    await page.screenshot(path=str(tmp_path / "profile-390.png"), full_page=True)
