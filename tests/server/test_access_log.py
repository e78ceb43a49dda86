from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Iterator

import httpx
import pytest

from server.middleware import AccessLog

FIELDS = ("POST", "/inbox", 202, 1.25, "127.0.0.1")
LINE = "method=POST path=/inbox status=202 duration_ms=1.2 client=127.0.0.1"


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    named = logging.getLogger("likewise.test_access")
    named.setLevel(logging.INFO)
    named.propagate = False
    yield named
    named.handlers.clear()
    named.filters.clear()


def _stream_handler(logger: logging.Logger) -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    return stream


async def test_lines_reach_a_stream_handler_formatted_as_logging_would(
    logger: logging.Logger,
) -> None:
    # Given
    stream = _stream_handler(logger)
    log = AccessLog(logger)
    # When
    log.add(FIELDS)
    log.add(("GET", "/", 200, 0.04, "-"))
    assert stream.getvalue() == ""
    await asyncio.sleep(0)
    # Then
    lines = stream.getvalue().splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    assert re.fullmatch(f"{stamp} INFO likewise.test_access {LINE}", lines[0])
    second = "method=GET path=/ status=200 duration_ms=0.0 client=-"
    assert re.fullmatch(f"{stamp} INFO likewise.test_access {second}", lines[1])
    assert len(lines) == 2


async def test_other_handlers_and_filters_get_one_record_per_line(
    logger: logging.Logger,
) -> None:
    # Given
    records: list[logging.LogRecord] = []

    class Keeping(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger.addHandler(Keeping())
    logger.addFilter(lambda record: record.args != ("GET", "/", 200, 0.04, "-"))
    log = AccessLog(logger)
    # When
    log.add(FIELDS)
    log.add(("GET", "/", 200, 0.04, "-"))
    log.add(FIELDS)
    await asyncio.sleep(0)
    # Then
    assert [record.getMessage() for record in records] == [LINE, LINE]
    assert records[0] is not records[1]
    assert records[0].created <= records[1].created
    assert all(record.levelno == logging.INFO for record in records)


async def test_nothing_is_written_when_the_level_is_off(logger: logging.Logger) -> None:
    stream = _stream_handler(logger)
    logger.setLevel(logging.WARNING)
    log = AccessLog(logger)
    log.add(FIELDS)
    await asyncio.sleep(0)
    assert stream.getvalue() == ""


async def test_each_request_gets_a_line(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="likewise.access"):
        await client.get("/healthz")
        await client.get("/no-such-page")
        await asyncio.sleep(0)
    messages = [r.getMessage() for r in caplog.records if r.name == "likewise.access"]
    assert messages[0].startswith("method=GET path=/healthz status=200 duration_ms=")
    assert messages[1].startswith("method=GET path=/no-such-page status=404 duration_ms=")
    assert messages[1].endswith(" client=127.0.0.1")
