"""Password reset by e-mail, through a real SMTP server on loopback (aiosmtpd): the same answer
whether the account exists or not, a link that works once, for an hour, and not after the
password changed; the new password follows the sign-up rule and ends every session; asks are
limited per account and per client address. Without a mail host the console backend writes
the message to the data directory."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import socket
import ssl
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlmodel import col, select
from starlette.applications import Starlette

from server.accounts.mail import mail_config
from server.app import create_app
from server.context import context
from server.models.base import utcnow
from server.models.password_resets import PasswordReset
from server.settings import ConfigError, Settings
from tests.conftest import TEST_DOMAIN
from tests.support.accounts import csrf_from, log_in, make_account
from tests.support.lifespan import app_lifespan
from tests.support.tls import make_local_ca

LINK = re.compile(r"https?://\S+/password/reset/([A-Za-z0-9_-]+)")


class Inbox:
    """What the SMTP server received, as aiosmtpd hands it over."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def settings(settings: Settings, inbox: tuple[Inbox, int]) -> Settings:
    mail = {
        "host": "127.0.0.1",
        "port": inbox[1],
        "starttls": False,
        "from": "Likewise <no@x.test>",
    }
    return dataclasses.replace(settings, extra={"mail": mail})


async def _ask(client: httpx.AsyncClient, login: str) -> httpx.Response:
    page = await client.get("/password/forgot")
    return await client.post(
        "/password/forgot", data={"login": login, "csrf_token": csrf_from(page.text)}
    )


async def _received(inbox: Inbox, count: int) -> list[EmailMessage]:
    for _ in range(100):  # the link is sent after the answer went out
        if len(inbox.messages) >= count:
            break
        await asyncio.sleep(0.05)
    return inbox.messages


