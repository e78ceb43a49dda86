"""Sending e-mail: config.toml's `[mail]` table (docs/configuration in docs/development.md),
through the standard library's smtplib, or the console backend (dev mode, or no host set)
that logs each message and writes it to `<data dir>/mail/` where a person or a test reads it."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from server.domain_errors import Kind, ServiceError
from server.models.base import utcnow
from server.settings import ConfigError, Settings

log = logging.getLogger("likewise.mail")

MAIL_KEYS = (
    "backend",
    "host",
    "port",
    "username",
    "password",
    "password_file",
    "from",
    "starttls",
    "ssl",
    "timeout",
)
BACKENDS = ("smtp", "console")


class MailFailed(ServiceError):
    """The mail server could not be reached or refused the message."""

    kind = Kind.upstream
    code = "mail_failed"


@dataclass(frozen=True)
class MailConfig:
    backend: str  # "smtp" or "console"
    host: str
    port: int
    username: str
    password: str
    sender: str  # the From address
    starttls: bool
    ssl: bool  # SMTP over TLS from the first byte (port 465)
    timeout: float


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


def _text(table: Mapping[str, Any], key: str, default: str = "") -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"config.toml: [mail] {key} is a string")
    return value


def _flag(table: Mapping[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"config.toml: [mail] {key} is true or false")
    return value


def _password(table: Mapping[str, Any]) -> str:
    file = _text(table, "password_file")
    if file and "password" in table:
        raise ConfigError("config.toml: [mail] has password or password_file, not both")
    if not file:
        return _text(table, "password")
    try:
        return Path(file).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"config.toml: [mail] password_file {file}: {exc.strerror}") from exc


def mail_config(settings: Settings) -> MailConfig:
    """The `[mail]` table checked; without a host (or with backend = "console") mail goes
    to the console backend."""
    table = settings.extra.get("mail", {})
    if not isinstance(table, Mapping):
        raise ConfigError("config.toml: [mail] is a table")
    unknown = sorted(set(table) - set(MAIL_KEYS))
    if unknown:
        raise ConfigError(f"config.toml: [mail] {unknown[0]} is unknown ({', '.join(MAIL_KEYS)})")
    host = _text(table, "host")
    backend = _text(table, "backend", "smtp" if host else "console")
    if backend not in BACKENDS:
        raise ConfigError('config.toml: [mail] backend is "smtp" or "console"')
    if backend == "smtp" and not host:
        raise ConfigError("config.toml: [mail] backend smtp needs a host")
    use_ssl, starttls = _flag(table, "ssl", False), _flag(table, "starttls", not table.get("ssl"))
    if use_ssl and starttls:
        raise ConfigError("config.toml: [mail] takes ssl or starttls, not both")
    port = table.get("port", 465 if use_ssl else 587)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError("config.toml: [mail] port is a number from 1 to 65535")
    timeout = table.get("timeout", 20)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError("config.toml: [mail] timeout is a number of seconds")
    sender = _text(table, "from", f"{settings.name} <noreply@{settings.host}>")
    return MailConfig(
        backend=backend,
        host=host,
        port=port,
        username=_text(table, "username"),
        password=_password(table),
        sender=sender,
        starttls=starttls,
        ssl=use_ssl,
        timeout=float(timeout),
    )


def build_message(config: MailConfig, settings: Settings, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=settings.host or "likewise.invalid")
    message.set_content(mail.text)
    return message


def _context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.ca_bundle:
        context.load_verify_locations(settings.ca_bundle)
    return context


def _send_smtp(config: MailConfig, settings: Settings, message: EmailMessage) -> None:
    smtp_class = smtplib.SMTP_SSL if config.ssl else smtplib.SMTP
    extra: dict[str, Any] = {"context": _context(settings)} if config.ssl else {}
    with smtp_class(config.host, config.port, timeout=config.timeout, **extra) as smtp:
        if config.starttls:
            smtp.starttls(context=_context(settings))
        if config.username:
            smtp.login(config.username, config.password)
        smtp.send_message(message)


def _write_console(settings: Settings, message: EmailMessage) -> Path:
    folder = settings.data_dir / "mail"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{stamp}.eml"
    path.write_bytes(bytes(message))
    return path


async def send_mail(settings: Settings, mail: Mail) -> None:
    """Send one message; MailFailed when the mail server cannot take it."""
    config = mail_config(settings)
    message = build_message(config, settings, mail)
    if config.backend == "console":
        path = await asyncio.to_thread(_write_console, settings, message)
        log.info("event=mail_console to=%s subject=%r file=%s", mail.to, mail.subject, path)
        log.info("event=mail_console_body\n%s", mail.text)
        return
    try:
        await asyncio.to_thread(_send_smtp, config, settings, message)
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("event=mail_failed host=%s error=%s", config.host, exc)
        raise MailFailed("the mail server did not take the message") from exc
    log.info("event=mail_sent to=%s subject=%r", mail.to, mail.subject)
