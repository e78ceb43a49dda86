"""A fake Bluesky in one app: the AppView (resolveHandle, getProfile, getAuthorFeed,
getPosts), every account's PDS (listRecords and getRecord of `app.bsky.feed.like`, newest
first or `reverse`, cursor = the page's last rkey, as the reference PDS pages) and the PLC
directory (`/<did>` serves the DID document, whose `#atproto_pds` is this server).
Payloads are the fixture files under tests/data/bridges/bluesky/ with their values changed.

Every answer carries `ratelimit-*` headers (one budget for all callers, Unix-seconds reset);
over it, 429. Knobs (`Knobs`, or POST /_test/knobs) make the PDS misbehave: 5xx for the next
N requests, malformed JSON, an oversized answer, a cursor it ignores (the same page again,
forever), a cursor that is not the page's last record, a like without subject, a record key
with a path trick, a record of another repository, a loose createdAt.

Jetstream (`/subscribe`, a WebSocket, as bridges/jetstream.py subscribes): events in the
shapes of jetstream_like_create.json and jetstream_like_delete.json for each like made or
taken back through this fake, filtered by `wantedCollections` and by the `wantedDids` of the
subscriber's `options_update` (held until that hello when `requireHello`), replayed from a
`cursor`. Knobs: `jetstream_down` refuses the handshake, `jetstream_garbage` sends a
malformed event before each real one.

Control API (JSON), also `BlueskyControl` in Python:
- POST /_test/accounts {"handle", "description"?} -> {"did"}
- POST /_test/profile {"did", "description"} -> {}
- POST /_test/post {"did", "text"} -> {"uri"}
- POST /_test/like {"did", "subject"?, "created_at"?}
  -> {"uri", "rkey", "subject"}: a like record (by default of a new post by "author.test")
- POST /_test/unlike {"did", "rkey"} -> {"removed": bool}: the record is deleted
- POST /_test/knobs {knob: value} -> the knobs now
- GET /_test/stats -> {"requests", "rate_limited", "over_limit"}
- GET /_test/jetstream -> {"subscribers", "handshakes", "wanted": [[did, …], …]}
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.support.fakes.server import Control, Controlled
from tests.support.payloads import load_json

LIKE = "app.bsky.feed.like"
POST = "app.bsky.feed.post"
TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"


def did_for(handle: str) -> str:
    digest = hashlib.sha256(handle.encode()).digest()[:15]
    return "did:plc:" + base64.b32encode(digest).decode().lower()


def tid(number: int) -> str:
    """A record key that sorts as `number` does (13 characters of sortable base32)."""
    chars = []
    for _ in range(13):
        chars.append(TID_CHARS[number & 31])
        number >>= 5
    return "".join(reversed(chars))


@dataclass
class Knobs:
    rate_limit: int = 3000
    rate_window: float = 300.0
    fail_5xx: int = 0
    malformed_json: bool = False
    oversized: bool = False
    ignore_cursor: bool = False
    wrong_cursor: bool = False
    missing_subject: bool = False
    path_trick: bool = False
    wrong_repo: bool = False
    loose_created_at: bool = False
    jetstream_down: bool = False
    jetstream_garbage: bool = False


@dataclass
class Account:
    did: str
    handle: str
    description: str = ""
    posts: dict[str, str] = field(default_factory=dict)  # rkey -> text
    likes: dict[str, dict[str, Any]] = field(default_factory=dict)  # rkey -> record value


@dataclass
class FakeBluesky(Controlled):
    host: str = "127.0.0.1"
    knobs: Knobs = field(default_factory=Knobs)
    accounts: dict[str, Account] = field(default_factory=dict)  # did -> account
    requests: int = 0
    rate_limited: int = 0
    over_limit: int = 0
    _clock: int = 1_700_000_000_000_000 << 10
    _window_start: float = 0.0
    _used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    events: list[dict[str, Any]] = field(default_factory=list)  # Jetstream's, oldest first
    handshakes: int = 0
    _subscribers: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Queue[Any], set[str]]] = field(
        default_factory=dict
    )

    @property
    def base(self) -> str:
        return f"http://{self.host}"

    # --- state ----------------------------------------------------------------------------

    def _tid(self) -> str:
        self._clock += 1
        return tid(self._clock)

    def add_account(self, handle: str, description: str = "") -> str:
        did = did_for(handle)
        with self._lock:
            self.accounts.setdefault(did, Account(did, handle, description))
        return did

    def set_description(self, did: str, description: str) -> None:
        self.accounts[did].description = description

    def post(self, did: str, text: str) -> str:
        with self._lock:
            rkey = self._tid()
            self.accounts[did].posts[rkey] = text
        return f"at://{did}/{POST}/{rkey}"

    def like(self, did: str, subject: str = "", created_at: str = "") -> dict[str, str]:
        if not subject:
            author = self.add_account("author.test")
            subject = self.post(author, f"post {self._clock}")
        moment = created_at or datetime.now(UTC).isoformat(timespec="milliseconds")
        value = {
            "$type": LIKE,
            "subject": {
                "uri": subject,
                "cid": "bafyreidc6sydkkbchcyg62v77wbhzvb2mvytlmsychqgwf2xojjtirmzj4",
            },
            "createdAt": moment.replace("+00:00", "Z"),
        }
        with self._lock:
            rkey = self._tid()
            self.accounts[did].likes[rkey] = value
        self._publish(did, "create", rkey, value)
        return {"uri": f"at://{did}/{LIKE}/{rkey}", "rkey": rkey, "subject": subject}

    def unlike(self, did: str, rkey: str) -> bool:
        with self._lock:
            removed = self.accounts[did].likes.pop(rkey, None) is not None
        if removed:
            self._publish(did, "delete", rkey, None)
        return removed

    # --- Jetstream ------------------------------------------------------------------------

    def _publish(self, did: str, operation: str, rkey: str, value: dict[str, Any] | None) -> None:
        fixture = "create" if operation == "create" else "delete"
        event = load_json(f"bridges/bluesky/jetstream_like_{fixture}.json")
        event["did"], event["commit"]["rkey"] = did, rkey
        if value is not None:
            event["commit"]["record"] = value
        with self._lock:
            last = self.events[-1]["time_us"] if self.events else 0
            event["time_us"] = max(time.time_ns() // 1000, last + 1)
            self.events.append(event)
            subscribers = list(self._subscribers.values())
        for loop, queue, _ in subscribers:
            loop.call_soon_threadsafe(queue.put_nowait, event)

    async def _subscribe(self, socket: WebSocket) -> None:
        self.handshakes += 1
        if self.knobs.jetstream_down:
            await socket.close(code=1013)  # refused at the handshake (403)
            return
        params = socket.query_params
        if params.getlist("wantedCollections") not in ([], [LIKE]):
            await socket.close(code=1008)
            return
        await socket.accept()
        wanted = set(params.getlist("wantedDids"))
        if params.get("requireHello") == "true":
            wanted = self._hello(await socket.receive_text())
        queue: asyncio.Queue[Any] = asyncio.Queue()
        key = id(queue)
        with self._lock:
            cursor = int(params.get("cursor", "0") or 0)
            backlog = [e for e in self.events if cursor and e["time_us"] > cursor]
            self._subscribers[key] = (asyncio.get_running_loop(), queue, wanted)
        for event in backlog:
            queue.put_nowait(event)
        try:
            await asyncio.gather(self._send_events(socket, queue, key), self._read(socket, key))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            with self._lock:
                self._subscribers.pop(key, None)

    def _hello(self, text: str) -> set[str]:
        message = json.loads(text)
        assert message["type"] == "options_update", message
        assert message["payload"]["wantedCollections"] == [LIKE], message
        return set(message["payload"]["wantedDids"])

    async def _read(self, socket: WebSocket, key: int) -> None:
        while True:
            wanted = self._hello(await socket.receive_text())
            with self._lock:
                loop, queue, _ = self._subscribers[key]
                self._subscribers[key] = (loop, queue, wanted)

    async def _send_events(self, socket: WebSocket, queue: asyncio.Queue[Any], key: int) -> None:
        while True:
            event = await queue.get()
            with self._lock:
                wanted = self._subscribers[key][2]
            if wanted and event["did"] not in wanted:
                continue
            if self.knobs.jetstream_garbage:
                await socket.send_text('{"did": "did:plc:x", "kind": "commit", "commit": [')
            await socket.send_text(json.dumps(event))

    async def _control_jetstream(self, request: Request) -> Response:
        with self._lock:
            wanted = [sorted(entry[2]) for entry in self._subscribers.values()]
        return JSONResponse(
            {"subscribers": len(wanted), "handshakes": self.handshakes, "wanted": wanted}
        )

    # --- the app --------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/xrpc/com.atproto.identity.resolveHandle", self._resolve_handle),
                Route("/xrpc/app.bsky.actor.getProfile", self._get_profile),
                Route("/xrpc/app.bsky.feed.getAuthorFeed", self._get_author_feed),
                Route("/xrpc/app.bsky.feed.getPosts", self._get_posts),
                Route("/xrpc/com.atproto.repo.listRecords", self._list_records),
                Route("/xrpc/com.atproto.repo.getRecord", self._get_record),
                Route("/_test/accounts", self._control_account, methods=["POST"]),
                Route("/_test/profile", self._control_profile, methods=["POST"]),
                Route("/_test/post", self._control_post, methods=["POST"]),
                Route("/_test/like", self._control_like, methods=["POST"]),
                Route("/_test/unlike", self._control_unlike, methods=["POST"]),
                Route("/_test/knobs", self._control_knobs, methods=["POST"]),
                Route("/_test/stats", self._control_stats),
                Route("/_test/jetstream", self._control_jetstream),
                WebSocketRoute("/subscribe", self._subscribe),
                Route("/{did}", self._did_document),
            ]
        )

    def _limit(self) -> Response | None:
        """Count the request; the answer to give instead when over the limit or failing."""
        now = time.time()
        with self._lock:
            self.requests += 1
            if now - self._window_start >= self.knobs.rate_window:
                self._window_start, self._used = now, 0
            self._used += 1
        if self.knobs.fail_5xx > 0:
            self.knobs.fail_5xx -= 1
            return JSONResponse({"error": "InternalServerError"}, status_code=502)
        if self._used > self.knobs.rate_limit:
            self.rate_limited += 1
            if self._used > self.knobs.rate_limit + 1:
                self.over_limit += 1
            body = {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
            return self._headed(JSONResponse(body, status_code=429))
        return None

    def _headed(self, response: Response) -> Response:
        reset = int(self._window_start + self.knobs.rate_window)
        response.headers["ratelimit-limit"] = str(self.knobs.rate_limit)
        response.headers["ratelimit-remaining"] = str(max(self.knobs.rate_limit - self._used, 0))
        response.headers["ratelimit-reset"] = str(reset)
        response.headers["ratelimit-policy"] = (
            f"{self.knobs.rate_limit};w={int(self.knobs.rate_window)}"
        )
        return response

    def _json(self, document: Any, status: int = 200) -> Response:
        return self._headed(JSONResponse(document, status_code=status))

    def _bad(self, error: str, message: str) -> Response:
        return self._json({"error": error, "message": message}, 400)

    def _account(self, actor: str) -> Account | None:
        if actor in self.accounts:
            return self.accounts[actor]
        return next((item for item in self.accounts.values() if item.handle == actor), None)

    async def _resolve_handle(self, request: Request) -> Response:
        if (refused := self._limit()) is not None:
            return refused
        account = self._account(request.query_params.get("handle", ""))
        if account is None:
            return self._bad("InvalidRequest", "Unable to resolve handle")
        return self._json({"did": account.did})

    def _profile(self, account: Account) -> dict[str, Any]:
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/bluesky/profile.json"))
        document.update(did=account.did, handle=account.handle, description=account.description)
        return document

    async def _get_profile(self, request: Request) -> Response:
        if (refused := self._limit()) is not None:
            return refused
        account = self._account(request.query_params.get("actor", ""))
        if account is None:
            return self._bad("InvalidRequest", "Profile not found")
        return self._json(self._profile(account))

    def _post_view(self, account: Account, rkey: str) -> dict[str, Any]:
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/bluesky/post_view.json"))
        document["uri"] = f"at://{account.did}/{POST}/{rkey}"
        document["author"].update(did=account.did, handle=account.handle)
        document["record"]["text"] = account.posts[rkey]
        return document

    async def _get_author_feed(self, request: Request) -> Response:
        if (refused := self._limit()) is not None:
            return refused
        account = self._account(request.query_params.get("actor", ""))
        if account is None:
            return self._bad("InvalidRequest", "Profile not found")
        rkeys = sorted(account.posts, reverse=True)[:20]
        return self._json({"feed": [{"post": self._post_view(account, rkey)} for rkey in rkeys]})

    async def _get_posts(self, request: Request) -> Response:
        if (refused := self._limit()) is not None:
            return refused
        posts = []
        for uri in request.query_params.getlist("uris")[:25]:
            did, _, rest = uri.removeprefix("at://").partition("/")
            account = self.accounts.get(did)
            rkey = rest.removeprefix(f"{POST}/")
            if account is not None and rkey in account.posts:
                posts.append(self._post_view(account, rkey))
        return self._json({"posts": posts})

    def _record(self, did: str, rkey: str, value: dict[str, Any]) -> dict[str, Any]:
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/bluesky/like_record.json"))
        document.update(uri=f"at://{did}/{LIKE}/{rkey}", value=copy.deepcopy(value))
        return document

    async def _list_records(self, request: Request) -> Response:
        if (refused := self._limit()) is not None:
            return refused
        query = request.query_params
        account = self.accounts.get(query.get("repo", ""))
        if account is None or query.get("collection") != LIKE:
            return self._bad("InvalidRequest", "Could not find repo")
        knobs = self.knobs
        if knobs.malformed_json:
            return self._headed(Response(b'{"records": [', media_type="application/json"))
        if knobs.oversized:
            return self._headed(
                Response(b'{"records": []' + b" " * (3 << 20) + b"}", media_type="application/json")
            )
        limit = min(max(int(query.get("limit", "50")), 1), 100)
        reverse = query.get("reverse") == "true"
        cursor = None if knobs.ignore_cursor else query.get("cursor")
        with self._lock:
            rkeys = sorted(account.likes, reverse=not reverse)
            if cursor is not None:
                rkeys = [key for key in rkeys if (key > cursor if reverse else key < cursor)]
            chosen = rkeys[:limit]
            records = [self._record(account.did, key, account.likes[key]) for key in chosen]
        self._spoil(records)
        document: dict[str, Any] = {"records": records}
        if chosen:
            document["cursor"] = chosen[-1] if not knobs.wrong_cursor else chosen[0]
        return self._json(document)

    def _spoil(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        first = records[0]
        if self.knobs.missing_subject:
            del first["value"]["subject"]
        if self.knobs.path_trick:
            first["uri"] = first["uri"].rsplit("/", 1)[0] + "/.."
        if self.knobs.wrong_repo:
            owner = first["uri"].removeprefix("at://").split("/")[0]
            first["uri"] = first["uri"].replace(owner, did_for("someone.else"))
        if self.knobs.loose_created_at:
            first["value"]["createdAt"] = "2024-09-09 19:46"

    async def _get_record(self, request: Request) -> Response:
        if (refused := self._limit()) is not None:
            return refused
        query = request.query_params
        account = self.accounts.get(query.get("repo", ""))
        rkey = query.get("rkey", "")
        if account is None or rkey not in account.likes:
            return self._bad("RecordNotFound", "Could not locate record")
        return self._json(self._record(account.did, rkey, account.likes[rkey]))

    async def _did_document(self, request: Request) -> Response:
        if (refused := self._limit()) is not None:
            return refused
        account = self.accounts.get(request.path_params["did"])
        if account is None:
            return self._json({"message": "DID not registered"}, 404)
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/bluesky/did_plc.json"))
        document.update(id=account.did, alsoKnownAs=[f"at://{account.handle}"])
        document["verificationMethod"][0].update(
            id=f"{account.did}#atproto", controller=account.did
        )
        document["service"][0]["serviceEndpoint"] = self.base
        return self._json(document)

    # --- control API ----------------------------------------------------------------------

    async def _control_account(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse(
            {"did": self.add_account(str(body["handle"]), str(body.get("description", "")))}
        )

    async def _control_profile(self, request: Request) -> Response:
        body = await request.json()
        self.set_description(str(body["did"]), str(body["description"]))
        return JSONResponse({})

    async def _control_post(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"uri": self.post(str(body["did"]), str(body["text"]))})

    async def _control_like(self, request: Request) -> Response:
        body = await request.json()
        made = self.like(
            str(body["did"]),
            str(body.get("subject", "")),
            str(body.get("created_at", "")),
        )
        return JSONResponse(made)

    async def _control_unlike(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"removed": self.unlike(str(body["did"]), str(body["rkey"]))})


class BlueskyControl(Control):
    """The control API from Python, over HTTP (a context manager: it keeps a connection)."""

    def add_account(self, handle: str, description: str = "") -> str:
        return str(self._post("accounts", {"handle": handle, "description": description})["did"])

    def set_description(self, did: str, description: str) -> None:
        self._post("profile", {"did": did, "description": description})

    def post(self, did: str, text: str) -> str:
        return str(self._post("post", {"did": did, "text": text})["uri"])

    def like(self, did: str, subject: str = "", created_at: str = "") -> dict[str, Any]:
        body = {"did": did, "subject": subject, "created_at": created_at}
        return self._post("like", {key: value for key, value in body.items() if value})

    def unlike(self, did: str, rkey: str) -> bool:
        return bool(self._post("unlike", {"did": did, "rkey": rkey})["removed"])
