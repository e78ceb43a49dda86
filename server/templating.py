from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.templating import Jinja2Templates, _TemplateResponse

from server.auth import csrf_token, current_user
from server.domain_errors import ServiceError
from server.errors import plain_message
from server.settings import Settings

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


@dataclass(frozen=True)
class ShownError:
    """A refusal as a page shows it: its message in plain words, its field to mark, and
    the message of every field it names (a refusal may carry `fields`, {name: message},
    for a form whose values are checked together: each field then shows its own)."""

    message: str
    field: str | None
    code: str
    fields: dict[str, str]

    def __str__(self) -> str:
        return self.message


def shown(value: Any) -> Any:
    if not isinstance(value, ServiceError):
        return value
    fields = {value.field: value.message} if value.field else {}
    more = getattr(value, "fields", None)
    if isinstance(more, Mapping):
        fields.update({str(name): str(message) for name, message in more.items()})
    plain = {name: plain_message(message) for name, message in fields.items()}
    return ShownError(plain_message(value.message), value.field, value.code, plain)


class PageTemplates(Jinja2Templates):
    """Templates whose refusals (any ServiceError handed to a page) read as plain words."""

    def TemplateResponse(self, *args: Any, **kwargs: Any) -> _TemplateResponse:
        if isinstance(kwargs.get("context"), dict):
            kwargs["context"] = {key: shown(value) for key, value in kwargs["context"].items()}
        elif len(args) > 2 and isinstance(args[2], dict):
            values = {key: shown(value) for key, value in args[2].items()}
            args = (*args[:2], values, *args[3:])
        return super().TemplateResponse(*args, **kwargs)


def build_templates(settings: Settings) -> Jinja2Templates:
    templates = PageTemplates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.globals["settings"] = settings
    env.globals["csrf_token"] = csrf_token
    env.globals["current_user"] = current_user
    env.filters["plain"] = plain_message
    return templates
