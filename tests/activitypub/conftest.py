from __future__ import annotations

import pytest

from activitypub.keys import RsaKeyPair
from tests.support.payloads import load_text


@pytest.fixture(scope="session")
def rsa_keys() -> RsaKeyPair:
    return RsaKeyPair(
        public_pem=load_text("ap_rsa_public.pem"), private_pem=load_text("ap_rsa_private.pem")
    )
