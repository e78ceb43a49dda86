from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.settings import SETTINGS, ConfigError, ensure_data_dir, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_for_a_fresh_data_directory(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.domain == "127.0.0.1:8000"
    assert settings.dev is True  # loopback domain
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'likewise.db'}"
    assert settings.currency == "EUR"
    assert settings.currency_scale == 2
    assert settings.fee_bps == 0


def test_environment_beats_config_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('currency = "USD"\nfee_bps = 250\nname = "From file"\n')
    settings = load_settings(tmp_path, environ={"LIKEWISE_CURRENCY": "JPY"})
    assert settings.currency == "JPY"
    assert settings.currency_scale == 0
    assert settings.fee_bps == 250
    assert settings.name == "From file"


def test_public_domain_means_production(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"LIKEWISE_DOMAIN": "likewise.example"})
    assert settings.dev is False
    assert settings.base_url == "https://likewise.example"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"LIKEWISE_CURRENCY": "EURO"}, "ISO 4217"),
        ({"LIKEWISE_CURRENCY": "XYZ"}, "ISO 4217"),
        ({"LIKEWISE_FEE_BPS": "10001"}, "between 0 and 10000"),
        ({"LIKEWISE_FEE_BPS": "ten"}, "LIKEWISE_FEE_BPS"),
        ({"LIKEWISE_DEV": "maybe"}, "boolean"),
        ({"LIKEWISE_DOMAIN": "bad domain/x"}, "host[:port]"),
        ({"LIKEWISE_DOMAIN": "127.0.0.1:9000", "LIKEWISE_DEV": "0"}, "production refuses"),
        ({"LIKEWISE_CA_BUNDLE": "/no/such/file.pem"}, "not a file"),
        ({"LIKEWISE_UNSPENT_TO": "charity@elsewhere.example"}, "not a username"),
        ({"LIKEWISE_JOB_DAYS": "0"}, "LIKEWISE_JOB_DAYS and LIKEWISE_FAILED_JOB_DAYS"),
        ({"LIKEWISE_FAILED_JOB_DAYS": "-1"}, "between 1 and 36500"),
        ({"LIKEWISE_JOB_DAYS": "1000000"}, "between 1 and 36500"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(tmp_path, environ=environ)


@pytest.mark.parametrize("value", ["charity", "@charity", "Charity", " @Charity "])
def test_the_unspent_budgets_account_is_named_by_username(tmp_path: Path, value: str) -> None:
    settings = load_settings(tmp_path, environ={"LIKEWISE_UNSPENT_TO": value})
    assert settings.unspent_username == "charity"


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = ensure_data_dir(load_settings(tmp_path, environ={}))
    second = ensure_data_dir(load_settings(tmp_path, environ={}))
    assert len(first.secret_key) > 40
    assert first.secret_key == second.secret_key
    assert (tmp_path / "config.toml").stat().st_mode & 0o077 == 0


def test_unwritable_data_directory_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="is not writable"):
        ensure_data_dir(load_settings(blocker / "data", environ={}))


def test_readme_documents_every_setting() -> None:
    readme = README.read_text()
    for setting in SETTINGS:
        assert f"`{setting.env}`" in readme, f"README's configuration table lacks {setting.env}"
    assert "`LIKEWISE_TEST_DATABASE_URL`" in readme
