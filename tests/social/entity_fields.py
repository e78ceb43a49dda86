"""The Mastodon entities' documented attributes (tests/data/mastodon_entities.json, taken
from docs.joinmastodon.org/entities/) and a check of an answer's object against them."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).parent.parent / "data" / "mastodon_entities.json"
TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


@cache
def documented() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = json.loads(FIXTURE.read_text())
    return {name: fields for name, fields in table.items() if not name.startswith("_")}


def _fits(value: object, kind: str) -> bool:
    if value is None:
        return kind.endswith("|null")
    wanted = TYPES[kind.removesuffix("|null")]
    if isinstance(value, bool) and bool not in wanted:
        return False  # True is an int to Python, never an integer to JSON
    return isinstance(value, wanted)


def mismatches(entity: str, data: Any) -> list[str]:
    """What in `data` differs from the entity's documented attributes: a missing name, or
    a value of another type (optional attributes are checked only when present)."""
    if not isinstance(data, dict):
        return [f"{entity}: {type(data).__name__}, not an object"]
    found = []
    for name, kind in documented()[entity].items():
        optional = name.startswith("?")
        name = name.removeprefix("?")
        if name not in data:
            if not optional:
                found.append(f"{entity}.{name}: missing")
            continue
        if not _fits(data[name], kind):
            found.append(f"{entity}.{name}: {data[name]!r} is not {kind}")
    return found


def check(entity: str, data: Any) -> None:
    problems = mismatches(entity, data)
    assert not problems, "\n".join(problems)
