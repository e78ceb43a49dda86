"""The cursor format the network modules share: a small query string the server stores and
hands back, never trusted (it comes back from the database, but a bad one must be a clear
`BadPayload`, not a crash).

A round reads from the newest like down: `<older>=<id>&newest=<id>&pages=<n>` continues it
(the page after `<older>`, remembering the newest like of the round and how many pages it
read); `<newer>=<id>` asks only for likes newer than that one. Each network names the two
keys after its own API's parameters (`max_id`/`min_id` on Mastodon, `before`/`after` for
Bluesky rkeys). Lists that cannot ask for likes newer than an id are read in rounds that stop
at what the previous round saw (`bridges.rounds`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode

from bridges.errors import BadPayload


@dataclass(frozen=True)
class CursorFormat:
    network: str  # for messages: "fediverse", "Bluesky"
    older: str  # the key of a round's next (older) page
    newer: str  # the key that asks for likes newer than an id
    check_id: Callable[[str, str], object]  # raises BadPayload for an id that is not one

    def parse(self, cursor: str | None) -> dict[str, str]:
        if cursor is None:
            return {}
        try:
            query = parse_qs(cursor, strict_parsing=True)
        except ValueError as error:
            raise BadPayload(f"not a {self.network} cursor: {cursor!r}") from error
        params = {name: values[-1] for name, values in query.items()}
        for name in (self.older, self.newer, "newest"):
            if name in params:
                self.check_id(params[name], f"cursor {name}")
        if not params.get("pages", "0").isdigit():
            raise BadPayload(f"not a {self.network} cursor: {cursor!r}")
        if not (self.newer in params or (self.older in params and "newest" in params)):
            raise BadPayload(f"not a {self.network} cursor: {cursor!r}")
        return params

    def newer_than(self, value: str) -> str:
        return urlencode({self.newer: value})

    def older_than(self, value: str, newest: str, pages: int) -> str:
        return urlencode({self.older: value, "newest": newest, "pages": str(pages)})
