"""Every page a visitor, a donor, a creator and an admin can reach, in Chromium against real
instances: at 390 px no page is wider than the screen, and each has one <h1> and a skip link
to its <main id="content">; axe-core finds no serious or critical violation at 1280 px and
390 px, light and dark. The pages are the app's GET routes, so a new page is not left out."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from starlette.routing import Route

from server.db.engine import Database
from server.models import CreatorNotice, Identity
from server.routes import all_routes
from server.settings import Settings
from tests.imports.support import instagram_export, this_month
from tests.money.test_bank import statement
from tests.support.instances import LiveInstance
from tests.support.live import FAST, like, on, peer, post

PASSWORD = "correct horse"
AXE = Path(__file__).resolve().parents[1] / "clients" / "node_modules" / "axe-core" / "axe.min.js"
BANK = """[bank]
name = "Likewise Test e.V."
iban = "DE89370400440532013000"
bic = "COBADEFFXXX"
"""

# Paths that answer machines (JSON, ActivityPub, images, feeds), never a person's browser.
MACHINE_PREFIXES = ("/api/", "/users/", "/.well-known/", "/nodeinfo/", "/media/")
MACHINE_PATHS = {
    "/actor": "the instance's ActivityPub actor",
    "/healthz": "plain text for monitoring",
    "/metrics": "Prometheus text",
    "/button/badge.svg": "an image embedded on other sites",
    "/favicon.ico": "an image",
    "/settings/imports/{batch_id:int}/progress": "JSON read by the import page",
    "/admin/payouts/batches/{batch_id:int}/sepa.xml": "a SEPA file the admin downloads",
}


@dataclass(frozen=True)
class Samples:
    """Ids and names that the pages' path parameters need, made by the test."""

    post_path: str
    post_url: str
    client_id: str
    import_batch: int
    bank_import: int
    peer: str
    waiting_token: str
    run: int  # a month close started from the admin's money page


# Each page's route and the address the test opens for it.
PAGES: dict[str, Callable[[Samples], str]] = {
    "/": lambda s: "/",
    "/about": lambda s: "/about",
    "/signup": lambda s: "/signup",
    "/login": lambda s: "/login",
    "/account": lambda s: "/account",
    "/oauth/authorize": lambda s: (
        f"/oauth/authorize?client_id={s.client_id}&response_type=code&scope=read"
        "&redirect_uri=urn:ietf:wg:oauth:2.0:oob"
    ),
    "/settings/applications": lambda s: "/settings/applications",
    "/settings/tokens": lambda s: "/settings/tokens",
    "/settings/password": lambda s: "/settings/password",
    "/settings/profile": lambda s: "/settings/profile",
    "/settings/connections": lambda s: "/settings/connections",
    "/settings/connections/{network:str}/callback": lambda s: (
        "/settings/connections/bluesky/callback?state=no-such-attempt"
    ),
    "/settings/connections/{network:str}/proof": lambda s: (
        "/settings/connections/bluesky/proof?state=no-such-attempt"
    ),
    "/settings/imports": lambda s: "/settings/imports",
    "/settings/imports/{batch_id:int}": lambda s: f"/settings/imports/{s.import_batch}",
    "/compose": lambda s: "/compose",
    "/@{username}": lambda s: "/@cat",
    "/@{username}/support": lambda s: "/@cat/support",
    "/@{username}/{note_id:int}": lambda s: s.post_path,
    "/tags/{name}": lambda s: "/tags/zines",
    "/authorize_interaction": lambda s: f"/authorize_interaction?uri={quote(s.post_url)}",
    "/button": lambda s: f"/button?url={quote(s.post_url)}",
    "/waiting/{token:str}": lambda s: f"/waiting/{s.waiting_token}",
    "/money": lambda s: "/money",
    "/money/creator": lambda s: "/money/creator",
    "/money/add": lambda s: "/money/add",
    "/money/add/done": lambda s: "/money/add/done?session_id=cs_test_none",
    "/admin/money": lambda s: "/admin/money",
    "/admin/money/bank": lambda s: "/admin/money/bank",
    "/admin/money/bank/{import_id:int}": lambda s: f"/admin/money/bank/{s.bank_import}",
    "/admin/networks": lambda s: "/admin/networks",
    "/admin/accounts": lambda s: "/admin/accounts",
    "/admin/accounts/{username:str}": lambda s: "/admin/accounts/dora",
    "/admin/runs/{job_id:int}": lambda s: f"/admin/runs/{s.run}",
    "/admin/peers": lambda s: "/admin/peers",
    "/admin/peers/{domain:str}/statement": lambda s: f"/admin/peers/{s.peer}/statement",
    "/admin/terms": lambda s: "/admin/terms",
    "/terms": lambda s: "/terms",
    "/privacy": lambda s: "/privacy",
    "/password/forgot": lambda s: "/password/forgot",
    "/password/reset/{token:str}": lambda s: "/password/reset/no-such-link",
}
# Error pages people meet: a missing profile, post and page.
ERRORS = ["/@nobody", "/@cat/999999", "/no/such/page"]
ROLES = (None, "dora", "cat", "operator")  # a visitor, a donor, a creator, an admin


