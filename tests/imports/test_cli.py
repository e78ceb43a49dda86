"""`likewise import NETWORK FILE --user NAME`, run as a process: the preview printed, a
progress bar, counted with --yes (or after the prompt), refused files a clear error."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlmodel import col, select

from server.db.engine import Database
from server.models import Click, ImportBatch, ImportState
from tests.imports.support import EXPORTS, instagram_export, long_ago, this_month
from tests.server.test_cli import likewise
from tests.support.databases import DatabaseFactory

LIKES = [
    ("alice.photos", "CaaaaaaaaA1", this_month(1)),
    ("bob_makes", "CbbbbbbbbB2", this_month(2)),
    ("carol", "CccccccccC3", long_ago()),
]


async def _rows(url: str) -> tuple[list[Click], list[ImportBatch]]:
    db = Database(url)
    try:
        async with db.session() as session:
            clicks = (await session.exec(select(Click).order_by(col(Click.id)))).all()
            batches = (await session.exec(select(ImportBatch).order_by(col(ImportBatch.id)))).all()
            return list(clicks), list(batches)
    finally:
        await db.dispose()


def test_an_admin_imports_a_donors_export_from_the_command_line(
    tmp_path: Path, databases: DatabaseFactory
) -> None:
    url = databases.empty()
    env = {"LIKEWISE_DATABASE_URL": url, "LIKEWISE_DATA": str(tmp_path / "d")}
    created = likewise(
        "users",
        "create",
        "dora",
        "--email",
        "d@example.org",
        "--password",
        "correct horse",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    export = tmp_path / "liked_posts.json"
    export.write_bytes(instagram_export(LIKES))
    # Without --yes, no answer to the prompt counts nothing
    declined = likewise("import", "instagram", str(export), "--user", "dora", env=env)
    assert declined.returncode == 0, declined.stderr
    assert "in the open month: will count" in declined.stdout and "cancelled" in declined.stdout
    # With --yes: the preview, then the two likes of this month counted
    done = likewise("import", "auto", str(export), "--user", "dora", "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert "found" in done.stdout and "counted 2 likes" in done.stdout
    clicks, batches = asyncio.run(_rows(url))
    assert sorted(c.source_ref or "" for c in clicks) == ["CaaaaaaaaA1", "CbbbbbbbbB2"]
    assert {c.source for c in clicks} == {"import:instagram"}
    assert [b.state for b in batches] == [ImportState.cancelled, ImportState.counted]
    assert list((tmp_path / "d" / "imports").iterdir()) == []  # the copies deleted
    # The same export again adds nothing
    again = likewise("import", "instagram", str(export), "--user", "dora", "--yes", env=env)
    assert "counted 0 likes" in again.stdout
    # A file of another network, and an unknown donor: clear errors
    wrong = likewise(
        "import", "instagram", str(EXPORTS / "x" / "like.js"), "--user", "dora", "--yes", env=env
    )
    assert wrong.returncode == 1 and "not imported" in wrong.stderr and "X" in wrong.stderr
    nobody = likewise("import", "instagram", str(export), "--user", "nobody", env=env)
    assert nobody.returncode == 1 and "no account named" in nobody.stderr
    assert len(asyncio.run(_rows(url))[0]) == 2
