"""What text may hold, said once for every layer: a NUL, and the other control characters.

No text a person types or another server sends holds a NUL (U+0000), and PostgreSQL refuses
one in a text parameter (that was a 500): `holds_nul` finds it wherever text comes in
(an address, a form, a JSON body). Which other control characters are wrong depends on the
text, so there is one definition per meaning:

- `CONTROL`: the C0 controls (U+0000 to U+001F) and DEL (U+007F). No name, handle, e-mail
  address, id, address or one-line text holds one: `has_control_characters` and
  `without_control_characters`.
- `CONTROL_BUT_LINE_BREAKS`: the same, but tab, line feed and carriage return stay: text of
  several lines (an image's description).
- `CONTROL_AND_C1`: the same as `CONTROL`, and the C1 controls (U+0080 to U+009F): text from
  another server that a page shows (a remote actor's name).

Search text in a query may hold a tab, so an address is refused only for a NUL (see
server/middleware.py's NulRefusal); each route checks the rest as its values need.
"""

from __future__ import annotations

import re

NUL = "\x00"
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_AND_C1 = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def holds_nul(text: str) -> bool:
    """Whether `text` holds a NUL character."""
    return NUL in text


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a C0 control character or DEL (a NUL among them)."""
    return CONTROL.search(text) is not None


def without_control_characters(text: str, controls: re.Pattern[str] = CONTROL) -> str:
    """`text` with the control characters of `controls` (one of the three above) removed."""
    return controls.sub("", text)
