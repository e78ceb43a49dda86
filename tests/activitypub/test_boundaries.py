"""The activitypub package is a library: no application or web-framework imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import activitypub
from activitypub.jsonld import (
    ACTIVITYSTREAMS_CONTEXT,
    DATA_INTEGRITY_CONTEXT,
    accepts_activity_json,
    is_activity_content_type,
    with_context,
)

FORBIDDEN = {"server", "sqlmodel", "sqlalchemy", "starlette", "bridges"}
PACKAGE = Path(activitypub.__file__).parent


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_forbidden_imports_in_source() -> None:
    for path in PACKAGE.glob("*.py"):
        assert not imported_roots(path) & FORBIDDEN, path.name


def test_importing_every_module_loads_no_forbidden_package() -> None:
    modules = ", ".join(
        f"activitypub.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__"
    )
    code = (
        f"import sys, {modules}\n"
        f"loaded = {{name.split('.')[0] for name in sys.modules}} & set({sorted(FORBIDDEN)!r})\n"
        "print(sorted(loaded))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parent,
    )
    assert result.stdout.strip() == "[]"


def test_accept_headers() -> None:
    assert accepts_activity_json("application/activity+json")
    assert accepts_activity_json(
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    )
    assert accepts_activity_json("text/html, application/activity+json;q=0.9")
    assert not accepts_activity_json("text/html,application/xhtml+xml,*/*;q=0.8")
    assert not accepts_activity_json("application/activity+json;q=0")
    assert not accepts_activity_json("application/ld+json")
    assert not accepts_activity_json(None)


def test_content_types() -> None:
    assert is_activity_content_type("application/activity+json; charset=utf-8")
    assert is_activity_content_type(
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
    )
    assert not is_activity_content_type("application/json")
    assert not is_activity_content_type("application/ld+json")


def test_with_context() -> None:
    once = with_context({"@context": ACTIVITYSTREAMS_CONTEXT}, DATA_INTEGRITY_CONTEXT)
    assert once["@context"] == [ACTIVITYSTREAMS_CONTEXT, DATA_INTEGRITY_CONTEXT]
    assert with_context(once, DATA_INTEGRITY_CONTEXT) == once
    assert with_context({}, ACTIVITYSTREAMS_CONTEXT)["@context"] == ACTIVITYSTREAMS_CONTEXT
