"""Routes parse, call a service and render: they hold no SQL, open no session or transaction,
never wake the worker (a commit that queued a job does), and read the app only through its
typed AppContext."""

from __future__ import annotations

import ast
from pathlib import Path

SERVER = Path(__file__).resolve().parents[2] / "server"
ROUTES = sorted((SERVER / "routes").rglob("*.py"))


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _attribute_calls(tree: ast.AST) -> set[str]:
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }


def test_the_routes_are_found() -> None:
    assert len(ROUTES) > 10
    assert SERVER / "routes" / "dashboard.py" in ROUTES


def test_no_route_holds_sql_or_opens_a_session() -> None:
    offenders = []
    for path in ROUTES:
        tree = ast.parse(path.read_text())
        # The health check may catch the database's errors (sqlalchemy.exc); nothing more.
        sql = {
            m
            for m in _imports(tree)
            if m.split(".")[0] in ("sqlalchemy", "sqlmodel") and m != "sqlalchemy.exc"
        }
        sessions = _attribute_calls(tree) & {"session", "transaction", "exec", "execute"}
        if sql or sessions:
            offenders.append((path.name, sorted(sql | sessions)))
    assert offenders == []


def test_no_route_wakes_the_worker_and_none_reads_app_state() -> None:
    offenders = []
    for path in sorted(SERVER.rglob("*.py")):
        if path.name in ("app.py", "context.py") and path.parent == SERVER:
            continue  # where the AppContext is stored and read
        text = path.read_text()
        if "wakeup" in text and path.parent.name != "jobs":
            offenders.append((str(path.relative_to(SERVER)), "wakeup"))
        if "app.state" in text or ".state.db" in text or ".state.settings" in text:
            offenders.append((str(path.relative_to(SERVER)), "app.state"))
    assert offenders == []
