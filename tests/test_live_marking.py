"""Every test that starts processes is marked `live` without a manual mark, and a process
started outside the live fixtures is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.instances import LiveInstance
from tests.support.processes import LIVE_FIXTURES, running_test, starts_processes_itself


def test_each_test_using_a_live_fixture_is_marked_live(request: pytest.FixtureRequest) -> None:
    items = request.session.items
    using = [item for item in items if LIVE_FIXTURES & set(getattr(item, "fixturenames", ()))]
    assert all(item.get_closest_marker("live") for item in using)


def _instance(directory: Path) -> LiveInstance:
    """An instance made by a helper, out of the collection check's sight."""
    return LiveInstance(data_dir=directory / "data", database_url="sqlite+aiosqlite://")


def test_a_test_that_is_not_live_cannot_start_an_instance(tmp_path: Path) -> None:
    instance = _instance(tmp_path)
    with pytest.raises(RuntimeError, match="not live"):
        instance.start()
    assert instance.process is None


def test_outside_pytest_and_in_live_tests_processes_may_start() -> None:
    from tests.support.processes import require_live

    try:
        running_test(None)
        require_live("a benchmark")
        running_test(True)
        require_live("a live test")
    finally:
        running_test(False)


def test_a_test_naming_popen_or_live_instance_itself_is_seen() -> None:
    def starts() -> None:
        LiveInstance(data_dir=Path("x"), database_url="")

    def does_not() -> None:
        Path("x")

    assert starts_processes_itself(starts)
    assert not starts_processes_itself(does_not)
