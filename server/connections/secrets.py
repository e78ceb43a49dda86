"""Credentials at rest: sealed with AES-256-GCM under a key derived from the instance secret.

The key is HKDF-SHA256 of `settings.secret_key` with a purpose label, so the cookie-signing
secret itself never encrypts anything and a leaked database alone reveals no token. A sealed
value reads `v1.<base64url(nonce + ciphertext)>`: the prefix names the key version, so a
later key (a rotated secret) can be added beside this one. The associated data binds a value
to its row's purpose (say, one connected account), so a sealed blob copied to another row
does not open there.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"
PURPOSE = b"likewise/bridges/credentials/v1"
NONCE_BYTES = 12


class SealError(Exception):
    """A sealed value that does not open: another key, another row, or damaged."""


@lru_cache(maxsize=8)
def _key(secret_key: str) -> AESGCM:
    if not secret_key:
        raise SealError("the instance has no secret key to derive the credentials key from")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(
        secret_key.encode()
    )
    return AESGCM(derived)


def seal(secret_key: str, plaintext: str, context: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _key(secret_key).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def unseal(secret_key: str, sealed: str, context: str) -> str:
    version, _, body = sealed.partition(".")
    if version != VERSION or not body:
        raise SealError(f"unknown sealed value version {version[:8]!r}")
    try:
        raw = base64.urlsafe_b64decode(body.encode())
        opened = _key(secret_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
    except (binascii.Error, ValueError, InvalidTag) as exc:
        raise SealError("the sealed value does not open with this instance's key") from exc
    return opened.decode()


def seal_json(secret_key: str, value: Mapping[str, object], context: str) -> str:
    return seal(secret_key, json.dumps(value, separators=(",", ":"), sort_keys=True), context)


def unseal_json(secret_key: str, sealed: str, context: str) -> dict[str, object]:
    try:
        value = json.loads(unseal(secret_key, sealed, context))
    except json.JSONDecodeError as exc:
        raise SealError("the sealed value is not JSON") from exc
    if not isinstance(value, dict):
        raise SealError("the sealed value is not a JSON object")
    return value
