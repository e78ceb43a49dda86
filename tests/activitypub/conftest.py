from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from activitypub.keys import RsaKeyPair

DATA = Path(__file__).parent.parent / "data"


def load_json(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def rsa_keys() -> RsaKeyPair:
    return RsaKeyPair(
        public_pem=(DATA / "ap_rsa_public.pem").read_text(encoding="ascii"),
        private_pem=(DATA / "ap_rsa_private.pem").read_text(encoding="ascii"),
    )
