"""The elements of one JSON array, decoded one at a time.

Exports put their likes in one big array (`[...]` or `{"key": [...]}`). Decoding it whole
builds every dict at once; walking it with the C scanner's `raw_decode` keeps one element
alive at a time, so memory is the text plus the likes kept, not the text's whole tree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from bridges.errors import ImportRefused

_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"


def _skip(text: str, at: int) -> int:
    while at < len(text) and text[at] in _SPACE:
        at += 1
    return at


def _expect(text: str, at: int, char: str, name: str) -> int:
    at = _skip(text, at)
    if at >= len(text) or text[at] != char:
        found = repr(text[at]) if at < len(text) else "the end of the file"
        raise ImportRefused(f"{name} is not the JSON expected: {char!r} wanted, {found} found")
    return at + 1


def _value(text: str, at: int, name: str) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, _skip(text, at))
    except (json.JSONDecodeError, RecursionError) as error:
        raise ImportRefused(f"{name} is not valid JSON ({error})") from error


def iter_array(text: str, at: int, name: str) -> Iterator[tuple[Any, int]]:
    """Each element of the array starting at `at`, with the position after it."""
    at = _expect(text, at, "[", name)
    if _skip(text, at) < len(text) and text[_skip(text, at)] == "]":
        return
    while True:
        element, at = _value(text, at, name)
        yield element, at
        at = _skip(text, at)
        if at < len(text) and text[at] == "]":
            return
        at = _expect(text, at, ",", name)


def top_level_kind(text: str) -> str:
    """ "[" or "{" (or "" when the text is neither)."""
    at = _skip(text, 0)
    return text[at] if at < len(text) and text[at] in "[{" else ""


def iter_keyed_array(text: str, keys: tuple[str, ...], name: str) -> Iterator[tuple[Any, int]]:
    """The elements of the array under the first of `keys` in the top-level object;
    other members are decoded and dropped. Nothing when no key is there."""
    at = _expect(text, 0, "{", name)
    if text[_skip(text, at) : _skip(text, at) + 1] == "}":
        return
    while True:
        key, at = _value(text, at, name)
        at = _expect(text, at, ":", name)
        if key in keys and text[_skip(text, at) : _skip(text, at) + 1] == "[":
            yield from iter_array(text, at, name)
            return
        _, at = _value(text, at, name)
        at = _skip(text, at)
        if at < len(text) and text[at] == "}":
            return
        at = _expect(text, at, ",", name)
