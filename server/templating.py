from __future__ import annotations

from pathlib import Path

from starlette.templating import Jinja2Templates

from server.auth import csrf_token, current_user
from server.settings import Settings

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def build_templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.globals["settings"] = settings
    env.globals["csrf_token"] = csrf_token
    env.globals["current_user"] = current_user
    return templates
