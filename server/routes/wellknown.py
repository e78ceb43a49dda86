"""Discovery: WebFinger, host-meta and NodeInfo."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from activitypub.errors import InvalidHandle
from activitypub.jsonld import JRD_JSON
from activitypub.nodeinfo import Usage, build_nodeinfo, build_nodeinfo_links, settlement_metadata
from activitypub.origin import origin_of
from activitypub.vocab import MAX_URI_LENGTH
from activitypub.webfinger import build_jrd, parse_acct
from server.accounts.actors import INSTANCE_ACTOR_PATH, actor_uri
from server.accounts.discovery import account_named, instance_counts
from server.context import context
from server.render.instance import MASTODON_VERSION
from server.settings import Settings

SOFTWARE_VERSION = "0.1.0"
CORS = {"Access-Control-Allow-Origin": "*"}
NODEINFO_PROFILE = "http://nodeinfo.diaspora.software/ns/schema/{version}#"


def _resource_error(resource: str) -> str | None:
    """RFC 7033 4.2: a missing or malformed `resource` is a bad request (400), not an
    unknown one (404). Well formed: an http(s) URL with a host, or `[acct:]user@host`."""
    if not resource:
        return "the resource parameter is required"
    if resource.lower().startswith(("http://", "https://")):
        if len(resource) > MAX_URI_LENGTH or origin_of(resource) is None:
            return "the resource is not a valid URL"
        return None
    try:
        parse_acct(resource)
    except InvalidHandle as error:
        return f"the resource is neither a URL nor an acct: URI ({error})"
    return None


def _username(settings: Settings, resource: str) -> str | None:
    """The local username a resource names (acct: handle or actor/profile URL)."""
    base = settings.base_url
    for prefix in (f"{base}/users/", f"{base}/@"):
        if resource.startswith(prefix):
            return resource.removeprefix(prefix).strip("/") or None
    try:
        user, domain = parse_acct(resource)
    except InvalidHandle:
        return None
    return user if domain == settings.domain.lower() else None


def _instance_actor_jrd(settings: Settings, resource: str) -> dict[str, object] | None:
    """The instance actor's JRD (`acct:HOST@DOMAIN`, as Mastodon names its own), or None.
    Mastodon checks an actor's WebFinger before it accepts what the actor sends, such as
    the notices to creators."""
    uri = settings.base_url + INSTANCE_ACTOR_PATH
    if resource != uri:
        try:
            user, domain = parse_acct(resource)
        except InvalidHandle:
            return None
        if (user.lower(), domain) != (settings.host.lower(), settings.domain.lower()):
            return None
    return build_jrd(settings.host, settings.domain, uri, f"{settings.base_url}/about")


async def webfinger(request: Request) -> Response:
    settings: Settings = context(request).settings
    resource = request.query_params.get("resource", "")
    error = _resource_error(resource)
    if error is not None:
        return JSONResponse({"error": error}, status_code=400, headers=CORS)
    instance = _instance_actor_jrd(settings, resource)
    if instance is not None:
        return JSONResponse(instance, media_type=JRD_JSON, headers=CORS)
    username = _username(settings, resource)
    account = await account_named(context(request).db, username) if username else None
    if account is None or account.suspended_at is not None:
        return JSONResponse({"error": "not found"}, status_code=404, headers=CORS)
    jrd = build_jrd(
        account.username,
        settings.domain,
        actor_uri(settings, account.username),
        f"{settings.base_url}/@{account.username}",
        subscribe_template=f"{settings.base_url}/authorize_interaction?uri={{uri}}",
    )
    return JSONResponse(jrd, media_type=JRD_JSON, headers=CORS)


async def host_meta(request: Request) -> Response:
    base = context(request).settings.base_url
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{base}/.well-known/webfinger?resource={{uri}}"/>\n'
        "</XRD>\n"
    )
    return Response(xml, media_type="application/xrd+xml", headers=CORS)


async def nodeinfo_links(request: Request) -> Response:
    links = build_nodeinfo_links(context(request).settings.base_url)
    return JSONResponse(links, headers=CORS)


async def nodeinfo(request: Request) -> Response:
    app = context(request)
    settings = app.settings
    version = request.path_params["version"]
    if version not in ("2.0", "2.1"):
        return JSONResponse({"error": "not found"}, status_code=404)
    counts = await instance_counts(app.db)
    users = counts.users
    usage = Usage(users, users, users, counts.local_posts)
    actor = settings.base_url + INSTANCE_ACTOR_PATH
    offer = settlement_metadata(settings.currency, actor)["likewise"]
    likewise = dict(offer)  # type: ignore[call-overload]
    likewise["microdonations"] = True
    # Apps that tell servers apart by NodeInfo (megalodon's detector) know a server that
    # speaks Mastodon's client API by its upstream.
    upstream = {"name": "mastodon", "version": MASTODON_VERSION}
    metadata = {"nodeName": settings.name, "upstream": upstream, "likewise": likewise}
    document = build_nodeinfo(version, SOFTWARE_VERSION, usage, settings.registrations, metadata)
    media_type = f'application/json; profile="{NODEINFO_PROFILE.format(version=version)}"'
    return JSONResponse(document, media_type=media_type, headers=CORS)


routes = [
    Route("/.well-known/webfinger", webfinger, methods=["GET"]),
    Route("/.well-known/host-meta", host_meta, methods=["GET"]),
    Route("/.well-known/nodeinfo", nodeinfo_links, methods=["GET"]),
    Route("/nodeinfo/{version}", nodeinfo, methods=["GET"]),
]
