"""RSA keys for HTTP signatures and Ed25519 keys (Multikey) for Data Integrity proofs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from activitypub.errors import InvalidKey
from activitypub.origin import same_origin

# Multicodec varint prefixes: ed25519-pub (0xed) and ed25519-priv (0x1300).
ED25519_PUBLIC_PREFIX = b"\xed\x01"
ED25519_PRIVATE_PREFIX = b"\x80\x26"
MULTIBASE_BASE58BTC = "z"
RSA_KEY_SIZE = 2048


@dataclass(frozen=True)
class RsaKeyPair:
    public_pem: str
    private_pem: str


def generate_rsa_key_pair(key_size: int = RSA_KEY_SIZE) -> RsaKeyPair:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    private_pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode("ascii")
    return RsaKeyPair(public_pem=public_pem_of(private_key), private_pem=private_pem)


def public_pem_of(private_key: rsa.RSAPrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode("ascii")
    )


# Loading a private PEM costs ~28 ms; an instance has few signing keys, so keep them.
@lru_cache(maxsize=256)
def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        raise InvalidKey(f"cannot load RSA private key: {error}") from error
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidKey("private key is not an RSA key")
    return key


# Public PEMs load in ~3 µs; the cache still helps hot inbox paths with repeat senders.
@lru_cache(maxsize=4096)
def load_public_key(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        raise InvalidKey(f"cannot load RSA public key: {error}") from error
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidKey("public key is not an RSA key")
    return key


def key_belongs_to(actor_id: str, key_id: str, owner: str) -> bool:
    """Keys belong to actors on their own origin: a key counts for an actor only when the
    key's id shares the actor's origin and the key names the actor as its owner."""
    return owner == actor_id and same_origin(key_id, actor_id)


def generate_ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def _multibase_encode(prefix: bytes, raw: bytes) -> str:
    return MULTIBASE_BASE58BTC + base58.b58encode(prefix + raw).decode("ascii")


def _multibase_decode(value: str, prefix: bytes, what: str) -> bytes:
    if not value.startswith(MULTIBASE_BASE58BTC):
        raise InvalidKey(f"{what} must be base58btc multibase (start with 'z')")
    try:
        decoded = base58.b58decode(value[1:])
    except ValueError as error:
        raise InvalidKey(f"{what} is not valid base58: {error}") from error
    if not decoded.startswith(prefix) or len(decoded) != len(prefix) + 32:
        raise InvalidKey(f"{what} is not an Ed25519 multikey")
    return decoded[len(prefix) :]


def ed25519_public_to_multibase(key: ed25519.Ed25519PublicKey) -> str:
    """Multikey form: `z` + base58btc(0xed 0x01 + 32 raw bytes), so it reads `z6Mk…`."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _multibase_encode(ED25519_PUBLIC_PREFIX, raw)


def ed25519_public_from_multibase(value: str) -> ed25519.Ed25519PublicKey:
    raw = _multibase_decode(value, ED25519_PUBLIC_PREFIX, "publicKeyMultibase")
    return ed25519.Ed25519PublicKey.from_public_bytes(raw)


def ed25519_private_to_multibase(key: ed25519.Ed25519PrivateKey) -> str:
    """`secretKeyMultibase` form (multicodec ed25519-priv), as in the W3C test vectors."""
    return _multibase_encode(ED25519_PRIVATE_PREFIX, ed25519_private_to_raw(key))


def ed25519_private_from_multibase(value: str) -> ed25519.Ed25519PrivateKey:
    raw = _multibase_decode(value, ED25519_PRIVATE_PREFIX, "secretKeyMultibase")
    return ed25519.Ed25519PrivateKey.from_private_bytes(raw)


def ed25519_private_to_raw(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )


def ed25519_private_to_pem(key: ed25519.Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def ed25519_private_from_pem(pem: str) -> ed25519.Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        raise InvalidKey(f"cannot load Ed25519 private key: {error}") from error
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise InvalidKey("private key is not an Ed25519 key")
    return key
