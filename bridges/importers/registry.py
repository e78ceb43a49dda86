"""The export formats, by network: an explicit dict, no discovery.

`detect` says which network's export an upload is (a zip by its member names, a lone file
by its first bytes, since uploads are often stored under a temporary name); `parse` reads
it, refusing an upload that is another network's export than the one the donor chose.
"""

from __future__ import annotations

from pathlib import Path

from bridges.errors import ImportRefused
from bridges.importers.archive import DEFAULT_LIMITS, Limits, open_upload
from bridges.importers.base import Importer, ImportResult, Progress
from bridges.importers.bluesky import BlueskyImporter
from bridges.importers.facebook import FacebookImporter
from bridges.importers.instagram import InstagramImporter
from bridges.importers.mastodon import MastodonImporter
from bridges.importers.x import XImporter
from bridges.importers.youtube import YoutubeImporter

IMPORTERS: dict[str, Importer] = {
    "instagram": InstagramImporter(),
    "facebook": FacebookImporter(),
    "x": XImporter(),
    "youtube": YoutubeImporter(),
    "mastodon": MastodonImporter(),
    "bluesky": BlueskyImporter(),
}

_HEAD = 8192


def accepted() -> str:
    """What can be uploaded, in words, short enough for one message (each importer's
    `expects` says the details)."""
    return ", ".join(importer.label for importer in IMPORTERS.values())


def importer(network: str) -> Importer:
    found = IMPORTERS.get(network)
    if found is None:
        raise ImportRefused(
            f"no importer for {network!r}: accepted are {', '.join(sorted(IMPORTERS))}"
        )
    return found


def detect(path: Path, limits: Limits = DEFAULT_LIMITS) -> Importer:
    """The importer for this upload, or `ImportRefused` listing what is accepted."""
    with open_upload(path, limits) as upload:
        if upload.is_zip:
            found = [i for i in IMPORTERS.values() if i.matches(upload.names)]
        else:
            head = upload.head(_HEAD)
            found = [i for i in IMPORTERS.values() if i.sniff(head)]
            if not found and head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
                raise ImportRefused(
                    "this is an HTML page: Instagram and Facebook downloads must be "
                    "requested in JSON format"
                )
    if len(found) == 1:
        return found[0]
    if found:
        networks = ", ".join(i.network for i in found)
        raise ImportRefused(f"this upload mixes exports of several networks ({networks})")
    raise ImportRefused(f"this is not an export we can read. Accepted: {accepted()}")


def parse(path: Path, network: str | None = None, progress: Progress | None = None) -> ImportResult:
    """The likes in the upload; with `network`, only if the upload is that network's."""
    chosen = importer(network) if network is not None else None
    try:
        found = detect(path)
    except ImportRefused as error:
        if chosen is None or "not an export we can read" not in str(error):
            raise
        if chosen.matches([path.name]):  # a lone file under its own name, too bare to sniff
            return chosen.parse(path, progress)
        raise ImportRefused(
            f"this is not the expected {chosen.label}: upload {chosen.expects}"
        ) from error
    if chosen is not None and found.network != chosen.network:
        raise ImportRefused(
            f"this upload is {found.label}, not {chosen.label}: upload {chosen.expects}"
        )
    return found.parse(path, progress)