def _page_routes() -> set[str]:
    found = set()
    for route in all_routes():
        if isinstance(route, Route) and route.methods and "GET" in route.methods:
            if not route.path.startswith(MACHINE_PREFIXES) and route.path not in MACHINE_PATHS:
                found.add(route.path)
    return found


def test_every_get_route_for_people_is_walked() -> None:
    """A new page route must be added to PAGES (with a sample address) to be checked."""
    assert _page_routes() == set(PAGES)


def _addresses(samples: Samples) -> list[str]:
    return [make(samples) for make in PAGES.values()] + ERRORS


async def _waiting_notice(db: Database, settings: Settings) -> str:
    token = secrets.token_urlsafe(16)
    async with db.transaction() as session:
        identity = Identity(
            network="fediverse",
            external_id="https://elsewhere.example/users/carla",
            handle="@carla.with.a.rather.long.handle@elsewhere.example",
            profile_url="https://elsewhere.example/@carla",
        )
        session.add(identity)
        await session.flush()
        assert identity.id is not None
        session.add(
            CreatorNotice(
                creator_uri=identity.external_id,
                month="2026-01",
                identity_id=identity.id,
                token=token,
                amount=1234,
                supporters=3,
            )
        )
    return token


def _made(alpha: LiveInstance, beta: LiveInstance) -> dict[str, Any]:
    """Users, a post, a like, an OAuth app, a peer and a creator notice, on real instances."""
    tokens = {}
    for name, extra in (("operator", ("--admin",)), ("cat", ()), ("dora", ())):
        alpha.cli(
            "users",
            "create",
            name,
            "--email",
            f"{name}@example.org",
            "--password",
            PASSWORD,
            *extra,
        )
        token = alpha.cli("tokens", "create", name, "--scopes", "read write follow").stdout
        tokens[name] = {"Authorization": f"Bearer {token.strip().split()[-1]}"}
    alpha.cli("wallet", "credit", "dora", "10.00", "--reference", "bank-1")
    status = post(alpha, tokens["cat"], "A new zine about bicycles and the sea #zines")
    like(alpha, tokens["dora"], status["uri"])
    app = httpx.post(
        f"{alpha.base_url}/api/v1/apps",
        json={"client_name": "Pocket client", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"},
    )
    app.raise_for_status()
    peer(alpha, beta)
    return {
        "post_url": str(status["url"]),
        "client_id": str(app.json()["client_id"]),
        "peer": beta.domain,
        "waiting_token": on(alpha, _waiting_notice),
    }


@pytest.fixture
async def walk(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> AsyncIterator[Walk]:
    alpha = instances("alpha", autostart=False, env=FAST)
    alpha.data_dir.mkdir(parents=True)
    (alpha.data_dir / "config.toml").write_text(BANK)
    alpha.start()
    beta = instances("beta", env=FAST)
    made = await asyncio.to_thread(_made, alpha, beta)
    browser = page.context.browser
    assert browser is not None
    walk = Walk(alpha, browser)
    try:
        donor = await walk.as_role("dora")
        export = tmp_path / "liked_posts.json"
        export.write_bytes(instagram_export([("bob_makes", "CbbbbbbbbB2", this_month(2))]))
        await donor.goto(alpha.base_url + "/settings/imports")
        await donor.get_by_label("Network").select_option("instagram")
        await donor.get_by_label("The export file or zip").set_input_files(str(export))
        await donor.get_by_role("button", name="Upload and read").click()
        await expect(donor).to_have_url(re.compile(r"/settings/imports/\d+$"))
        batch = int(donor.url.rsplit("/", 1)[1])
        admin = await walk.as_role("operator")
        file = tmp_path / "statement.xml"
        file.write_bytes(statement("camt053_day1.xml", {"ann": 999, "bob": 998}))
        await admin.goto(alpha.base_url + "/admin/money/bank")
        await admin.get_by_label("Statement file").set_input_files(str(file))
        await admin.get_by_role("button", name="Preview").click()
        await expect(admin).to_have_url(re.compile(r"/admin/money/bank/\d+$"))
        bank_import = int(admin.url.rsplit("/", 1)[1])
        await admin.goto(alpha.base_url + "/admin/money")
        await admin.get_by_role("button", name="Close the month").click()
        await expect(admin).to_have_url(re.compile(r"/admin/runs/\d+$"))
        run = int(admin.url.rsplit("/", 1)[1])
        post_url = made["post_url"]
        walk.samples = Samples(
            post_path=post_url.removeprefix(alpha.base_url),
            post_url=post_url,
            client_id=made["client_id"],
            import_batch=batch,
            bank_import=bank_import,
            peer=made["peer"],
            waiting_token=made["waiting_token"],
            run=run,
        )
        yield walk
    finally:
        await walk.close()


class Walk:
    """One browser context per role (logged out, or logged in as that user) on alpha."""

    def __init__(self, instance: LiveInstance, browser: Browser) -> None:
        self.instance, self.browser = instance, browser
        self.pages: dict[str | None, Page] = {}
        self.samples: Samples | None = None

    async def as_role(self, name: str | None) -> Page:
        if name in self.pages:
            return self.pages[name]
        context = await self.browser.new_context()
        page = await context.new_page()
        if name is not None:
            await page.goto(self.instance.base_url + "/login")
            await page.get_by_label("Username or e-mail").fill(name)
            await page.get_by_label("Password").fill(PASSWORD)
            await page.get_by_role("button", name="Log in").click()
            await expect(page.get_by_role("button", name="Log out")).to_be_visible()
        self.pages[name] = page
        return page

    def addresses(self) -> list[str]:
        assert self.samples is not None
        return _addresses(self.samples)

    async def close(self) -> None:
        for page in self.pages.values():
            await page.context.close()


FITS = """() => ({
  width: document.documentElement.scrollWidth,
  wide: [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
    .filter(e => {  // not inside a box that scrolls it
      for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
        if (getComputedStyle(p).overflowX !== 'visible') return false;
      }
      return true;
    })
    .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ':'
      + Math.round(e.getBoundingClientRect().right)).slice(0, 4).join(' '),
  h1: document.querySelectorAll('h1').length,
  skip: !!document.querySelector('a[href="#content"]')
    && document.querySelector('main#content') !== null,
})"""


async def test_every_page_fits_a_phone_with_one_heading_and_a_skip_link(walk: Walk) -> None:
    problems = []
    visited = 0
    for role in ROLES:
        page = await walk.as_role(role)
        await page.set_viewport_size({"width": 390, "height": 844})
        for address in walk.addresses():
            await page.goto(walk.instance.base_url + address)
            found = await page.evaluate(FITS)
            visited += 1
            where = f"{address} ({role or 'logged out'})"
            if found["width"] > 390:
                problems.append(f"{where} is {found['width']} px wide: {found['wide']}")
            if found["h1"] != 1:
                problems.append(f"{where} has {found['h1']} <h1>")
            if not found["skip"]:
                problems.append(f"{where} has no skip link to <main id=content>")
    assert visited == len(ROLES) * len(walk.addresses())
    assert problems == [], "\n".join(problems)


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ' (' + v.impact + '): '
      + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
}"""


async def test_axe_finds_no_serious_violation_on_any_page(walk: Walk) -> None:
    assert AXE.exists(), "npm ci --prefix tests/clients installs axe-core"
    problems: dict[str, list[str]] = {}
    runs = 0
    for role in ROLES:
        page = await walk.as_role(role)
        for address in walk.addresses():
            await page.set_viewport_size({"width": 1280, "height": 900})
            await page.emulate_media(color_scheme="light")
            await page.goto(walk.instance.base_url + address)
            await page.add_script_tag(path=str(AXE))
            for width in (1280, 390):  # the same page laid out again, and in the dark
                await page.set_viewport_size({"width": width, "height": 900})
                for scheme in ("light", "dark"):
                    await page.emulate_media(color_scheme=scheme)
                    runs += 1
                    for violation in await page.evaluate(AXE_RUN):
                        where = f"{address} ({role or 'logged out'}, {width} px, {scheme})"
                        problems.setdefault(violation, []).append(where)
    assert runs == len(ROLES) * 4 * len(walk.addresses())
    report = [f"{v}\n    on {len(w)} page views, e.g. {w[0]}" for v, w in problems.items()]
    assert problems == {}, "\n".join(report)
