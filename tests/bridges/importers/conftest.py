from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

EXPORTS = Path(__file__).resolve().parents[2] / "data" / "exports"

MakeZip = Callable[[Mapping[str, bytes | Path]], Path]


def sample(relative: str) -> Path:
    return EXPORTS / relative


@pytest.fixture
def make_zip(tmp_path: Path) -> MakeZip:
    """A zip in tmp_path with these members (bytes, or a sample file's contents)."""
    count = 0

    def build(members: Mapping[str, bytes | Path]) -> Path:
        nonlocal count
        count += 1
        path = tmp_path / f"upload-{count}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in members.items():
                data = content.read_bytes() if isinstance(content, Path) else content
                archive.writestr(name, data)
        return path

    return build
