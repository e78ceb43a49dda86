"""OAuth2Network, the part every one-app network shares, over real HTTP against a fake
provider on loopback (tests/support/fakes/oauth2.py) with one `/me` route."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridges.base import Connection, Creator, Credentials, NetworkConfig
from bridges.errors import BadPayload, ConnectFailed, TokenExpired, TokenRevoked
from bridges.oauth2 import Endpoints, OAuth2Network, string
from bridges.registry import NetworkType
from tests.support.fakes.oauth2 import CLIENT_ID, CLIENT_SECRET, OAuth2Provider
from tests.support.fakes.server import serve

REDIRECT = "https://likewise.example/connect/example/callback"


class ExampleNetwork(OAuth2Network):
    name = "example"
    label = "Example"
    endpoints = Endpoints(
        authorize="https://www.example.com/oauth/authorize",
        token="https://api.example.com/oauth/token",
        api="https://api.example.com/v1",
    )
    scopes = ("likes", "profile")

    async def whoami(self, credentials: Credentials) -> Creator:
        me = (await self.api_get(credentials, "/me")).json_object()
        return Creator(self.name, string(me, "id"), string(me, "username"))


class BasicAuthNetwork(ExampleNetwork):
    client_auth = "basic"
    pkce = False


@dataclass
class FakeExample:
    host: str = "127.0.0.1"
    provider: OAuth2Provider = field(
        default_factory=lambda: OAuth2Provider("/oauth/authorize", "/oauth/token")
    )

    def app(self) -> Starlette:
        return Starlette(routes=[*self.provider.routes(), Route("/v1/me", self._me)])

    async def _me(self, request: Request) -> Response:
        user = self.provider.authenticate(request)
        if isinstance(user, Response):
            return user
        return JSONResponse({"id": f"id-{user}", "username": user})


@pytest.fixture
def fake() -> Iterator[tuple[FakeExample, str]]:
    example = FakeExample()
    with serve(example) as base:
        yield example, base


def config(base: str, secret: str = CLIENT_SECRET) -> NetworkConfig:
    return NetworkConfig(
        client_id=CLIENT_ID, client_secret=secret, base_url=base, allow_private=True
    )


async def connect(net: OAuth2Network, http: httpx.AsyncClient, state: str = "s-1") -> Connection:
    start = await net.start_connect("", REDIRECT, state)
    answer = await http.get(start.redirect_to)
    assert answer.status_code in (302, 307), answer.text
    callback = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
    return await net.finish_connect(start.pending, callback, REDIRECT)


def test_a_network_class_is_a_registry_entry() -> None:
    entry: NetworkType = ExampleNetwork
    assert not entry.is_configured(NetworkConfig())
    assert not entry.is_configured(NetworkConfig(client_id=CLIENT_ID))
    assert entry.is_configured(NetworkConfig(client_id=CLIENT_ID, client_secret="s"))


async def test_the_code_flow_with_pkce_moves_every_endpoint_to_base_url(
    fake: tuple[FakeExample, str], http: httpx.AsyncClient
) -> None:
    example, base = fake
    example.provider.pkce_required = True
    net = ExampleNetwork(http, config(base))
    start = await net.start_connect("", REDIRECT, "state-1")
    target = urlsplit(start.redirect_to)
    query = parse_qs(target.query)
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{base}/oauth/authorize"
    assert query["scope"] == ["likes profile"] and query["code_challenge_method"] == ["S256"]
    assert start.pending["code_verifier"] and "client_secret" not in start.pending
    connection = await connect(net, http)
    assert connection.account == Creator("example", "id-donor", "donor")
    assert connection.credentials.scopes == ("likes", "profile")
    assert connection.credentials.expires_at is None and connection.credentials.refresh_token == ""


async def test_basic_client_auth_without_pkce(
    fake: tuple[FakeExample, str], http: httpx.AsyncClient
) -> None:
    example, base = fake
    example.provider.client_auth = "basic"
    net = BasicAuthNetwork(http, config(base))
    start = await net.start_connect("", REDIRECT, "s-1")
    assert "code_challenge" not in parse_qs(urlsplit(start.redirect_to).query)
    assert (await connect(net, http)).account.external_id == "id-donor"
    # the body-auth network is refused by a provider that wants Basic
    with pytest.raises(ConnectFailed, match="refused the authorization code"):
        await connect(ExampleNetwork(http, config(base)), http)


async def test_a_refusal_a_wrong_state_or_a_wrong_secret_fails_the_connection(
    fake: tuple[FakeExample, str], http: httpx.AsyncClient
) -> None:
    example, base = fake
    net = ExampleNetwork(http, config(base))
    start = await net.start_connect("", REDIRECT, "mine")
    with pytest.raises(ConnectFailed, match="state"):
        await net.finish_connect(start.pending, {"code": "c", "state": "theirs"}, REDIRECT)
    with pytest.raises(ConnectFailed, match="no authorization code"):
        await net.finish_connect(start.pending, {"state": "mine"}, REDIRECT)
    with pytest.raises(ConnectFailed, match="redirect URI"):
        await net.finish_connect(start.pending, {"code": "c", "state": "mine"}, REDIRECT + "x")
    example.provider.deny = True
    with pytest.raises(ConnectFailed, match="access_denied"):
        await connect(net, http)
    example.provider.deny = False
    with pytest.raises(ConnectFailed, match="refused the authorization code"):
        await connect(ExampleNetwork(http, config(base, secret="wrong")), http)


async def test_an_expiring_token_is_refreshed_before_use_and_a_revoked_one_is_not(
    fake: tuple[FakeExample, str], http: httpx.AsyncClient
) -> None:
    example, base = fake
    example.provider.expires_in = 3600
    net = ExampleNetwork(http, config(base))
    credentials = (await connect(net, http)).credentials
    assert credentials.refresh_token and credentials.expires_at is not None
    assert credentials.expires_at > datetime.now(UTC) + timedelta(minutes=59)
    # a token past its time is not sent: the poller is told to refresh first
    credentials.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(TokenExpired):
        await net.whoami(credentials)
    renewed = await net.refresh(credentials)
    assert renewed.access_token != credentials.access_token
    assert (await net.whoami(renewed)).external_id == "id-donor"
    # the network says the token is no good: with a refresh token, a refresh is tried
    await http.post(f"{base}/_test/token", json={"user": "donor", "state": "expired"})
    with pytest.raises(TokenExpired):
        await net.whoami(renewed)
    again = await net.refresh(renewed)
    assert (await net.whoami(again)).handle == "donor"
    # revoked: the refresh is refused too, the donor must connect again
    await http.post(f"{base}/_test/token", json={"user": "donor", "state": "revoked"})
    with pytest.raises(TokenRevoked):
        await net.refresh(again)
    # a token without refresh token that stops working is revoked at once
    example.provider.expires_in = 0
    plain = (await connect(net, http)).credentials
    await http.post(f"{base}/_test/token", json={"user": "donor", "state": "revoked"})
    with pytest.raises(TokenRevoked):
        await net.whoami(plain)
    with pytest.raises(TokenRevoked, match="no refresh token"):
        await net.refresh(plain)


def test_api_links_must_stay_under_the_api_root() -> None:
    net = ExampleNetwork(httpx.AsyncClient(), NetworkConfig(client_id="i", client_secret="s"))
    assert net.api_url("/me") == "https://api.example.com/v1/me"
    assert net.api_url("https://api.example.com/v1/me/likes?page=2").endswith("page=2")
    for elsewhere in (
        "https://evil.example/v1/me",
        "https://api.example.com/v10/me",
        "https://api.example.com.evil.example/v1/me",
        "http://api.example.com/v1/me",
    ):
        with pytest.raises(BadPayload):
            net.api_url(elsewhere)
