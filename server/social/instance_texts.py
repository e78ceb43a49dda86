"""The terms of service and the privacy policy: what the admin wrote (plain text, paragraphs
split by a blank line), or a default that says the admin has not written one yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.db.engine import Database
from server.domain_errors import FieldChecks, Outcome, ValidationFailed, attempt
from server.models.base import utcnow
from server.models.instance_texts import InstanceText
from server.settings import Settings
from server.text_checks import holds_nul

TITLES = {"terms": "Terms of service", "privacy": "Privacy policy"}
MAX_CHARACTERS = 50_000


@dataclass(frozen=True)
class InstancePage:
    """One of the two pages as visitors read it."""

    kind: str
    title: str
    paragraphs: list[list[str]]  # each paragraph's lines
    written: bool
    updated_at: datetime | None


@dataclass(frozen=True)
class TextsForm:
    """The admin's form: each text as written (or as typed, after a refusal)."""

    terms: str
    privacy: str


def paragraphs(text: str) -> list[list[str]]:
    parts = text.replace("\r\n", "\n").split("\n\n")
    return [[line.strip() for line in part.strip().split("\n")] for part in parts if part.strip()]


def _default(settings: Settings, kind: str) -> str:
    what = TITLES[kind].lower()
    return (
        f"The admin of {settings.name} has not written the {what} yet.\n\n"
        "Until they do, ask them what applies to your account and your data: their contact "
        "is on the instance's about page."
    )


async def instance_page(db: Database, settings: Settings, kind: str) -> InstancePage:
    async with db.session() as session:
        row = await session.get(InstanceText, kind)
    if row is None or not row.body.strip():
        return InstancePage(kind, TITLES[kind], paragraphs(_default(settings, kind)), False, None)
    return InstancePage(kind, TITLES[kind], paragraphs(row.body), True, row.updated_at)


async def texts_form(db: Database) -> TextsForm:
    async with db.session() as session:
        terms = await session.get(InstanceText, "terms")
        privacy = await session.get(InstanceText, "privacy")
    return TextsForm(terms.body if terms else "", privacy.body if privacy else "")


def _checked(kind: str, text: str) -> str:
    body = text.replace("\r\n", "\n").strip()
    if len(body) > MAX_CHARACTERS:
        raise ValidationFailed(
            f"the {TITLES[kind].lower()} has at most {MAX_CHARACTERS:,} characters", field=kind
        )
    if holds_nul(body):
        raise ValidationFailed("the text holds a NUL character", field=kind)
    return body


async def save_texts(db: Database, admin_id: int, form: TextsForm) -> None:
    """Both texts, checked together (each refusal next to its text area); an empty one
    shows the default again."""
    checks = FieldChecks()
    bodies = {kind: checks.check(_checked, kind, getattr(form, kind)) for kind in TITLES}
    checks.done()
    async with db.transaction() as session:
        for kind, body in bodies.items():
            row = await session.get(InstanceText, kind)
            if row is None:
                row = InstanceText(kind=kind, body="")
            if row.body != body:
                row.body, row.updated_at, row.updated_by = body or "", utcnow(), admin_id
                session.add(row)


async def save_texts_or_page(
    db: Database, admin_id: int, form: TextsForm
) -> Outcome[None, TextsForm]:
    async def page() -> TextsForm:
        return form  # what was typed stays

    return await attempt(save_texts(db, admin_id, form), page)
