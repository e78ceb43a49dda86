"""The client API's hot answers encoded with orjson.

A home-timeline page (20 statuses, some 27 KB) took about a millisecond to encode with the
standard library under load, an eighth of the request's CPU; orjson writes the same bytes
(compact, UTF-8, the entities' string keys in their order) in a tenth of that.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
