"""server/text_checks.py says once what text may hold; each caller keeps its meaning: a NUL
nowhere; no C0 control or DEL in a name, id or address; line breaks kept in a description;
C1 controls gone too from a remote server's names."""

from __future__ import annotations

import pytest

from server.domain_errors import ValidationFailed
from server.federation.remote import plain_text
from server.money.payouts import _holder
from server.routes.web import local_path
from server.social.media import remote_attachments
from server.text_checks import (
    CONTROL,
    CONTROL_AND_C1,
    CONTROL_BUT_LINE_BREAKS,
    has_control_characters,
    holds_nul,
    without_control_characters,
)

C0 = "".join(map(chr, range(0x20)))
DEL = "\x7f"
C1 = "".join(map(chr, range(0x80, 0xA0)))


def test_each_meaning_is_the_characters_it_names() -> None:
    assert holds_nul("a\x00b") and not holds_nul("a\tb\x01")
    everything = "".join(map(chr, range(0x100)))
    assert set(CONTROL.findall(everything)) == set(C0 + DEL)
    assert set(CONTROL_BUT_LINE_BREAKS.findall(everything)) == set(C0 + DEL) - set("\t\n\r")
    assert set(CONTROL_AND_C1.findall(everything)) == set(C0 + DEL + C1)
    for character in C0 + DEL:
        assert has_control_characters(f"ann{character}")
    assert not has_control_characters("ann é \u0085 \u200b")  # C1 and others are not C0
    assert without_control_characters("a\tb\x7fc\x85") == "abc\x85"
    assert without_control_characters("a\tb\x7fc\x85", CONTROL_AND_C1) == "abc"
    assert without_control_characters("a\tb\nc\x01", CONTROL_BUT_LINE_BREAKS) == "a\tb\nc"


def test_callers_keep_their_meaning() -> None:
    assert plain_text("Ann\u0085\x1b[31m<b>!</b>") == "Ann[31m!"
    [attachment] = remote_attachments(
        [{"type": "Image", "url": "https://remote.example/a.png", "name": "two\nlines\x00\x7f"}]
    )
    assert attachment.description == "two\nlines"
    assert local_path("/next\x7f") == "/" and local_path("/a\\b") == "/"
    assert local_path("/money?x=1") == "/money?x=1"


@pytest.mark.parametrize("name", ["Ann\x00Lee", "Ann\x1bLee", "Ann\x7fLee"])
def test_a_payout_holder_s_name_holds_no_control_character(name: str) -> None:
    with pytest.raises(ValidationFailed):
        _holder(name)
    assert _holder("Ann \t Lee") == "Ann Lee"  # white space is one space
