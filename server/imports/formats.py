"""The export formats the instance reads, through `bridges/importers/registry.py`, and the
one place a parser's refusal (or a file it could not read) becomes a domain error.

The parser is a pure function of the file: it runs in a thread, and whatever it raises on a
hostile or broken file is a clear refusal here, never a crash of the job."""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bridges.errors import BridgeError, ImportRefused
from bridges.importers.base import Importer, ImportResult, Progress
from server.domain_errors import ValidationFailed

LABELS = {
    "instagram": "Instagram",
    "facebook": "Facebook",
    "x": "X (Twitter)",
    "youtube": "YouTube",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
}
# What a parser may raise on a file it did not foresee: refused, never a 500.
UNREADABLE = (
    BridgeError,
    ValueError,  # JSON and Unicode errors too
    OSError,
    EOFError,
    zipfile.BadZipFile,
    csv.Error,
    RecursionError,
    KeyError,
    IndexError,
    TypeError,
)


class ExportRefused(ValidationFailed):
    """An uploaded export we will not read; the message says what was expected."""

    code = "export_refused"


@dataclass(frozen=True)
class Format:
    network: str
    label: str
    expects: str  # what to upload, in words


def _importers() -> Mapping[str, Importer]:
    from bridges.importers import registry

    return registry.IMPORTERS


def formats() -> list[Format]:
    """Every format a donor may pick, in the registry's order."""
    return [
        Format(name, LABELS.get(name, importer.label), importer.expects)
        for name, importer in _importers().items()
    ]


def known(network: str) -> bool:
    return network in _importers()


def parse(path: Path, network: str | None, progress: Progress | None = None) -> ImportResult:
    """Read one uploaded export (blocking: run it in a thread). `network` None: detect it."""
    from bridges.importers import registry

    try:
        return registry.parse(path, network=network, progress=progress)
    except ImportRefused as refused:
        raise ExportRefused(str(refused)[:480]) from refused
    except UNREADABLE as error:
        what = LABELS.get(network or "", "a data export")
        raise ExportRefused(
            f"this file could not be read as {what} ({type(error).__name__}); "
            "upload the file or zip exactly as the network gave it"
        ) from error
