from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from activitypub.client import ActivityPubClient, Signer, is_public_address
from activitypub.errors import (
    BlockedAddress,
    IdMismatch,
    InvalidResponse,
    ResponseTooLarge,
    UnexpectedContentType,
    UnexpectedStatus,
)
from activitypub.keys import RsaKeyPair
from activitypub.signatures import verify_request
from activitypub.webfinger import build_jrd

ACTOR = "https://remote.example/users/bob"
AP_HEADERS = {"Content-Type": "application/activity+json; charset=utf-8"}
Handler = Callable[[httpx.Request], httpx.Response]


async def public_resolver(host: str, port: int) -> list[str]:
    return {"internal.example": ["10.1.2.3"], "mixed.example": ["93.184.215.14", "127.0.0.1"]}.get(
        host, ["93.184.215.14"]
    )


def make_client(handler: Handler, **options: object) -> ActivityPubClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ActivityPubClient(http, resolver=public_resolver, **options)  # type: ignore[arg-type]


def actor_response(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers=AP_HEADERS, json={"id": str(request.url), "type": "Person"})


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/actor",
        "https://10.0.0.8/actor",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/actor",
        "https://[::ffff:127.0.0.1]/actor",
        "https://[fe80::1]/",
        "https://224.0.0.1/",
        "https://0.0.0.0/",
        "https://100.64.0.1/",
        "https://internal.example/actor",
        "https://mixed.example/actor",
        "http://remote.example/actor",
        "file:///etc/passwd",
        "gopher://remote.example/",
        "https:///nohost",
    ],
)
async def test_ssrf_guard_refuses(url: str) -> None:
    client = make_client(actor_response)
    with pytest.raises(BlockedAddress):
        await client.fetch(url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8001/users/bob", "http://10.0.0.8/users/bob", "http://[::1]/u"]
)
async def test_dev_mode_allows_private_and_http(url: str) -> None:
    client = make_client(actor_response, allow_private=True, allow_http=True)
    assert (await client.fetch(url))["id"] == url


def test_public_addresses() -> None:
    assert is_public_address("93.184.215.14")
    assert is_public_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert not is_public_address("not an ip")


async def test_signed_fetch(rsa_keys: RsaKeyPair) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return actor_response(request)

    client = make_client(handler)
    signer = Signer(
        key_id="https://likewise.example/actor#main-key", private_key_pem=rsa_keys.private_pem
    )

    document = await client.fetch(ACTOR, signer)

    assert document["id"] == ACTOR
    request = seen[0]
    assert request.headers["accept"].startswith("application/activity+json")
    result = verify_request(
        "GET", request.url.raw_path.decode(), dict(request.headers), None, rsa_keys.public_pem
    )
    assert result.key_id == signer.key_id


async def test_redirect_is_followed_and_checked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/@bob":
            return httpx.Response(302, headers={"Location": "/users/bob"})
        return actor_response(request)

    assert (await make_client(handler).fetch("https://remote.example/@bob"))["id"] == ACTOR


async def test_redirect_to_private_address_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "https://127.0.0.1/admin"})

    with pytest.raises(BlockedAddress):
        await make_client(handler).fetch(ACTOR)


async def test_endless_redirects() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": f"{request.url}x"})

    with pytest.raises(InvalidResponse):
        await make_client(handler).fetch(ACTOR)


async def test_size_limit_with_content_length() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"id": str(request.url), "type": "Person", "summary": "x" * 2048}
        return httpx.Response(200, headers=AP_HEADERS, json=body)

    with pytest.raises(ResponseTooLarge):
        await make_client(handler, max_bytes=1024).fetch(ACTOR)


async def test_size_limit_when_streamed_without_length() -> None:
    chunks_sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for index in range(1000):
            chunks_sent.append(index)
            yield b" " * 1024

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=AP_HEADERS, content=endless())

    with pytest.raises(ResponseTooLarge):
        await make_client(handler, max_bytes=4096).fetch(ACTOR)
    assert len(chunks_sent) < 10


async def test_id_on_another_host_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers=AP_HEADERS, json={"id": "https://evil.example/users/bob", "type": "Person"}
        )

    with pytest.raises(IdMismatch):
        await make_client(handler).fetch(ACTOR)


async def test_id_on_same_host_is_refetched_once() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=AP_HEADERS, json={"id": ACTOR, "type": "Person"})

    assert (await make_client(handler).fetch("https://remote.example/@bob"))["id"] == ACTOR


async def test_same_host_id_that_still_differs_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers=AP_HEADERS, json={"id": f"{request.url}/again", "type": "Person"}
        )

    with pytest.raises(IdMismatch):
        await make_client(handler).fetch(ACTOR)


@pytest.mark.parametrize("content_type", ["text/html", "application/json", ""])
async def test_wrong_content_type(content_type: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Type": content_type}, content=json.dumps({"id": ACTOR}).encode()
        )

    with pytest.raises(UnexpectedContentType):
        await make_client(handler).fetch(ACTOR)


@pytest.mark.parametrize("body", [b"not json", b"[1]", b"[" * 100_000])
async def test_non_object_body(body: bytes) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=AP_HEADERS, content=body)

    with pytest.raises(InvalidResponse):
        await make_client(handler).fetch(ACTOR)


async def test_error_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(410)

    with pytest.raises(UnexpectedStatus) as caught:
        await make_client(handler).fetch(ACTOR)
    assert caught.value.status == 410


async def test_post_is_signed_with_digest(rsa_keys: RsaKeyPair) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, headers={"X-Seen": "yes"})

    body = b'{"type":"Like"}'
    signer = Signer("https://likewise.example/users/alice#main-key", rsa_keys.private_pem)

    result = await make_client(handler).post("https://remote.example/inbox", body, signer)

    assert result.status == 202 and result.headers["x-seen"] == "yes"
    request = seen[0]
    assert request.headers["content-type"] == "application/activity+json"
    verify_request("POST", "/inbox", dict(request.headers), request.content, rsa_keys.public_pem)


async def test_post_to_private_inbox_is_refused(rsa_keys: RsaKeyPair) -> None:
    client = make_client(actor_response)
    with pytest.raises(BlockedAddress):
        await client.post("https://10.0.0.1/inbox", b"{}", Signer("k", rsa_keys.private_pem))


async def test_webfinger_lookup() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/.well-known/webfinger"
        assert request.url.params["resource"] == "acct:bob@remote.example"
        jrd = build_jrd("bob", "remote.example", ACTOR, "https://remote.example/@bob")
        return httpx.Response(200, headers={"Content-Type": "application/jrd+json"}, json=jrd)

    result = await make_client(handler).webfinger_lookup("@bob@remote.example")

    assert result.self_href == ACTOR
