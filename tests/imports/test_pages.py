"""Imports through the pages, over HTTP, with the real database: upload, the parse job, the
preview's numbers, confirm, the clicks; re-imports, double submits, cancel, hostile files."""

from __future__ import annotations

import io
import zipfile

import httpx
from sqlmodel import select

from server.context import context
from server.errors import plain_message
from server.models import ImportBatch, ImportLike, ImportState
from tests.imports.support import (
    EXPORTS,
    Donor,
    facebook_export,
    instagram_export,
    long_ago,
    number,
    this_month,
)
from tests.support.accounts import csrf_from, log_in, make_account

NEW = [
    ("alice.photos", "CaaaaaaaaA1", this_month(1)),
    ("alice.photos", "CbbbbbbbbB2", this_month(2)),
    ("bob_makes", "CccccccccC3", this_month(3)),
]
OLD = [("carol", "CdddddddD4", long_ago()), ("dave", "CeeeeeeeE5", long_ago(800))]


def _uploads_left(donor: Donor) -> list[str]:
    folder = context(donor.app).settings.data_dir / "imports"
    return [str(path) for path in folder.rglob("*")] if folder.exists() else []


async def test_an_export_is_read_shown_and_counted_only_for_the_open_month(donor: Donor) -> None:
    # Given an Instagram export with three likes of this month and two older ones
    content = instagram_export(NEW + OLD)
    # When the donor uploads it, the page shows it waiting to be read
    answer = await donor.upload("liked_posts.json", content, "instagram")
    assert answer.status_code == 303
    waiting = await donor.web.get(answer.headers["location"])
    assert waiting.status_code == 200 and "<progress" in waiting.text
    assert 'http-equiv="refresh"' in waiting.text  # without JavaScript too
    progress = await donor.web.get(answer.headers["location"] + "/progress")
    assert progress.json()["running"] is True
    await context(donor.app).worker.drain()
    batch_id = int(answer.headers["location"].rsplit("/", 1)[1])
    # Then the preview says what it found, and nothing counts yet
    page = (await donor.web.get(f"/settings/imports/{batch_id}")).text
    assert (number(page, "found"), number(page, "in-period"), number(page, "older")) == (5, 3, 2)
    assert (number(page, "creators"), number(page, "duplicates")) == (4, 0)
    assert "@carol" in page and "Older likes (not charged)" in page
    assert await donor.clicks() == []
    assert _uploads_left(donor) == []  # the upload is deleted once read
    # When the donor confirms
    confirmed = await donor.post(batch_id, "confirm")
    assert confirmed.status_code == 303
    # Then this month's three likes are clicks from the import, the older ones are not
    clicks = await donor.clicks()
    assert sorted(click.source_ref or "" for click in clicks) == sorted(c for _, c, _ in NEW)
    assert {click.source for click in clicks} == {"import:instagram"}
    page = (await donor.web.get(f"/settings/imports/{batch_id}")).text
    assert "Confirmed: 3 likes counted." in page and number(page, "counted") == 3
    assert (await donor.batch(batch_id)).state == ImportState.counted


async def test_a_double_confirm_counts_once(donor: Donor) -> None:
    batch_id = await donor.imported("liked_posts.json", instagram_export(NEW))
    first = await donor.post(batch_id, "confirm")
    second = await donor.post(batch_id, "confirm")
    assert (first.status_code, second.status_code) == (303, 303)
    assert len(await donor.clicks()) == 3
    assert (await donor.batch(batch_id)).counted == 3


async def test_an_overlapping_export_adds_only_what_is_new(donor: Donor) -> None:
    first = await donor.imported("liked_posts.json", instagram_export(NEW[:2]))
    assert (await donor.post(first, "confirm")).status_code == 303
    # A newer download holds the same two likes and one more
    second = await donor.imported("liked_posts.json", instagram_export(NEW))
    page = (await donor.web.get(f"/settings/imports/{second}")).text
    assert (number(page, "found"), number(page, "duplicates"), number(page, "in-period")) == (
        3,
        2,
        1,
    )
    assert (await donor.post(second, "confirm")).status_code == 303
    clicks = await donor.clicks()
    assert sorted(click.source_ref or "" for click in clicks) == sorted(c for _, c, _ in NEW)
    # The same download a third time: nothing new
    third = await donor.imported("liked_posts.json", instagram_export(NEW))
    assert (await donor.batch(third)).duplicates == 3
    assert (await donor.post(third, "confirm")).status_code == 303
    assert len(await donor.clicks()) == 3


async def test_a_newer_upload_replaces_one_waiting_for_confirmation(donor: Donor) -> None:
    first = await donor.imported("liked_posts.json", instagram_export(NEW[:1]))
    second = await donor.imported("liked_posts.json", instagram_export(NEW))
    assert (await donor.batch(first)).state == ImportState.cancelled
    assert (await donor.batch(second)).in_period == 3
    refused = await donor.post(first, "confirm")
    assert refused.status_code == 409 and "cancelled" in refused.text
    assert (await donor.post(second, "confirm")).status_code == 303
    assert len(await donor.clicks()) == 3


