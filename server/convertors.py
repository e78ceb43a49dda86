"""Path parameters: `{x:int}` is a row id, ASCII digits only and small enough for a BIGINT.

Starlette's own `int` convertor takes any run of digits; 2**63 and beyond then reach the
database as a number no column can hold (OverflowError, a 500). Registering the bounded one
under the same name covers every `{…:int}` route: a longer number matches no route, a 404.
Routes compile their paths when they are built, so this module is imported (by
`server.routes`) before any route module.
"""

from __future__ import annotations

from starlette.convertors import IntegerConvertor, register_url_convertor

MAX_ID_DIGITS = 18  # 999…9 (18 nines) < 2**63 - 1, the largest BIGINT


class RowIdConvertor(IntegerConvertor):
    regex = f"[0-9]{{1,{MAX_ID_DIGITS}}}"


def is_row_id(text: str) -> bool:
    """Whether `text` is a row id as a path or query parameter spells one: 1 to 18 ASCII
    digits (`"١٢".isdigit()` and `"²".isdigit()` are true, but they are no numbers here)."""
    return 0 < len(text) <= MAX_ID_DIGITS and text.isascii() and text.isdigit()


register_url_convertor("int", RowIdConvertor())
