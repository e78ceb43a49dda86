"""Instance configuration: defaults < data-dir config.toml < environment < command line."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import tomli_w
from babel.numbers import get_currency_precision, is_currency

from server.public_url import (
    PUBLIC_URL_KEY,
    PublicURLError,
    adopt_public_url,
    parse_public_url,
    public_url_line,
)

# The tables' types are imported from here, beside Settings (hence "as": re-exported).
from server.settings_tables import (
    BankAccount as BankAccount,
)
from server.settings_tables import (
    StripeConfig as StripeConfig,
)
from server.settings_tables import (
    TableError,
    bank_account,
    bridge_tables,
    check_bridges,
    stripe_config,
)

CONFIG_FILE = "config.toml"
DEFAULT_PORT = 8000
T = TypeVar("T")


class ConfigError(Exception):
    """A setting has a value the instance cannot run with."""


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    kind: type
    help: str


# One table: the README documents exactly these (tests keep the two in step).
SETTINGS: tuple[Setting, ...] = (
    Setting("domain", "LIKEWISE_DOMAIN", str, "Public host, may include a port (127.0.0.1:8001)."),
    Setting(
        "database_url",
        "LIKEWISE_DATABASE_URL",
        str,
        "SQLAlchemy URL; default SQLite file in the data directory.",
    ),
    Setting(
        "dev",
        "LIKEWISE_DEV",
        bool,
        "Dev mode: http and loopback peers allowed. Default on for loopback domains.",
    ),
    Setting("currency", "LIKEWISE_CURRENCY", str, "ISO 4217 currency of this instance."),
    Setting("fee_bps", "LIKEWISE_FEE_BPS", int, "Instance fee in basis points (0-10000)."),
    Setting(
        "secret_key",
        "LIKEWISE_SECRET_KEY",
        str,
        "Signs session cookies; generated into config.toml on first run.",
    ),
    Setting("name", "LIKEWISE_NAME", str, "Instance name shown on pages."),
    Setting(
        "registrations",
        "LIKEWISE_REGISTRATIONS",
        bool,
        "Open sign-up; off means admin-created accounts only.",
    ),
    Setting(
        "oauth_password_grant",
        "LIKEWISE_OAUTH_PASSWORD_GRANT",
        bool,
        "Let apps trade a username and password for a token (OAuth password grant).",
    ),
    Setting(
        "ca_bundle",
        "LIKEWISE_CA_BUNDLE",
        str,
        "Extra CA file that outgoing requests trust (local CA for https on loopback).",
    ),
    Setting(
        "metrics_token",
        "LIKEWISE_METRICS_TOKEN",
        str,
        "Bearer token that lets non-loopback clients read /metrics.",
    ),
    Setting(
        "secure_mode",
        "LIKEWISE_SECURE_MODE",
        bool,
        "Require signed GETs for actors and objects (authorized fetch).",
    ),
    Setting("max_body_bytes", "LIKEWISE_MAX_BODY_BYTES", int, "Largest request body accepted."),
    Setting(
        "settlement_max_body_bytes",
        "LIKEWISE_SETTLEMENT_MAX_BODY_BYTES",
        int,
        "Largest body the instance inbox accepts (settlement batches).",
    ),
    Setting(
        "media_max_bytes",
        "LIKEWISE_MEDIA_MAX_BYTES",
        int,
        "Largest image the client API's media upload accepts.",
    ),
    Setting(
        "stream_seconds",
        "LIKEWISE_STREAM_SECONDS",
        float,
        "How long a streaming API connection stays open before the server ends it.",
    ),
    Setting(
        "delivery_backoff_scale",
        "LIKEWISE_DELIVERY_BACKOFF_SCALE",
        float,
        "Multiplies federation delivery retry delays (1 = about a day in all; tests use 0.001).",
    ),
    Setting(
        "emoji_reacts",
        "LIKEWISE_EMOJI_REACTS",
        bool,
        "Count incoming EmojiReact activities as likes.",
    ),
    Setting("budget_min", "LIKEWISE_BUDGET_MIN", int, "Smallest monthly budget, in minor units."),
    Setting("budget_max", "LIKEWISE_BUDGET_MAX", int, "Largest monthly budget, in minor units."),
    Setting(
        "budget_default",
        "LIKEWISE_BUDGET_DEFAULT",
        int,
        "New donors' monthly budget (minor units).",
    ),
    Setting("payout_min", "LIKEWISE_PAYOUT_MIN", int, "Smallest payout a creator may request."),
    Setting(
        "escrow_days", "LIKEWISE_ESCROW_DAYS", int, "Days unclaimed shares wait before returning."
    ),
    Setting(
        "housekeeping_minutes",
        "LIKEWISE_HOUSEKEEPING_MINUTES",
        int,
        "Minutes between the worker's housekeeping runs (escrow expiry, month close).",
    ),
    Setting(
        "job_days",
        "LIKEWISE_JOB_DAYS",
        int,
        "Days finished job rows stay before housekeeping deletes them.",
    ),
    Setting(
        "failed_job_days",
        "LIKEWISE_FAILED_JOB_DAYS",
        int,
        "Days failed job rows stay (for admins to look at) before housekeeping deletes them.",
    ),
    Setting(
        "auto_close",
        "LIKEWISE_AUTO_CLOSE",
        bool,
        "Housekeeping closes every ended month (never the running one).",
    ),
    Setting(
        "unspent_to",
        "LIKEWISE_UNSPENT_TO",
        str,
        "Username of a local account (a charity) given the budget of donors who liked "
        "nothing in a month; empty: those budgets stay in the wallets.",
    ),
    Setting(
        "creator_notices",
        "LIKEWISE_CREATOR_NOTICES",
        bool,
        "Tell unclaimed fediverse creators once a month what waits for them (opt-out kept).",
    ),
    Setting(
        "peer_credit_limit",
        "LIKEWISE_PEER_CREDIT_LIMIT",
        int,
        "Credit limit proposed to new settlement peers (minor units).",
    ),
    Setting(
        "peer_auto_accept",
        "LIKEWISE_PEER_AUTO_ACCEPT",
        bool,
        "Accept settlement peering proposals without an admin.",
    ),
    Setting(
        "payment_auto_confirm",
        "LIKEWISE_PAYMENT_AUTO_CONFIRM",
        bool,
        "Confirm peers' payment notices that match the open balance without an admin.",
    ),
    Setting(
        "receipt_hours",
        "LIKEWISE_SETTLEMENT_RECEIPT_HOURS",
        float,
        "Hours a sent settlement batch may wait for its receipt before it is flagged.",
    ),
    Setting(
        "bridge_poll_minutes",
        "LIKEWISE_BRIDGE_POLL_MINUTES",
        int,
        "Minutes between two polls of a donor's connected account on a bridged network.",
    ),
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}
MAX_DAYS = 36_500  # a hundred years: any more is a typo


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    domain: str = f"127.0.0.1:{DEFAULT_PORT}"
    database_url: str = ""
    dev: bool = True
    currency: str = "EUR"
    fee_bps: int = 0
    secret_key: str = ""
    name: str = "Likewise"
    registrations: bool = True
    oauth_password_grant: bool = False
    ca_bundle: str = ""
    metrics_token: str = ""
    secure_mode: bool = False
    max_body_bytes: int = 1024 * 1024
    settlement_max_body_bytes: int = 32 * 1024 * 1024
    media_max_bytes: int = 16 * 1024 * 1024
    stream_seconds: float = 3600.0
    delivery_backoff_scale: float = 1.0
    emoji_reacts: bool = False
    budget_min: int = 200
    budget_max: int = 100_000
    budget_default: int = 500
    payout_min: int = 1000
    escrow_days: int = 90
    housekeeping_minutes: int = 60
    job_days: int = 30
    failed_job_days: int = 90
    auto_close: bool = True
    unspent_to: str = ""
    creator_notices: bool = True
    peer_credit_limit: int = 100_000
    peer_auto_accept: bool = False
    payment_auto_confirm: bool = False
    receipt_hours: float = 24.0
    bridge_poll_minutes: int = 10
    tls: bool = False  # https even in dev mode: `serve --ssl-certfile`, or a recorded https URL
    run_worker: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def unspent_username(self) -> str:
        """LIKEWISE_UNSPENT_TO as a username (`@charity` and `Charity` name `charity`)."""
        return self.unspent_to.strip().removeprefix("@").lower()

    @property
    def scheme(self) -> str:
        return "https" if self.tls or not self.dev else "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.domain}"

    @property
    def host(self) -> str:
        return self.domain.rsplit(":", 1)[0] if _has_port(self.domain) else self.domain

    @property
    def currency_scale(self) -> int:
        return int(get_currency_precision(self.currency))

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def bridges(self) -> dict[str, dict[str, str]]:
        """config.toml's `[bridges.<network>]` tables (`server.settings_tables.BRIDGE_KEYS`),
        each key's value as text ("" when unset)."""
        return bridge_tables(self.extra.get("bridges", {}))

    @property
    def bank(self) -> BankAccount | None:
        """config.toml's `[bank]`: the account donors transfer money to (name, iban, bic);
        None when not set."""
        table = self.extra.get("bank")
        if not isinstance(table, Mapping) or not table.get("iban"):
            return None
        return _table(bank_account, table)

    @property
    def stripe(self) -> StripeConfig | None:
        """config.toml's `[stripe]` (docs/stripe.md); None, and card payments off, until
        secret_key is set."""
        table = self.extra.get("stripe")
        if not isinstance(table, Mapping) or not table.get("secret_key"):
            return None
        return _table(stripe_config, table)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _table(parse: Callable[[Any], T], table: object) -> T:
    """A config.toml table read by `server.settings_tables`; what it refuses, a ConfigError."""
    try:
        return parse(table)
    except TableError as exc:
        raise ConfigError(str(exc)) from exc


