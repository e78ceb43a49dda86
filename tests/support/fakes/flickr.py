"""A fake Flickr: the OAuth 1.0a dance (`/services/oauth/request_token`, `/authorize`, which
approves at once as `authorize_as` and redirects to the callback with `oauth_token` and
`oauth_verifier`, and `/access_token`) and the REST endpoint `/services/rest` for
`flickr.test.login`, `flickr.favorites.getList` (newest fave first, `page`/`per_page`,
`min_fave_date`/`max_fave_date`, `date_faved` on every photo, `ownername`/`pathalias` with
those extras) and `flickr.photos.getInfo`. Payloads are the fixture files under
tests/data/bridges/flickr/ with their values changed.

Every request must carry a valid HMAC-SHA1 signature over the signature base string
(verified with Authlib's server-side pieces), a fresh nonce and a timestamp within five
minutes, as Flickr checks them: the OAuth endpoints answer 401
`oauth_problem=signature_invalid` (or `nonce_used`, `token_rejected`); the API answers in a
200 `{"stat": "fail", "code": 96|97|98|100, "message"}` as Flickr does.

Knobs (`Knobs`, or POST /_test/knobs): a rate limit per API key (429), 5xx for the next N
requests, a Flickr error code in a 200 (`error_code`), malformed JSON, an oversized page,
more photos than asked, a photo twice, an owner with a path trick, another page than asked,
faves out of order, faves outside the dates asked, an endless list.

Control API (JSON): POST /_test/fave {"user", "owner"?, "title"?, "date"?} ->
{"photo_id", "date_faved", "owner"}; POST /_test/unfave {"user", "photo_id"};
POST /_test/authorize_as {"user"}; POST /_test/revoke {"user"}; POST /_test/knobs;
GET /_test/stats.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from authlib.oauth1.rfc5849.signature import (
    generate_signature_base_string,
    hmac_sha1_signature,
)
from authlib.oauth1.rfc5849.wrapper import OAuth1Request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.fakes.knobs import PageKnobs, failing, oversized, past_limit
from tests.support.fakes.server import Control, Controlled
from tests.support.payloads import load_json, load_text

CONSUMER_KEY = "likewise-flickr-key"
CONSUMER_SECRET = "likewise-flickr-secret"
START_DATE = 1_765_000_000
MAX_PER_PAGE = 500


@dataclass
class Knobs(PageKnobs):
    rate_limit: int = 3600  # calls per API key per window
    rate_window: float = 3600.0
    error_code: int = 0  # every API call answers stat fail with this code
    path_trick: bool = False  # the first photo's owner is "../../admin"
    wrong_page: bool = False  # page 1 whatever was asked
    out_of_order: bool = False  # the oldest fave first
    endless: bool = False  # 10,000 pages
    ignore_dates: bool = False  # min_fave_date and max_fave_date are not applied


ERRORS = {
    96: "Invalid signature",
    97: "Missing signature",
    98: "Invalid auth token",
    99: "Insufficient permissions. Method requires read privileges; none granted.",
    100: "Invalid API Key (Key has invalid format)",
    105: "Service currently unavailable",
    112: 'Method "x" not found',
}


@dataclass
class RequestToken:
    secret: str
    callback: str
    verifier: str = ""
    user: str = ""


@dataclass
class AccessToken:
    secret: str
    user: str
    revoked: bool = False


@dataclass
class FakeFlickr(Controlled):
    host: str = "127.0.0.1"
    authorize_as: str = "donor"
    consumer_key: str = CONSUMER_KEY
    consumer_secret: str = CONSUMER_SECRET
    knobs: Knobs = field(default_factory=Knobs)
    users: dict[str, str] = field(default_factory=dict)  # name -> NSID
    request_tokens: dict[str, RequestToken] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    photos: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (owner, title)
    faves: dict[str, dict[int, int]] = field(default_factory=dict)  # user: photo -> date
    nonces: set[tuple[str, str]] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)  # why signatures were refused
    window: tuple[float, int] = (0.0, 0)
    requests: int = 0
    rate_limited: int = 0
    over_limit: int = 0
    clock: int = START_DATE
    _next: int = 52000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://{self.host}"

    # --- state --------------------------------------------------------------------------

    def add_user(self, name: str) -> str:
        with self._lock:
            if name not in self.users:
                self._next += 1
                self.users[name] = f"{10_000_000 + self._next}@N0{len(self.users) % 10}"
                self.faves[name] = {}
            return self.users[name]

    def fave(self, user: str = "donor", owner: str = "bees", title: str = "", date: int = 0) -> int:
        """A new photo by `owner`, faved by `user` at `date` (else one second after the last
        fave); the photo's id."""
        self.add_user(user)
        self.add_user(owner)
        with self._lock:
            self._next += 1
            photo_id = self._next
            self.photos[photo_id] = (owner, title or f"photo {photo_id}")
            if not date:
                self.clock += 1
                date = self.clock
            self.faves[user][photo_id] = date
        return photo_id

    def unfave(self, user: str, photo_id: int) -> bool:
        with self._lock:
            return self.faves.get(user, {}).pop(photo_id, None) is not None

    def revoke(self, user: str) -> int:
        changed = 0
        for token in self.access_tokens.values():
            if token.user == user and not token.revoked:
                token.revoked = True
                changed += 1
        return changed

    # --- signatures ---------------------------------------------------------------------

    def _verify(self, request: Request, token_secret: str) -> str:
        """ "" when the request's OAuth signature is good, else what is wrong."""
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("oauth "):
            return "parameter_absent"
        try:
            signed = OAuth1Request(
                request.method, str(request.url), headers={"Authorization": header}
            )
        except ValueError:
            return "parameter_rejected"
        params = signed.oauth_params
        if params.get("oauth_consumer_key") != self.consumer_key:
            return "consumer_key_unknown"
        if params.get("oauth_signature_method") != "HMAC-SHA1":
            return "signature_method_rejected"
        timestamp = params.get("oauth_timestamp", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
            return "timestamp_refused"
        nonce = (timestamp, params.get("oauth_nonce", ""))
        expected = hmac_sha1_signature(
            generate_signature_base_string(signed), self.consumer_secret, token_secret
        )
        if not secrets.compare_digest(expected, signed.signature or ""):
            return "signature_invalid"
        with self._lock:
            if nonce in self.nonces:
                return "nonce_used"
            self.nonces.add(nonce)
        return ""

    def _oauth_token(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        try:
            signed = OAuth1Request(
                request.method, str(request.url), headers={"Authorization": header}
            )
        except ValueError:
            return ""
        return str(signed.token or "")

    def _problem(self, problem: str) -> Response:
        self.refused.append(problem)
        return PlainTextResponse(f"oauth_problem={problem}", status_code=401)

    # --- the app ------------------------------------------------------------------------

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/services/oauth/request_token", self._request_token),
                Route("/services/oauth/authorize", self._authorize),
                Route("/services/oauth/access_token", self._access_token),
                Route("/services/rest", self._rest),
                Route("/_test/fave", self._control_fave, methods=["POST"]),
                Route("/_test/unfave", self._control_unfave, methods=["POST"]),
                Route("/_test/authorize_as", self._control_authorize_as, methods=["POST"]),
                Route("/_test/revoke", self._control_revoke, methods=["POST"]),
                Route("/_test/knobs", self._control_knobs, methods=["POST"]),
                Route("/_test/stats", self._control_stats),
            ]
        )

    async def _request_token(self, request: Request) -> Response:
        problem = self._verify(request, "")
        if problem:
            return self._problem(problem)
        header = request.headers["authorization"]
        signed = OAuth1Request(request.method, str(request.url), headers={"Authorization": header})
        callback = signed.redirect_uri or ""
        if not callback:
            return self._problem("parameter_absent")
        answer = dict(
            item.split("=", 1) for item in load_text("bridges/flickr/request_token.txt").split("&")
        )
        token, secret = f"{secrets.randbelow(10**17)}-{secrets.token_hex(8)}", secrets.token_hex(8)
        with self._lock:
            self.request_tokens[token] = RequestToken(secret, callback)
        answer.update(oauth_token=token, oauth_token_secret=secret)
        return PlainTextResponse(urlencode(answer))

    async def _authorize(self, request: Request) -> Response:
        token = self.request_tokens.get(request.query_params.get("oauth_token", ""))
        if token is None or request.query_params.get("perms") not in ("read", "write", "delete"):
            return PlainTextResponse("Oops! Flickr can't find a valid callback URL.", 400)
        token.verifier = secrets.token_hex(8)
        token.user = self.authorize_as
        self.add_user(self.authorize_as)
        joiner = "&" if "?" in token.callback else "?"
        query = urlencode(
            {"oauth_token": request.query_params["oauth_token"], "oauth_verifier": token.verifier}
        )
        return RedirectResponse(f"{token.callback}{joiner}{query}")

    async def _access_token(self, request: Request) -> Response:
        key = self._oauth_token(request)
        pending = self.request_tokens.get(key)
        if pending is None:
            return self._problem("token_rejected")
        problem = self._verify(request, pending.secret)
        if problem:
            return self._problem(problem)
        header = request.headers["authorization"]
        signed = OAuth1Request(request.method, str(request.url), headers={"Authorization": header})
        if not pending.verifier or signed.oauth_params.get("oauth_verifier") != pending.verifier:
            return self._problem("verifier_invalid")
        with self._lock:
            del self.request_tokens[key]
        token, secret = f"{secrets.randbelow(10**17)}-{secrets.token_hex(8)}", secrets.token_hex(8)
        self.access_tokens[token] = AccessToken(secret, pending.user)
        answer = dict(
            item.split("=", 1) for item in load_text("bridges/flickr/access_token.txt").split("&")
        )
        answer.update(
            oauth_token=token,
            oauth_token_secret=secret,
            user_nsid=self.users[pending.user],
            username=pending.user,
            fullname=pending.user.title(),
        )
        return PlainTextResponse(urlencode(answer))

    def _fail(self, code: int) -> Response:
        """Flickr's error answer: a 200 with stat "fail", the code and its message."""
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/flickr/error.json"))
        document.update(code=code, message=ERRORS.get(code, "Unknown error"))
        return JSONResponse(document)

    async def _rest(self, request: Request) -> Response:
        self.requests += 1
        now = time.time()
        with self._lock:
            start, used = self.window
            if now - start >= self.knobs.rate_window:
                start, used = now, 0
            used += 1
            self.window = (start, used)
        if past_limit(self, used, self.knobs.rate_limit):
            return PlainTextResponse("Too Many Requests", status_code=429)
        if failing(self.knobs):
            return PlainTextResponse("Service Unavailable", status_code=503)
        query = request.query_params
        if query.get("format") != "json" or query.get("nojsoncallback") != "1":
            return PlainTextResponse("jsonFlickrApi(...)", status_code=200)
        if "authorization" not in request.headers:
            return self._fail(97)
        token = self.access_tokens.get(self._oauth_token(request))
        problem = self._verify(request, token.secret if token else "")
        if problem == "consumer_key_unknown":
            return self._fail(100)
        if problem:
            self.refused.append(problem)
            return self._fail(96)
        if token is None or token.revoked:
            return self._fail(98)
        if self.knobs.error_code:
            return self._fail(self.knobs.error_code)
        method = query.get("method", "")
        if method == "flickr.test.login":
            document: dict[str, Any] = copy.deepcopy(load_json("bridges/flickr/test_login.json"))
            document["user"].update(id=self.users[token.user], path_alias=token.user)
            document["user"]["username"] = {"_content": token.user.title()}
            return JSONResponse(document)
        if method == "flickr.favorites.getList":
            return self._favorites(token.user, query)
        if method == "flickr.photos.getInfo":
            return self._photo_info(query.get("photo_id", ""))
        return self._fail(112)

    def photo_json(self, photo_id: int, date: int, extras: str) -> dict[str, Any]:
        listing: dict[str, Any] = load_json("bridges/flickr/favorites_getList.json")
        photo: dict[str, Any] = copy.deepcopy(listing["photos"]["photo"][0])
        owner, title = self.photos.get(photo_id, ("bees", f"photo {photo_id}"))
        photo.update(id=str(photo_id), owner=self.users.get(owner) or self.add_user(owner))
        photo.update(title=title, date_faved=str(date))
        names = extras.split(",")
        photo.pop("ownername")
        photo.pop("pathalias")
        if "owner_name" in names:
            photo["ownername"] = owner.title()
        if "path_alias" in names:
            photo["pathalias"] = owner
        return photo

    def _favorites(self, user: str, query: Any) -> Response:
        knobs = self.knobs
        try:
            per_page = min(int(query.get("per_page", 100)), MAX_PER_PAGE)
            page = max(int(query.get("page", 1)), 1)
            low = int(query.get("min_fave_date", 0))
            high = int(query.get("max_fave_date", 10**11))
            if knobs.ignore_dates:
                low, high = 0, 10**11
        except ValueError:
            return self._fail(1)
        with self._lock:
            chosen = sorted(
                ((date, pid) for pid, date in self.faves[user].items() if low <= date <= high),
                reverse=True,
            )
        total = len(chosen)
        pages = max((total + per_page - 1) // per_page, 1)
        window = chosen[(page - 1) * per_page : page * per_page]
        if knobs.endless:
            pages, total = 10_000, 10_000 * per_page
            top = START_DATE + 10**7 - (page - 1) * per_page
            window = [(top - n, 9_000_000 + top - n) for n in range(per_page)]
        if knobs.malformed_json:
            return Response(b'{"photos": {"page": 1, "photo": [', media_type="application/json")
        if knobs.oversized:
            return oversized(b'{"photos": {"photo": [', b"]}}")
        extras = str(query.get("extras", ""))
        photos = [self.photo_json(pid, date, extras) for date, pid in window]
        if knobs.too_many and photos:
            made = len(photos)
            photos += [
                self.photo_json(8_000_000 + n, START_DATE, extras)
                for n in range(per_page + 1 - made)
            ]
        if knobs.duplicate and photos:
            photos[-1] = copy.deepcopy(photos[0])
        if knobs.path_trick and photos:
            photos[0]["owner"] = "../../admin"
        if knobs.out_of_order and len(photos) > 1:
            photos.reverse()
        listing: dict[str, Any] = copy.deepcopy(load_json("bridges/flickr/favorites_getList.json"))
        listing["photos"].update(
            page=1 if knobs.wrong_page else page,
            pages=pages,
            perpage=per_page,
            total=total,
            photo=photos,
        )
        return JSONResponse(listing)

    def _photo_info(self, photo_id: str) -> Response:
        if not photo_id.isdigit() or int(photo_id) not in self.photos:
            return self._fail(1)
        owner, title = self.photos[int(photo_id)]
        document: dict[str, Any] = copy.deepcopy(load_json("bridges/flickr/photos_getInfo.json"))
        photo = document["photo"]
        photo.update(id=photo_id, title={"_content": title})
        photo["owner"].update(nsid=self.users[owner], username=owner.title(), path_alias=owner)
        return JSONResponse(document)

    # --- control ------------------------------------------------------------------------

    async def _control_fave(self, request: Request) -> Response:
        body = await request.json()
        owner = str(body.get("owner", "bees"))
        photo_id = self.fave(
            str(body.get("user", "donor")),
            owner,
            str(body.get("title", "")),
            int(body.get("date", 0)),
        )
        user = str(body.get("user", "donor"))
        date = self.faves[user][photo_id]
        return JSONResponse(
            {"photo_id": str(photo_id), "date_faved": date, "owner": self.users[owner]}
        )

    async def _control_unfave(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"removed": self.unfave(str(body["user"]), int(body["photo_id"]))})

    async def _control_authorize_as(self, request: Request) -> Response:
        body = await request.json()
        self.authorize_as = str(body["user"])
        return JSONResponse({"user": self.authorize_as})

    async def _control_revoke(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"changed": self.revoke(str(body["user"]))})


class FlickrControl(Control):
    """The control API from Python, over HTTP (a context manager: it keeps a connection)."""

    def fave(
        self, user: str = "donor", owner: str = "bees", title: str = "", date: int = 0
    ) -> dict[str, Any]:
        return self._post("fave", {"user": user, "owner": owner, "title": title, "date": date})

    def unfave(self, user: str, photo_id: str) -> bool:
        return bool(self._post("unfave", {"user": user, "photo_id": photo_id})["removed"])

    def revoke(self, user: str) -> int:
        return int(self._post("revoke", {"user": user})["changed"])
