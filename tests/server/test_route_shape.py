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


DOMAIN = (
    "accounts",
    "social",
    "federation",
    "donations",
    "escrow",
    "settlement",
    "connections",
    "money",
)
# Checking a request's HTTP signature is reading who sent it, as a session cookie is: parsing.
AUTHENTICATION = {"server.federation.inbox.verify_signature"}


def _domain_names(tree: ast.Module) -> dict[str, str]:
    """The names a route module binds to domain code: an imported domain module or a function
    imported from one, each mapped to the module it comes from."""
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            for alias in node.names:
                bound = alias.asname or alias.name
                if parts[0] == "server" and len(parts) == 2 and parts[1] in DOMAIN:
                    names[bound] = f"{node.module}.{alias.name}"  # a domain module
                elif parts[0] == "server" and len(parts) > 2 and parts[1] in DOMAIN:
                    names[bound] = node.module  # a function of a domain module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "server" and len(parts) > 1 and parts[1] in DOMAIN:
                    names[alias.asname or alias.name] = alias.name
    return names


def _service_awaits(
    function: ast.AST, names: dict[str, str], helpers: dict[str, ast.AST], seen: frozenset[str]
) -> list[str]:
    """Every awaited call into domain code within `function` (its nested functions included),
    following calls to the module's private helpers."""
    found: list[str] = []
    for node in ast.walk(function):
        if not isinstance(node, ast.Await) or not isinstance(node.value, ast.Call):
            continue
        called = node.value.func
        if isinstance(called, ast.Name) and called.id in names:
            found.append(f"{names[called.id]}.{called.id}")
            if found[-1] in AUTHENTICATION:
                found.pop()
        elif (
            isinstance(called, ast.Attribute)
            and isinstance(called.value, ast.Name)
            and called.value.id in names
        ):
            found.append(f"{names[called.value.id]}.{called.attr}")
        elif isinstance(called, ast.Name) and called.id in helpers and called.id not in seen:
            found += _service_awaits(helpers[called.id], names, helpers, seen | {called.id})
    return found


def _endpoints(tree: ast.Module) -> set[str]:
    """The functions the module's Route(...) entries name."""
    return {
        node.args[1].id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Route"
        and len(node.args) > 1
        and isinstance(node.args[1], ast.Name)
    }


def test_every_route_awaits_one_domain_service_at_most() -> None:
    """A route makes one service call; a page the route shows after an action (or after the
    action's refusal) comes back from that same call."""
    offenders = []
    routes = 0
    for path in ROUTES:
        tree = ast.parse(path.read_text())
        names = _domain_names(tree)
        functions = {
            node.name: node
            for node in tree.body
            if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef)
        }
        helpers: dict[str, ast.AST] = {
            name: node for name, node in functions.items() if name.startswith("_")
        }
        for name in sorted(_endpoints(tree)):
            node = functions[name]
            routes += 1
            calls = _service_awaits(node, names, helpers, frozenset())
            if len(calls) > 1:
                offenders.append(f"{path.stem}.{name}")
    assert routes > 75
    assert offenders == []
