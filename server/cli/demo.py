"""`likewise demo`: two instances on loopback, demo data, and one month's whole loop.

Alpha's donors like posts of creators on alpha and on beta, both months close, alpha's
settlement batch goes out to beta, alpha says it paid and beta confirms. Everything goes
through the ordinary paths: `likewise` commands for what admins do, the client API for what
users do, the instances' own workers for delivery. Then it prints the pages to look at and
the log-ins, and keeps both instances running until Ctrl-C (`--check`: checks the results
and exits instead).
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TypeVar

import click
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from server.cli.common import console, fail
from server.cli.demo_instances import STOPPING, DemoError, DemoInstance, User, wait_for
from server.db.engine import Database
from server.settings import Settings

# What the demo data makes (minor units, EUR): ann's 6.00 over three likes, abe's 5.00 on one.
ANN_CREDIT, ABE_CREDIT, DAN_CREDIT = "20.00", "10.00", "10.00"
ANN_BUDGET = "6.00"
EXPECTED = {
    "ann wallet": 1400,
    "abe wallet": 500,
    "dan wallet": 500,
    "carla available": 200,
    "bob available": 1400,  # 9.00 settled from alpha, 5.00 from dan on beta
    "settled": 900,
}
STEPS = 9
T = TypeVar("T")


class Steps:
    """One line per step: a live progress bar in a terminal, plain numbered lines otherwise."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.bar: Progress | None = None
        if console.is_terminal:
            self.bar = Progress(  # the counts first: a narrow terminal cuts the end
                SpinnerColumn(),
                TextColumn("{task.completed}/{task.total}"),
                BarColumn(bar_width=12),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=console,
                transient=True,
            )
            self.task = self.bar.add_task("starting", total=total)
            self.bar.start()

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        started = time.monotonic()
        if self.bar is not None:
            self.bar.update(self.task, description=text)
        else:
            click.echo(f"[{self.done + 1}/{self.total}] {text} ...")
        yield
        self.done += 1
        took = f"{time.monotonic() - started:.1f} s"
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done)
            console.print(f"[green]✓[/green] {text} ({took})")
        else:
            click.echo(f"      done in {took}")

    def note(self, text: str) -> None:
        if self.bar is not None:
            console.print(f"    {text}", markup=False, highlight=False)
        else:
            click.echo(f"      {text}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@dataclass
class Demo:
    alpha: DemoInstance
    beta: DemoInstance
    posts: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> status JSON


def _period() -> str:
    return datetime.now(UTC).strftime("%Y-%m")


def _decimal(value: int, scale: int = 2) -> str:
    return f"{value // 10**scale}.{value % 10**scale:0{scale}d}"


def _peer_state(instance: DemoInstance, domain: str) -> str:
    from server.settlement.peering import list_peers

    async def read(db: Database, settings: Settings) -> str:
        rows = await list_peers(db, settings)
        return next((str(row.peer.state) for row in rows if row.peer.domain == domain), "")

    return instance.read(read)


def _open_balance(instance: DemoInstance, domain: str) -> int:
    from server.settlement.peering import list_peers

    async def read(db: Database, settings: Settings) -> int:
        rows = await list_peers(db, settings)
        return next((row.net for row in rows if row.peer.domain == domain), 0)

    return instance.read(read)


def _batches(instance: DemoInstance) -> list[str]:
    from server.settlement.exchange import list_settlements

    async def read(db: Database, settings: Settings) -> list[str]:
        return [str(s.state) for s, _ in await list_settlements(db)]

    return instance.read(read)


def _payments(instance: DemoInstance, direction: str) -> list[tuple[int, str]]:
    from server.settlement.exchange import list_payments

    async def read(db: Database, settings: Settings) -> list[tuple[int, str]]:
        found = await list_payments(db)
        return [(int(p.id or 0), str(p.state)) for p, _ in found if p.direction == direction]

    return instance.read(read)


def _money(instance: DemoInstance, user: User) -> tuple[int, int, int]:
    """(wallet, creator pending, creator available) of `user`, from the client API."""
    me = instance.api("GET", "/api/v1/likewise/me", user)
    creator = me["creator"]
    return (
        int(me["wallet"]["value"]),
        int(creator["pending"]["value"]),
        int(creator["available"]["value"]),
    )


def start(demo: Demo, steps: Steps) -> None:
    with steps.step("Starting alpha and beta (likewise serve) on loopback"):
        for instance in (demo.alpha, demo.beta):
            instance.configure()
            instance.start()
        for instance in (demo.alpha, demo.beta):
            instance.wait_healthy()
            steps.note(f"{instance.label}: {instance.base_url}  (data: {instance.data_dir})")


def at_once(*calls: Callable[[], T]) -> list[T]:
    """Run commands side by side (each mostly waits for its `likewise` process); their
    results in order, or the first one's error."""
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = [pool.submit(call) for call in calls]
        try:
            return [future.result() for future in futures]
        except BaseException:
            STOPPING.set()  # the others begin no further command: the pool's exit waits less
            raise


def populate(demo: Demo, steps: Steps) -> None:
    alpha, beta = demo.alpha, demo.beta
    with steps.step("Admins (likewise users create --admin); donors and creators sign up"):
        people = {
            alpha: [("ada", "admin"), ("ann", "donor"), ("abe", "donor"), ("carla", "creator")],
            beta: [("bea", "admin"), ("bob", "creator"), ("dan", "donor")],
        }

        def create(instance: DemoInstance) -> None:
            for name, role in people[instance]:
                if role == "admin":
                    instance.add_admin(name)
                else:
                    instance.sign_up(name, role)

        at_once(lambda: create(alpha), lambda: create(beta))
        for instance, made in people.items():
            steps.note(f"{instance.label}: " + ", ".join(f"@{n} ({r})" for n, r in made))
    with steps.step("Funding wallets by hand (likewise wallet credit) and setting a budget"):
        credits = [
            (alpha, "ann", ANN_CREDIT),
            (alpha, "abe", ABE_CREDIT),
            (beta, "dan", DAN_CREDIT),
        ]
        said = at_once(
            *(
                partial(i.cli, "wallet", "credit", name, amount, "--reference", f"demo-{name}")
                for i, name, amount in credits
            )
        )
        for (instance, _, _), line in zip(credits, said, strict=True):
            steps.note(f"{instance.label}: {line.strip()}")
        ann = alpha.users["ann"]
        alpha.api("PUT", "/api/v1/likewise/budget", ann, {"monthly_budget": ANN_BUDGET})
        steps.note(f"alpha: @ann's monthly budget is {ANN_BUDGET}; the others keep 5.00")
    with steps.step("Creators post (client API)"):
        for instance, author, key, text in (
            (alpha, "carla", "carla-zine", "Zine no. 7 is out: forty pages of river drawings."),
            (beta, "bob", "bob-field", "A field recording: rain on the tin roof, 12 minutes."),
            (beta, "bob", "bob-song", "New song, first take, recorded in the kitchen."),
        ):
            body = {"status": text, "visibility": "public"}
            status = instance.api("POST", "/api/v1/statuses", instance.users[author], body)
            demo.posts[key] = status
            steps.note(f"{instance.label}: @{author} posted {status['url']}")
    with steps.step("Peering: alpha proposes (likewise peers add), beta accepts"):
        alpha.cli("peers", "add", beta.domain)
        wait_for("beta to receive alpha's proposal", lambda: _peer_state(beta, alpha.domain))
        beta.cli("peers", "accept", alpha.domain)
        wait_for(
            "alpha to see the peering active",
            lambda: _peer_state(alpha, beta.domain) == "active",
        )
        steps.note("alpha and beta settle with each other (state: active on both)")


def like_and_close(demo: Demo, steps: Steps) -> None:
    alpha, beta = demo.alpha, demo.beta
    with steps.step("Likes across the instances (client API)"):
        for instance, donor, key in (
            (alpha, "ann", "bob-field"),
            (alpha, "ann", "bob-song"),
            (alpha, "ann", "carla-zine"),
            (alpha, "abe", "bob-song"),
            (beta, "dan", "bob-field"),
        ):
            uri = demo.posts[key]["uri"]
            done = instance.api(
                "POST", "/api/v1/likewise/likes", instance.users[donor], {"uri": uri}
            )
            if done["outcome"] != "recorded":
                raise DemoError(f"@{donor}'s like of {uri} was {done['outcome']}, not recorded")
            steps.note(f"{instance.label}: @{donor} likes {uri}")
    with steps.step(f"Closing the month {_period()} on both (likewise period close --force)"):
        closed = at_once(
            *(
                partial(i.cli, "period", "close", "--period", _period(), "--force")
                for i in (alpha, beta)
            )
        )
        for instance, said in zip((alpha, beta), closed, strict=True):
            steps.note(f"{instance.label}: {said.strip().splitlines()[-1]}")


def settle(demo: Demo, steps: Steps) -> None:
    alpha, beta = demo.alpha, demo.beta
    with steps.step("Settlement: alpha's worker sends the signed batch, beta answers"):
        wait_for("beta's receipt for alpha's batch", lambda: "accepted" in _batches(alpha))
        owed = _open_balance(alpha, beta.domain)
        steps.note(f"alpha owes beta {_decimal(owed)} EUR for @bob (pending on beta)")
    with steps.step("Payment: alpha marks it paid, beta's admin confirms"):
        reference = f"DEMO-{_period()}"
        alpha.cli("settlements", "mark-paid", beta.domain, _decimal(owed), "--reference", reference)
        notice = wait_for(
            "alpha's payment notice on beta",
            lambda: [pid for pid, state in _payments(beta, "in") if state == "notified"],
        )
        said = beta.cli("settlements", "confirm", str(notice[0]))
        steps.note(f"beta: {said.strip()}")
        wait_for(
            "beta's confirmation on alpha",
            lambda: "confirmed" in [state for _, state in _payments(alpha, "out")],
        )
        steps.note("alpha: the payment is confirmed; @bob's money is available on beta")


def pages(demo: Demo) -> list[tuple[DemoInstance, str, str, User | None]]:
    """(instance, what, path, who logs in) of each page worth a look."""
    alpha, beta = demo.alpha, demo.beta
    carla_post = demo.posts["carla-zine"]["url"].removeprefix(alpha.base_url)
    bob_post = demo.posts["bob-song"]["url"].removeprefix(beta.base_url)
    return [
        (alpha, "donor dashboard", "/money", alpha.users["ann"]),
        (alpha, "creator page", "/money/creator", alpha.users["carla"]),
        (alpha, "a post", carla_post, None),
        (alpha, "admin money", "/admin/money", alpha.users["ada"]),
        (alpha, "admin peers", "/admin/peers", alpha.users["ada"]),
        (alpha, "peer statement", f"/admin/peers/{beta.domain}/statement", alpha.users["ada"]),
        (beta, "creator page", "/money/creator", beta.users["bob"]),
        (beta, "a post", bob_post, None),
        (beta, "donor dashboard", "/money", beta.users["dan"]),
        (beta, "admin money", "/admin/money", beta.users["bea"]),
        (beta, "peer statement", f"/admin/peers/{alpha.domain}/statement", beta.users["bea"]),
    ]


def show(demo: Demo) -> None:
    click.echo("\nPages to look at (log in with the accounts below):")
    for instance, what, path, who in pages(demo):
        login = f"as @{who.username}" if who else "no log-in"
        click.echo(f"  {instance.label:5}  {what:16} {instance.base_url}{path}  ({login})")
    click.echo("\nLog-ins (username / password):")
    for instance in (demo.alpha, demo.beta):
        for user in instance.users.values():
            click.echo(f"  {instance.label:5}  {user.role:7}  {user.username:6} {user.password}")


def check_loop(demo: Demo, steps: Steps) -> None:
    alpha, beta = demo.alpha, demo.beta
    with steps.step("Checking: balances, ledgers (likewise ledger check), every page"):
        found = {
            "ann wallet": _money(alpha, alpha.users["ann"])[0],
            "abe wallet": _money(alpha, alpha.users["abe"])[0],
            "dan wallet": _money(beta, beta.users["dan"])[0],
            "carla available": _money(alpha, alpha.users["carla"])[2],
            "bob available": _money(beta, beta.users["bob"])[2],
            "settled": EXPECTED["settled"] - _open_balance(alpha, beta.domain),
        }
        problems = [
            f"{what} is {_decimal(found[what])} EUR, expected {_decimal(want)} EUR"
            for what, want in EXPECTED.items()
            if found[what] != want
        ]
        if _money(beta, beta.users["bob"])[1] != 0:
            problems.append("@bob still has money pending on beta after the confirmation")
        checked = at_once(
            partial(alpha.cli, "ledger", "check"), partial(beta.cli, "ledger", "check")
        )
        for instance, said in zip((alpha, beta), checked, strict=True):
            steps.note(f"{instance.label}: {said.strip()}")
        visits: dict[tuple[str, str], list[str]] = {}
        for instance, _, path, who in pages(demo):
            visits.setdefault((instance.label, who.username if who else ""), []).append(path)
        for (label, name), paths in visits.items():
            instance = alpha if label == "alpha" else beta
            problems += instance.pages_answer(instance.users.get(name), paths)
        for instance in (alpha, beta):
            if "Traceback" in instance.log_path.read_text(errors="replace"):
                problems.append(f"{instance.label}'s log holds a traceback")
        if problems:
            raise DemoError("; ".join(problems))
        steps.note(
            "wallets debited (ann 14.00, abe 5.00, dan 5.00), carla 2.00 and bob 14.00 "
            "available, 9.00 settled, both ledgers balance, every page answers 200"
        )


def _log_tails(demo: Demo) -> None:
    for instance in (demo.alpha, demo.beta):
        if instance.log_path.exists():
            lines = instance.log_path.read_text(errors="replace").splitlines()[-15:]
            click.echo(f"--- last lines of {instance.label}'s log ---", err=True)
            click.echo("\n".join(lines), err=True)


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _wait_for_ctrl_c(demo: Demo) -> None:
    click.echo("\nBoth instances run until Ctrl-C.")
    try:
        while all(i.process and i.process.poll() is None for i in (demo.alpha, demo.beta)):
            time.sleep(0.5)
        raise DemoError("an instance stopped on its own (the end of its log follows)")
    except KeyboardInterrupt:
        click.echo("\nstopping both instances")


@click.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the demo's data here (a new or empty directory); default a temporary one, "
    "removed at the end.",
)
@click.option("--check", is_flag=True, help="Check the loop's results and exit (0: all good).")
def demo(data_dir: Path | None, check: bool) -> None:
    """Two instances on loopback with demo data: likes, the month's close, settlement."""
    if data_dir is not None and data_dir.exists() and any(data_dir.iterdir()):
        raise fail(f"--data {data_dir}: the demo needs a new or empty directory")
    root = data_dir or Path(tempfile.mkdtemp(prefix="likewise-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    demo = Demo(DemoInstance("alpha", root / "alpha"), DemoInstance("beta", root / "beta"))
    # Ctrl-C (even where a shell started it with SIGINT ignored), kill, a closed terminal:
    # each ends in the `finally` below, which stops both instances and cleans up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for stop in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, _stop_on_signal)
    steps = Steps(STEPS + 1 if check else STEPS)
    started = time.monotonic()
    try:
        start(demo, steps)
        populate(demo, steps)
        like_and_close(demo, steps)
        settle(demo, steps)
        if check:
            check_loop(demo, steps)
        steps.close()
        show(demo)
        took = time.monotonic() - started
        if check:
            click.echo(f"\ndemo check passed in {took:.0f} s")
        else:
            click.echo(f"\nThe loop ran in {took:.0f} s.")
            _wait_for_ctrl_c(demo)
    except DemoError as exc:
        steps.close()
        _log_tails(demo)
        raise fail(f"demo failed: {exc}") from exc
    except KeyboardInterrupt:
        steps.close()
        click.echo("\ninterrupted before the loop finished: stopping both instances")
        raise SystemExit(130) from None
    finally:
        for instance in (demo.alpha, demo.beta):
            instance.close_browsers()
            instance.stop()
        if data_dir is None:
            shutil.rmtree(root, ignore_errors=True)
            click.echo(f"removed {root}")
        else:
            click.echo(f"the demo's data stays in {root}")
