"""Build, sign, serialize, parse and verify a 10,000-line settlement batch.

Baselines measured in the same run: plain `json.dumps` + `json.loads` of the same
document, and a bare Ed25519 sign / verify of the same serialized bytes.
Target: verifying a stored 10,000-line batch (load, check proof, parse) under 1 s.

    .venv/bin/python benchmarks/settlement_documents.py [--lines 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from activitypub.keys import ed25519_public_to_multibase, generate_ed25519_key
from activitypub.settlement import (
    Amount,
    BatchOffer,
    SettlementLine,
    batch_digest,
    build_batch_offer,
    parse_batch_offer,
    sign_document,
    verify_document,
)

SENDER = "https://a.example/actor"
RECIPIENT = "https://b.example/actor"
METHOD = f"{SENDER}#ed25519-key"
TARGET_SECONDS = 1.0

T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    name: str
    seconds: float


def measure(name: str, repeat: int, step: Callable[[], T]) -> tuple[Timing, T]:
    """Median wall time of `repeat` runs, and the last run's result."""
    times = []
    result = step()
    for _ in range(repeat):
        started = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - started)
    return Timing(name, statistics.median(times)), result


def make_offer(count: int) -> BatchOffer:
    lines = tuple(
        SettlementLine(
            creator=f"https://b.example/users/creator{index}",
            amount=Amount(100 + index % 5_000, "EUR", 2),
            supporters=2,
            clicks=tuple(
                f"https://a.example/users/donor{index * 3 + n}/likes/{index}" for n in range(3)
            ),
        )
        for index in range(count)
    )
    return BatchOffer(
        id="https://a.example/settlements/b.example/2026-10/1",
        actor=SENDER,
        recipient=RECIPIENT,
        published=datetime(2026, 11, 1, 0, 10, tzinfo=UTC),
        period="2026-10",
        sequence=1,
        currency="EUR",
        lines=lines,
    )


@dataclass(frozen=True)
class Steps:
    """The protocol steps' timings and the size of the serialized batch."""

    timings: list[Timing]
    size: int


def protocol_steps(count: int, repeat: int) -> tuple[Steps, dict[str, object]]:
    key = generate_ed25519_key()
    public = ed25519_public_to_multibase(key.public_key())
    construct_time, offer = measure(
        "construct lines + BatchOffer (checks)", repeat, lambda: make_offer(count)
    )
    build_time, unsigned = measure("build_batch_offer", repeat, lambda: build_batch_offer(offer))
    sign_time, signed = measure(
        "sign_document", repeat, lambda: sign_document(unsigned, key, METHOD)
    )
    dumps_time, stored = measure("json.dumps (serialize)", repeat, lambda: json.dumps(signed))
    loads_time, loaded = measure("json.loads", repeat, lambda: json.loads(stored))
    parse_time, parsed = measure("parse_batch_offer", repeat, lambda: parse_batch_offer(loaded))
    verify_time, _ = measure(
        "verify_document", repeat, lambda: verify_document(loaded, public, SENDER)
    )
    digest_time, _ = measure("batch_digest", repeat, lambda: batch_digest(loaded))

    def verify_stored() -> BatchOffer:
        document = json.loads(stored)
        verify_document(document, public, SENDER)
        return parse_batch_offer(document)

    stored_time, _ = measure("verify stored batch (loads+verify+parse)", repeat, verify_stored)
    if parsed != offer:
        raise SystemExit("round trip failed")
    timings = [
        construct_time,
        build_time,
        sign_time,
        dumps_time,
        loads_time,
        parse_time,
        verify_time,
    ]
    return Steps([*timings, digest_time, stored_time], len(stored.encode("utf-8"))), signed


def baselines(signed: dict[str, object], repeat: int) -> dict[str, Timing]:
    key = generate_ed25519_key()
    data = json.dumps(signed).encode("utf-8")
    signature = key.sign(data)
    public = key.public_key()
    json_time, _ = measure(
        "baseline: json.dumps + json.loads", repeat, lambda: json.loads(json.dumps(signed))
    )
    sign_time, _ = measure("baseline: Ed25519 sign of the bytes", repeat, lambda: key.sign(data))
    verify_time, _ = measure(
        "baseline: Ed25519 verify of the bytes", repeat, lambda: public.verify(signature, data)
    )
    return {"json": json_time, "sign": sign_time, "verify": verify_time}


def run(count: int, repeat: int) -> list[tuple[Timing, Timing | None]]:
    steps, signed = protocol_steps(count, repeat)
    base = baselines(signed, repeat)
    compared_with = {
        "sign_document": base["sign"],
        "verify_document": base["verify"],
        "parse_batch_offer": base["json"],
        "verify stored batch (loads+verify+parse)": base["json"],
    }
    print(f"{count} lines, {steps.size / 1e6:.2f} MB serialized, median of {repeat} runs")
    rows = [(timing, compared_with.get(timing.name)) for timing in steps.timings]
    return rows + [(timing, None) for timing in base.values()]


def report(rows: list[tuple[Timing, Timing | None]]) -> None:
    for timing, baseline in rows:
        ratio = f"{timing.seconds / baseline.seconds:8.1f}x {baseline.name}" if baseline else ""
        print(f"{timing.name:44} {timing.seconds * 1000:9.1f} ms  {ratio}")
    stored = next(timing for timing, _ in rows if timing.name.startswith("verify stored"))
    verdict = "meets" if stored.seconds < TARGET_SECONDS else "MISSES"
    print(f"verify stored batch: {stored.seconds:.3f} s, {verdict} the {TARGET_SECONDS} s target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    report(run(arguments.lines, arguments.repeat))


if __name__ == "__main__":
    main()