def _has_port(domain: str) -> bool:
    return bool(re.fullmatch(r".+:[0-9]{1,5}", domain)) and not domain.endswith("]")


def is_loopback_host(host: str) -> bool:
    if host in ("localhost",) or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"expected a boolean (1/0, true/false), got {value!r}")


def _coerce(setting: Setting, value: object) -> object:
    try:
        if setting.kind is bool:
            return parse_bool(value if isinstance(value, bool) else str(value))
        if setting.kind is int:
            return _number(value, r"[-+]?[0-9]+", int)
        if setting.kind is float:
            return _number(value, r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?", float)
        return str(value)
    except (ValueError, ConfigError) as exc:
        raise ConfigError(f"{setting.env}: {exc}") from exc


def _number(value: object, pattern: str, kind: type[int] | type[float]) -> int | float:
    """An int or float written in ASCII digits (int("١٢") and float("nan") would pass)."""
    text = str(value).strip()
    if not isinstance(value, int | float) and not re.fullmatch(pattern, text):
        raise ValueError(f"{value!r} is not a number")
    number = kind(text)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def read_config_file(data_dir: Path) -> dict[str, Any]:
    path = data_dir / CONFIG_FILE
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc


def load_settings(
    data_dir: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    default_domain: str | None = None,
) -> Settings:
    """Build settings from the sources in precedence order and validate them."""
    env = os.environ if environ is None else environ
    root = Path(data_dir or env.get("LIKEWISE_DATA") or "data").resolve()
    values: dict[str, Any] = {}
    file_values = read_config_file(root)
    recorded = file_values.pop(PUBLIC_URL_KEY, None)
    extra = {k: v for k, v in file_values.items() if k not in SETTINGS_BY_NAME}
    for key, value in file_values.items():
        if key in SETTINGS_BY_NAME:
            values[key] = _coerce(SETTINGS_BY_NAME[key], value)
    for setting in SETTINGS:
        if setting.env in env:
            values[setting.name] = _coerce(setting, env[setting.env])
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    values.setdefault("database_url", f"sqlite+aiosqlite:///{root / 'likewise.db'}")
    if recorded is not None:
        values.update(_recorded_url(root, recorded, values, default_domain))
    elif default_domain:
        values.setdefault("domain", default_domain)
    domain = str(values.get("domain", Settings.domain))
    values.setdefault("dev", is_loopback_host(Settings(data_dir=root, domain=domain).host))
    settings = Settings(data_dir=root, extra=extra, **values)
    validate(settings)
    return settings


def _recorded_url(
    root: Path, recorded: object, values: dict[str, Any], default_domain: str | None
) -> dict[str, Any]:
    path = root / CONFIG_FILE
    try:
        url = parse_public_url(recorded, path)
        loopback = is_loopback_host(url.host)
        return adopt_public_url(url, values, default_domain, path, loopback)
    except PublicURLError as exc:
        raise ConfigError(str(exc)) from exc


def validate(settings: Settings) -> None:
    if not re.fullmatch(r"[A-Z]{3}", settings.currency) or not is_currency(settings.currency):
        raise ConfigError(f"LIKEWISE_CURRENCY: {settings.currency!r} is not an ISO 4217 code")
    if not 0 <= settings.fee_bps <= 10_000:
        raise ConfigError("LIKEWISE_FEE_BPS must be between 0 and 10000")
    if not re.fullmatch(
        r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9a-fA-F:]+\](:[0-9]{1,5})?", settings.domain
    ):
        raise ConfigError(f"LIKEWISE_DOMAIN: {settings.domain!r} is not a host[:port]")
    if not settings.dev and is_loopback_host(settings.host):
        raise ConfigError(
            "LIKEWISE_DOMAIN is a loopback address but dev mode is off; "
            "production refuses loopback domains (set LIKEWISE_DEV=1 to test locally)"
        )
    if not 0 < settings.budget_min <= settings.budget_default <= settings.budget_max:
        raise ConfigError(
            "need 0 < LIKEWISE_BUDGET_MIN <= LIKEWISE_BUDGET_DEFAULT <= LIKEWISE_BUDGET_MAX"
        )
    if settings.peer_credit_limit < 0 or settings.receipt_hours <= 0:
        raise ConfigError(
            "LIKEWISE_PEER_CREDIT_LIMIT must be >= 0 and LIKEWISE_SETTLEMENT_RECEIPT_HOURS > 0"
        )
    if settings.payout_min <= 0 or settings.escrow_days <= 0:
        raise ConfigError("LIKEWISE_PAYOUT_MIN and LIKEWISE_ESCROW_DAYS must be positive")
    if settings.unspent_to and not re.fullmatch(r"[a-z0-9_]{1,30}", settings.unspent_username):
        raise ConfigError(
            f"LIKEWISE_UNSPENT_TO: {settings.unspent_to!r} is not a username of this instance"
        )
    if settings.housekeeping_minutes <= 0:
        raise ConfigError("LIKEWISE_HOUSEKEEPING_MINUTES must be positive")
    if not (0 < settings.job_days <= MAX_DAYS and 0 < settings.failed_job_days <= MAX_DAYS):
        raise ConfigError(
            f"LIKEWISE_JOB_DAYS and LIKEWISE_FAILED_JOB_DAYS must be between 1 and {MAX_DAYS}"
        )
    if settings.max_body_bytes < 1024:
        raise ConfigError("LIKEWISE_MAX_BODY_BYTES must be at least 1024")
    if settings.bridge_poll_minutes <= 0:
        raise ConfigError("LIKEWISE_BRIDGE_POLL_MINUTES must be positive")
    _table(check_bridges, settings.extra.get("bridges"))
    if "bank" in settings.extra and settings.bank is None:
        raise ConfigError("config.toml: [bank] needs at least an iban")
    if "stripe" in settings.extra and settings.stripe is None:
        raise ConfigError("config.toml: [stripe] needs secret_key (sk_…)")
    if settings.ca_bundle and not Path(settings.ca_bundle).is_file():
        raise ConfigError(f"LIKEWISE_CA_BUNDLE: {settings.ca_bundle} is not a file")


