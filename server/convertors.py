"""Path parameters: `{x:int}` is a row id, in ASCII digits and no larger than an id column
holds (PostgreSQL's integer: 2**31 - 1).

Starlette's own `int` convertor takes any run of digits; a larger number then reaches the
database as one no column can hold (OverflowError or asyncpg's DataError, a 500).
Registering the bounded one under the same name covers every `{…:int}` route: a larger
number matches no route, a 404. Routes compile their paths when they are built, so this
module is imported (by `server.routes`) before any route module.
"""

from __future__ import annotations

from starlette.convertors import IntegerConvertor, StringConvertor, register_url_convertor

MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns (int32 on PostgreSQL)


def at_most(limit: int) -> str:
    """A regex for the decimal numbers 0..`limit` (leading zeros only below its length)."""
    digits = str(limit)
    if len(digits) == 1:
        return f"[0-{digits}]"
    alternatives = [f"[0-9]{{1,{len(digits) - 1}}}"]
    for place, digit in enumerate(digits):
        lowest, highest = (1 if place == 0 else 0), int(digit) - 1
        if highest < lowest:
            continue
        rest = len(digits) - place - 1
        span = str(lowest) if highest == lowest else f"[{lowest}-{highest}]"
        alternatives.append(digits[:place] + span + (f"[0-9]{{{rest}}}" if rest else ""))
    return "|".join([*alternatives, digits])


class RowIdConvertor(IntegerConvertor):
    regex = at_most(MAX_ROW_ID)


def is_row_id(text: str) -> bool:
    """Whether `text` is a row id as a path spells one: ASCII digits up to MAX_ROW_ID
    (`"١٢".isdigit()` and `"²".isdigit()` are true, but they are no numbers here)."""
    return (
        0 < len(text) <= len(str(MAX_ROW_ID))
        and text.isascii()
        and text.isdigit()
        and int(text) <= MAX_ROW_ID
    )


register_url_convertor("int", RowIdConvertor())


class TextConvertor(StringConvertor):
    """`{x}` and `{x:str}`: any segment but one with a NUL character, which no name, domain
    or token holds and which PostgreSQL refuses in text (a 500); such a path is a 404."""

    regex = "[^/\x00]+"


register_url_convertor("str", TextConvertor())
