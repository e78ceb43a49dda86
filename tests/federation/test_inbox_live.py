"""The inboxes of a real instance (uvicorn on loopback) against unauthenticated bulk and
half-sent bodies: refused at once, with little memory, and the connection closed as said."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.support.instances import LiveInstance
from tests.support.live import Start

MB = 1024 * 1024
ORDINARY_LIMIT = MB  # LIKEWISE_MAX_BODY_BYTES by default
TIMEOUT = 5.0


def _memory(instance: LiveInstance) -> tuple[int, int]:
    """The server process's resident memory and its peak so far, in bytes."""
    assert instance.process is not None
    status = Path(f"/proc/{instance.process.pid}/status").read_text()
    found = {
        line.split(":")[0]: int(line.split()[1]) * 1024
        for line in status.splitlines()
        if line.startswith(("VmRSS:", "VmHWM:"))
    }
    return found["VmRSS"], found["VmHWM"]


def _connect(instance: LiveInstance) -> socket.socket:
    connection = socket.create_connection((instance.host, instance.port), timeout=TIMEOUT)
    connection.settimeout(TIMEOUT)
    return connection


def _head(instance: LiveInstance, path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {instance.domain}", *headers, "", ""]
    return "\r\n".join(lines).encode()


def _response(connection: socket.socket) -> tuple[str, dict[str, str]]:
    """The status line and headers of the next response, its body read past."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before a response: {received!r}")
        received += chunk
    head, body = received.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines[1:])
    headers = {name.lower(): value for name, value in fields.items()}
    while len(body) < int(headers.get("content-length", "0")):
        body += connection.recv(65536)
    return lines[0], headers


def _closed(connection: socket.socket) -> bool:
    """Whether the server closes the connection (EOF or reset) within TIMEOUT."""
    try:
        while connection.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def _send_quietly(connection: socket.socket, data: bytes) -> None:
    """Send what the server may refuse to read: it may close before it all went."""
    try:
        connection.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def test_an_unsigned_33_mb_post_is_refused_at_once_with_little_memory(instances: Start) -> None:
    # Given a running instance, and 33 MB of JSON (within the 32 MiB settlement limit) that
    # would cost ~850 MB once parsed
    instance = instances()
    body = b'{"a": [' + b"{}, " * (33_000_000 // 4 - 3) + b"{}]}"
    assert len(body) < 32 * MB
    rss_before, peak_before = _memory(instance)
    # When it is posted unsigned to the instance inbox (settlement-sized bodies go there)
    started = time.monotonic()
    with _connect(instance) as connection:
        head = _head(instance, "/actor/inbox", f"Content-Length: {len(body)}")
        _send_quietly(connection, head + body)
        status, headers = _response(connection)
        answered = time.monotonic() - started
        closed = _closed(connection)
    rss_after, peak_after = _memory(instance)
    print(
        f"unsigned 33 MB POST: answered in {answered:.2f} s; resident "
        f"{rss_before / MB:.0f} -> {rss_after / MB:.0f} MB, peak "
        f"{peak_before / MB:.0f} -> {peak_after / MB:.0f} MB"
    )
    # Then it is refused for its missing signature, at once, and the server hardly grew
    assert status == "HTTP/1.1 401 Unauthorized"
    assert peak_after - peak_before < 50 * MB
    assert answered < 2.0
    assert headers.get("connection") == "close" and closed


def test_an_answer_before_the_body_was_read_closes_the_connection(instances: Start) -> None:
    instance = instances()
    cases = {
        "declared too large": (
            _head(instance, "/inbox", f"Content-Length: {2 * ORDINARY_LIMIT}"),
            b"x" * 1000,
            "413",
        ),
        "unsigned, half sent": (
            _head(instance, "/inbox", "Content-Length: 10", "Content-Type: application/json"),
            b'{"a": ',
            "401",
        ),
        "unsigned, chunked": (
            _head(instance, "/users/nobody/inbox", "Transfer-Encoding: chunked"),
            b"400\r\n" + b"x" * 1024 + b"\r\n",
            "404",
        ),
        "read too far": (
            _head(
                instance,
                "/login",
                "Transfer-Encoding: chunked",
                "Content-Type: application/x-www-form-urlencoded",
            ),
            (b"10000\r\n" + b"x" * 65536 + b"\r\n") * 20,
            "413",
        ),
    }
    for name, (head, partial_body, expected) in cases.items():
        with _connect(instance) as connection:
            # When only part of the body is sent, and the server answers
            _send_quietly(connection, head + partial_body)
            status, headers = _response(connection)
            # Then the answer says the connection closes, and the server closes it: what
            # follows on it would be read as the rest of the body
            assert status.split(" ")[1] == expected, (name, status)
            assert headers.get("connection") == "close", (name, headers)
            assert _closed(connection), name


def test_a_connection_whose_request_was_read_stays_open(instances: Start) -> None:
    instance = instances()
    form = b"login=nobody&password=wrong"
    with _connect(instance) as connection:
        for _ in range(2):
            head = _head(
                instance,
                "/login",
                "Content-Type: application/x-www-form-urlencoded",
                f"Content-Length: {len(form)}",
            )
            connection.sendall(head + form)
            status, headers = _response(connection)
            assert status.split(" ")[1] in ("400", "403"), status
            assert "connection" not in headers
