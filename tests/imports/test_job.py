"""The parse job: a crash while the likes are kept is read again from the file it kept (its
own rows are no duplicates); after the last attempt the import fails and the file goes. The
upload path alone takes a large body."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from server.context import context
from server.imports import parsing
from server.models import ImportLike, ImportState, Job
from server.models.base import utcnow
from tests.imports.support import Donor, instagram_export, long_ago, this_month

LIKES = [(f"maker{n}", f"Cpost{n:06d}", this_month(n)) for n in range(1, 1201)]


async def _due(donor: Donor) -> None:
    async with donor.db.transaction() as session:
        await session.exec(update(Job).values(run_after=utcnow() - timedelta(seconds=1)))


async def test_a_crash_while_keeping_the_likes_is_read_again(
    donor: Donor, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = instagram_export([*LIKES, ("old", "Cold000001", long_ago())])
    real = parsing._progress
    crashes: list[int] = []

    async def crash_once(db: object, batch_id: int, step: str, done: int, total: int) -> bool:
        if step == "saving" and done == parsing.CHUNK and not crashes:
            crashes.append(1)
            raise RuntimeError("the process died")
        return await real(db, batch_id, step, done, total)  # type: ignore[arg-type]

    monkeypatch.setattr(parsing, "_progress", crash_once)
    batch_id = await donor.imported("liked_posts.json", content)
    # The first attempt kept a chunk of its rows and then died; it is still being read
    assert (await donor.batch(batch_id)).state == ImportState.parsing
    async with donor.db.session() as session:
        assert len((await session.exec(select(ImportLike))).all()) == parsing.CHUNK
    await _due(donor)
    await context(donor.app).worker.drain()
    batch = await donor.batch(batch_id)
    assert batch.state == ImportState.previewed
    assert (batch.found, batch.duplicates, batch.in_period, batch.older) == (1201, 0, 1200, 1)
    assert batch.upload_path == ""
    assert list((context(donor.app).settings.data_dir / "imports").iterdir()) == []
    assert (await donor.post(batch_id, "confirm")).status_code == 303
    assert len(await donor.clicks()) == 1200


async def test_after_the_last_attempt_the_import_fails_and_its_file_goes(
    donor: Donor, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def always(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the process died")

    monkeypatch.setattr(parsing, "_resolve", always)
    batch_id = await donor.imported("liked_posts.json", instagram_export(LIKES[:3]))
    for _ in range(2):
        await _due(donor)
        await context(donor.app).worker.drain()
    batch = await donor.batch(batch_id)
    assert batch.state == ImportState.failed and "could not be imported" in batch.error
    assert list((context(donor.app).settings.data_dir / "imports").iterdir()) == []
    page = await donor.web.get(f"/settings/imports/{batch_id}")
    assert "This file was not imported" in page.text


async def test_only_the_upload_path_takes_a_body_over_the_usual_limit(donor: Donor) -> None:
    limit = context(donor.app).settings.max_body_bytes
    many = [(f"maker{n}", f"Cbig{n:07d}", long_ago()) for n in range(12_000)]
    big = instagram_export(many)
    assert len(big) > limit
    answer = await donor.upload("liked_posts.json", big)
    assert answer.status_code == 303, answer.text
    await context(donor.app).worker.drain()
    batch_id = int(answer.headers["location"].rsplit("/", 1)[1])
    assert (await donor.batch(batch_id)).found == 12_000
    elsewhere = await donor.web.post("/settings/connections/connect", content=b"x" * (limit + 1024))
    assert elsewhere.status_code == 413
    declared = await donor.web.post(
        "/settings/imports/upload",
        content=b"",
        headers={"Content-Length": str(300 * 1024 * 1024)},
    )
    assert declared.status_code == 413
