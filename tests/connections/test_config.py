"""The admin's `[bridges.<network>]` tables in config.toml: read as strings of the known
keys, anything else refused with a message naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.connections.networks import network_config
from server.settings import ConfigError, load_settings


def test_a_network_table_is_read_into_the_networks_configuration(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[bridges.bluesky]\nbase_url = "https://appview.example"\n'
        'directory_url = "https://plc.example"\n'
    )
    settings = load_settings(tmp_path, environ={})
    assert settings.bridges["bluesky"]["base_url"] == "https://appview.example"
    config = network_config(settings, "bluesky")
    assert (config.base_url, config.directory_url) == (
        "https://appview.example",
        "https://plc.example",
    )
    assert config.website == settings.base_url and config.allow_private == settings.dev
    assert network_config(settings, "fediverse").base_url == ""


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[bridges.bluesky]\ntoken = "x"\n', "[bridges.bluesky] token is unknown"),
        ("[bridges.bluesky]\nbase_url = 3\n", "[bridges.bluesky] base_url must be a string"),
        ('bridges = "x"\n', "[bridges] must hold"),
        ('[bridges]\nbluesky = "x"\n', "[bridges.bluesky] must be a table"),
    ],
)
def test_a_wrong_table_is_refused_with_what_is_wrong(
    tmp_path: Path, toml: str, message: str
) -> None:
    (tmp_path / "config.toml").write_text(toml)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(tmp_path, environ={})
