from __future__ import annotations

import asyncio
import io
import logging
import re
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from server.middleware import ACCESS_FORMAT, AccessLog, Metrics

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


class Stamping(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return f"t{record.created:.3f}"


def _an_hour_ahead(seconds: float | None) -> time.struct_time:
    return time.gmtime(None if seconds is None else seconds + 3600)


def _converting() -> logging.Formatter:
    formatter = logging.Formatter("%(asctime)s %(name)s %(message)s")
    formatter.converter = _an_hour_ahead
    return formatter


FORMATTERS: dict[str, Callable[[], logging.Formatter]] = {
    "basicConfig's": lambda: logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"),
    "with datefmt": lambda: logging.Formatter("%(asctime)s|%(msecs)03d %(message)s", "%H:%M:%S"),
    "its own converter": _converting,
    "without time": lambda: logging.Formatter("%(levelname)s %(message)s"),
    "a subclass": lambda: Stamping("%(asctime)s %(message)s"),
}


@pytest.mark.parametrize("name", sorted(FORMATTERS))
def test_lines_are_what_the_formatter_makes_of_each_record(name: str) -> None:
    # Given lines across a second boundary, to a logger of its own (no capture handlers)
    logger = logging.Logger("likewise.test_access.alone", logging.INFO)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    formatter: logging.Formatter = FORMATTERS[name]()
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    log = AccessLog(logger)
    times = [1_700_000_000.998, 1_700_000_000.9995, 1_700_000_001.0004, 1_700_000_061.5]
    log.pending = [(created, (*FIELDS[:3], n, FIELDS[4])) for n, created in enumerate(times)]
    # When
    log.flush()
    # Then
    expected = []
    for n, created in enumerate(times):
        record = logging.makeLogRecord(
            {"name": logger.name, "levelno": logging.INFO, "levelname": "INFO"}
        )
        record.msg, record.args = ACCESS_FORMAT, (*FIELDS[:3], n, FIELDS[4])
        record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
        expected.append(formatter.format(record))
    assert stream.getvalue().splitlines() == expected


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


def test_metrics_count_requests_and_bucket_their_durations_per_route() -> None:
    # Given
    metrics = Metrics()
    # When
    metrics.record("POST", "/inbox", 202, 0.004)
    metrics.record("POST", "/inbox", 202, 0.02)
    metrics.record("POST", "/inbox", 401, 0.005)
    metrics.record("GET", "/", 200, 30.0)
    # Then
    text = generate_latest(metrics.registry).decode()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    inbox, home = (("method", "POST"), ("route", "/inbox")), (("method", "GET"), ("route", "/"))
    assert samples["likewise_http_requests_total", (*inbox, ("status", "202"))] == 2
    assert samples["likewise_http_requests_total", (*inbox, ("status", "401"))] == 1
    assert ("likewise_http_requests_created", (*inbox, ("status", "401"))) in samples

    def bucket(route: tuple[tuple[str, str], ...], le: str) -> float:
        key = tuple(sorted((*route, ("le", le))))
        return samples["likewise_http_request_duration_seconds_bucket", key]

    assert [bucket(inbox, le) for le in ("0.005", "0.01", "0.025", "+Inf")] == [2, 2, 3, 3]
    assert samples["likewise_http_request_duration_seconds_count", inbox] == 3
    assert samples["likewise_http_request_duration_seconds_sum", inbox] == pytest.approx(0.029)
    assert [bucket(home, le) for le in ("10.0", "+Inf")] == [0, 1]