async def test_cancel_discards_the_import(donor: Donor) -> None:
    batch_id = await donor.imported("liked_posts.json", instagram_export(NEW))
    cancelled = await donor.post(batch_id, "cancel")
    assert cancelled.status_code == 303
    assert (await donor.batch(batch_id)).state == ImportState.cancelled
    async with donor.db.session() as session:
        assert (await session.exec(select(ImportLike))).all() == []
    refused = await donor.post(batch_id, "confirm")
    assert refused.status_code == 409
    assert await donor.clicks() == []


async def test_a_facebook_export_counts_reactions_without_a_post_address(donor: Donor) -> None:
    content = facebook_export([("Alex Morgan", this_month(5)), ("Zoë André", long_ago())])
    batch_id = await donor.imported("likes_and_reactions_1.json", content)
    batch = await donor.batch(batch_id)
    assert (batch.network, batch.found, batch.in_period, batch.older) == ("facebook", 2, 1, 1)
    assert (await donor.post(batch_id, "confirm")).status_code == 303
    clicks = await donor.clicks()
    assert [click.source for click in clicks] == ["import:facebook"]


async def test_undated_likes_of_a_first_import_are_not_charged_and_unknown_creators_wait(
    donor: Donor,
) -> None:
    content = (EXPORTS / "x" / "like.js").read_bytes()
    batch_id = await donor.imported("like.js", content)
    batch = await donor.batch(batch_id)
    assert batch.network == "x" and batch.in_period == 0
    assert batch.unresolved >= 1 and batch.older + batch.unresolved == batch.found
    page = (await donor.web.get(f"/settings/imports/{batch_id}")).text
    assert "nobody can be paid for them until their creator is known" in page
    assert "On the first import of X (Twitter) they are taken as older likes" in page
    assert (await donor.post(batch_id, "confirm")).status_code == 303
    assert await donor.clicks() == []


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("your_instagram_activity/likes/liked_posts.json", b"0" * 200_000_000)
    return buffer.getvalue()


async def test_hostile_and_wrong_files_get_a_clear_message_and_count_nothing(
    donor: Donor,
) -> None:
    cases = [
        ("liked_posts.html", (EXPORTS / "instagram" / "liked_posts.html").read_bytes(), "JSON"),
        ("export.zip", b"PK\x03\x04" + b"\x00" * 64, ""),
        ("export.zip", _bomb(), ""),
        ("like.js", (EXPORTS / "x" / "like.js").read_bytes(), "not Instagram"),
        ("liked_posts.json", b'{"likes_media_likes": [{"title": ', ""),
        ("liked_posts.json", "\ufeff{".encode("utf-16"), ""),
    ]
    for name, content, says in cases:
        network = "instagram"
        batch_id = await donor.imported(name, content, network)
        page = await donor.web.get(f"/settings/imports/{batch_id}")
        assert page.status_code == 200
        batch = await donor.batch(batch_id)
        assert batch.state == ImportState.failed, (name, batch.state)
        assert batch.error and says in batch.error, (name, batch.error)
        assert (
            "This file was not imported" in page.text
            and plain_message(batch.error)[:40] in page.text
        )
        assert _uploads_left(donor) == [], name
    assert await donor.clicks() == []
    async with donor.db.session() as session:
        assert (await session.exec(select(ImportLike))).all() == []


async def test_an_empty_or_missing_file_and_an_unknown_network_are_refused_on_the_form(
    donor: Donor,
) -> None:
    empty = await donor.upload("liked_posts.json", b"")
    assert empty.status_code == 422 and "the file is empty" in empty.text
    page = await donor.web.get("/settings/imports")
    missing = await donor.web.post(
        "/settings/imports/upload",
        data={"network": "auto", "csrf_token": csrf_from(page.text)},
        files={"other": ("x.json", b"{}", "application/json")},
    )
    assert missing.status_code == 422 and "choose the export file" in missing.text
    unknown = await donor.upload("liked_posts.json", b"{}", "myspace")
    assert unknown.status_code == 422 and "unknown network" in unknown.text
    async with donor.db.session() as session:
        assert (await session.exec(select(ImportBatch))).all() == []
    assert _uploads_left(donor) == []


async def test_pages_need_a_login_and_another_donors_import_is_not_found(donor: Donor) -> None:
    batch_id = await donor.imported("liked_posts.json", instagram_export(NEW))
    await make_account(donor.app, "eve")
    transport = httpx.ASGITransport(app=donor.app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url=str(donor.web.base_url)) as web:
        anonymous = await web.get("/settings/imports")
        assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
        assert (await log_in(web, "eve")).status_code == 303
        assert (await web.get(f"/settings/imports/{batch_id}")).status_code == 404
        assert (await web.get(f"/settings/imports/{batch_id}/progress")).status_code == 404
        eve = Donor(donor.app, web, 0)
        assert (await eve.post(batch_id, "confirm")).status_code in (403, 404)
    assert await donor.clicks() == []
