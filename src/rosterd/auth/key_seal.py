"""Private signing keys sealed at rest with a key derived from the server secret.

The wrapping key is HKDF-SHA256 of the server secret (ROSTERD_SECRET_KEY or
data_dir/secret.key); each private key is sealed with AES-256-GCM under a fresh nonce, its
kid and tenant id bound in as associated data, so a sealed key copied onto another row (or
another tenant) no longer opens. The store keeps only the sealed bytes: without the server
secret they are not a key.
"""

from __future__ import annotations

import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# The first byte of every sealed key: which derivation and cipher sealed it, so another
# scheme can be introduced next to this one.
_VERSION = b"\x01"
_NONCE_BYTES = 12
_INFO = b"rosterd signing-key seal v1"


class SealBroken(Exception):
    """The sealed bytes do not open with this server secret (or were altered)."""


def _associated_data(kid: str, tenant_id: uuid.UUID) -> bytes:
    return f"rosterd-signing-key\x00{kid}\x00{tenant_id}".encode()


class KeySealer:
    def __init__(self, server_secret: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
            server_secret
        )
        self._aead = AESGCM(key)

    def seal(self, private_der: bytes, kid: str, tenant_id: uuid.UUID) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, private_der, _associated_data(kid, tenant_id))
        return _VERSION + nonce + sealed

    def open(self, sealed: bytes, kid: str, tenant_id: uuid.UUID) -> bytes:
        if sealed[:1] != _VERSION:
            raise SealBroken("unknown seal format")
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, _associated_data(kid, tenant_id))
        except InvalidTag as exc:
            raise SealBroken("the seal does not open with this server secret") from exc