def _token(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found is not None, "no reset link in the message"
    return found.group(1)


async def _set(client: httpx.AsyncClient, token: str, password: str) -> httpx.Response:
    page = await client.get(f"/password/reset/{token}")
    return await client.post(
        f"/password/reset/{token}",
        data={"new_password": password, "csrf_token": csrf_from(page.text)},
    )


async def test_a_link_by_mail_sets_a_new_password_and_ends_every_session(
    app: Starlette, client: httpx.AsyncClient, inbox: tuple[Inbox, int]
) -> None:
    received, _ = inbox
    await make_account(app, "alice")
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as other:
        # Given alice logged in elsewhere
        assert (await log_in(other, "alice")).status_code == 303
        assert (await other.get("/account")).status_code == 200
        # When she asks for a link by her e-mail address
        login_page = await client.get("/login")
        assert 'href="/password/forgot"' in login_page.text
        asked = await _ask(client, "Alice@Example.org")
        assert asked.status_code == 303
        answer = await client.get(asked.headers["location"])
        assert "If an account here goes by that name or address" in answer.text
        # Then one message reaches her address through the SMTP server
        (message,) = await _received(received, 1)
        assert message["To"] == "alice@example.org"
        assert message["From"] == "Likewise <no@x.test>"
        assert "Set a new password" in message["Subject"]
        token = _token(message)
        # The token is stored hashed only
        async with context(app).db.session() as session:
            row = (await session.exec(select(PasswordReset))).one()
        assert token not in row.token_hash and len(row.token_hash) == 64
        # A password shorter than the sign-up rule is refused, the link still live
        page = await client.get(f"/password/reset/{token}")
        assert page.status_code == 200
        assert page.headers["referrer-policy"] == "no-referrer"
        short = await _set(client, token, "short")
        assert short.status_code == 422
        assert "password must have at least 8 characters" in short.text
        # A good one is set: she is sent to log in, told so
        done = await _set(client, token, "a new long password")
        assert done.status_code == 303 and done.headers["location"] == "/login"
        login_again = await client.get("/login")
        assert "Your new password is set" in login_again.text
        # Her other session ended; the old password no longer works, the new one does
        ended = await other.get("/account")
        assert ended.status_code == 303 and ended.headers["location"].startswith("/login")
        assert (await log_in(client, "alice")).status_code == 401
        assert (await log_in(client, "alice", "a new long password")).status_code == 303
    # The link works once
    again = await client.get(f"/password/reset/{token}")
    assert again.status_code == 410 and "expired or was used already" in again.text
    reused = await client.post(
        f"/password/reset/{token}",
        data={"new_password": "yet another one", "csrf_token": csrf_from(again.text)},
    )
    assert reused.status_code == 410


async def test_an_unknown_name_gets_the_same_answer_and_no_mail(
    app: Starlette, client: httpx.AsyncClient, inbox: tuple[Inbox, int]
) -> None:
    received, _ = inbox
    await make_account(app, "alice")
    known = await _ask(client, "alice")
    unknown = await _ask(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["location"] == unknown.headers["location"]
    known_page = await client.get(known.headers["location"])
    unknown_page = await client.get(unknown.headers["location"])
    assert known_page.text.replace(csrf_from(known_page.text), "") == unknown_page.text.replace(
        csrf_from(unknown_page.text), ""
    )
    messages = await _received(received, 1)
    await asyncio.sleep(0.3)
    assert [m["To"] for m in messages] == ["alice@example.org"]


async def test_an_empty_ask_is_refused_next_to_its_field(client: httpx.AsyncClient) -> None:
    refused = await _ask(client, "  ")
    assert refused.status_code == 422
    assert "give your username or e-mail address" in refused.text


async def test_an_expired_link_and_one_sent_before_a_password_change_are_void(
    app: Starlette, client: httpx.AsyncClient, inbox: tuple[Inbox, int]
) -> None:
    received, _ = inbox
    await make_account(app, "alice")
    await _ask(client, "alice")
    await _ask(client, "alice")
    first, second = (_token(m) for m in await _received(received, 2))
    db = context(app).db
    async with db.transaction() as session:
        rows = (await session.exec(select(PasswordReset).order_by(col(PasswordReset.id)))).all()
        rows[0].expires_at = utcnow() - timedelta(seconds=1)
        session.add(rows[0])
    assert (await client.get(f"/password/reset/{first}")).status_code == 410
    # alice changes her password while logged in: the second link is void too
    await log_in(client, "alice")
    page = await client.get("/settings/password")
    changed = await client.post(
        "/settings/password",
        data={
            "current_password": "correct horse",
            "new_password": "changed password",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert changed.status_code == 303
    assert (await client.get(f"/password/reset/{second}")).status_code == 410


async def test_asks_are_limited_per_account_and_per_client(
    app: Starlette, client: httpx.AsyncClient, inbox: tuple[Inbox, int]
) -> None:
    received, _ = inbox
    await make_account(app, "alice")
    answers = [(await _ask(client, "alice")).status_code for _ in range(4)]
    assert answers == [303, 303, 303, 303]  # the fourth is answered alike, and sends nothing
    await _received(received, 3)
    await asyncio.sleep(0.3)
    assert len(received.messages) == 3
    more = [(await _ask(client, f"someone{n}")).status_code for n in range(6)]
    assert more == [303] * 6
    limited = await _ask(client, "alice")  # the eleventh ask from this address in the hour
    assert limited.status_code == 429
    assert "too many password reset requests" in limited.text


async def test_without_a_mail_host_the_console_backend_writes_the_message(
    tmp_path: Path, database_url: str
) -> None:
    plain = Settings(
        data_dir=tmp_path / "console",
        domain=TEST_DOMAIN,
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",
        run_worker=False,
    )
    assert mail_config(plain).backend == "console"
    application = create_app(plain)
    async with app_lifespan(application):
        await make_account(application, "bea")
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(
            transport=transport, base_url=f"http://{TEST_DOMAIN}"
        ) as client:
            assert (await _ask(client, "bea")).status_code == 303
            (written,) = sorted((plain.data_dir / "mail").glob("*.eml"))
            message = message_from_bytes(written.read_bytes(), policy=default)
            assert isinstance(message, EmailMessage)
            assert message["To"] == "bea@example.org"
            done = await _set(client, _token(message), "the new password")
            assert done.status_code == 303


def test_the_mail_table_is_checked(tmp_path: Any) -> None:
    base = Settings(data_dir=tmp_path)
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret\n")
    config = mail_config(
        base.replace(
            extra={"mail": {"host": "smtp.example.org", "ssl": True, "password_file": str(secret)}}
        )
    )
    assert (config.backend, config.port, config.ssl, config.starttls) == ("smtp", 465, True, False)
    assert config.password == "s3cret"
    assert mail_config(base.replace(extra={"mail": {"host": "m.example"}})).port == 587
    for wrong in (
        {"host": "m.example", "ssl": True, "starttls": True},
        {"host": "m.example", "port": "25"},
        {"host": "m.example", "colour": "blue"},
        {"backend": "smtp"},
        {"host": "m.example", "password": "x", "password_file": str(secret)},
    ):
        with pytest.raises(ConfigError):
            mail_config(base.replace(extra={"mail": wrong}))


class Login:
    """aiosmtpd's authenticator: one account, after STARTTLS only."""

    def __init__(self) -> None:
        self.tried: list[tuple[str, str]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        login, password = data.login.decode(), data.password.decode()
        self.tried.append((login, password))
        return AuthResult(success=(login, password) == ("likewise", "s3cret"))


async def test_the_link_goes_out_over_starttls_with_a_log_in(
    tmp_path: Path, database_url: str
) -> None:
    # Given an SMTP server on loopback that wants STARTTLS, then a log-in
    (tmp_path / "tls").mkdir()
    ca, cert, key = make_local_ca(tmp_path / "tls", ["127.0.0.1"])
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    handler, login, port = Inbox(), Login(), _free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=login,
        auth_require_tls=True,
    )
    controller.start()
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret\n")
    mail = {
        "host": "127.0.0.1",
        "port": port,
        "username": "likewise",
        "password_file": str(secret),
        "from": "Likewise <no@x.test>",
    }
    configured = Settings(
        data_dir=tmp_path / "data",
        domain=TEST_DOMAIN,
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",
        run_worker=False,
        ca_bundle=str(ca),
        extra={"mail": mail},
    )
    try:
        application = create_app(configured)
        async with app_lifespan(application):
            await make_account(application, "cleo")
            transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(
                transport=transport, base_url=f"http://{TEST_DOMAIN}"
            ) as client:
                # When Cleo asks for a link
                assert (await _ask(client, "cleo")).status_code == 303
                (message,) = await _received(handler, 1)
    finally:
        controller.stop()
    # Then it went out encrypted, after the instance logged in with the password file's
    assert login.tried == [("likewise", "s3cret")]
    assert message["To"] == "cleo@example.org" and _token(message)
