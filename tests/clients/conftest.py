"""The node clients' packages, installed once per test session from package-lock.json when
they are missing (`.ci/run` installs them before the tests; a fresh checkout running the
README's test command gets them here). Without node the tests fail, saying so."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parent
PACKAGES = ("masto", "megalodon")


def _installed() -> bool:
    return all((CLIENTS / "node_modules" / name / "package.json").is_file() for name in PACKAGES)


@pytest.fixture(scope="session")
def node() -> str:
    """The node executable, with tests/clients' packages installed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("the node client tests need Node.js 20 and npm on the PATH", pytrace=False)
    if not _installed():
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=CLIENTS,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if installed.returncode != 0 or not _installed():
            pytest.fail(f"npm ci in {CLIENTS} failed:\n{installed.stderr}", pytrace=False)
    return node
