from __future__ import annotations

import pytest

from server.settings import Settings


@pytest.fixture
def money_settings(settings: Settings) -> Settings:
    return settings.replace(fee_bps=1000)