def ensure_data_dir(settings: Settings) -> Settings:
    """Create the data directory and a config file holding the generated secret key."""
    root = settings.data_dir
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"data directory {root} is not writable: {exc.strerror}") from exc
    if settings.secret_key:
        return settings
    path = root / CONFIG_FILE
    current = read_config_file(root)
    current["secret_key"] = secrets.token_urlsafe(48)
    path.write_text(tomli_w.dumps(current))
    path.chmod(0o600)
    return settings.replace(secret_key=current["secret_key"])


def record_public_url(settings: Settings) -> bool:
    """Record the base URL in config.toml unless one is there already (load_settings then
    made `settings` agree with it). True when this call recorded it."""
    if PUBLIC_URL_KEY in read_config_file(settings.data_dir):
        return False
    path = settings.data_dir / CONFIG_FILE
    current = path.read_text() if path.exists() else ""
    path.write_text(public_url_line(settings.base_url) + current)
    path.chmod(0o600)
    return True


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """Effective settings for `config show`, secrets masked."""
    rows = []
    for setting in SETTINGS:
        value = getattr(settings, setting.name)
        if setting.name in ("secret_key", "metrics_token") and value:
            shown = "(set)"
        elif setting.name == "database_url":
            shown = re.sub(r"//([^:/@]+):[^@]+@", r"//\1:***@", str(value))
        else:
            shown = str(value)
        rows.append((setting.env, shown, setting.help))
    return rows
