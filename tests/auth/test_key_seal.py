"""Sealed private keys open only with the server secret, and only on their own row."""

from __future__ import annotations

import uuid

import pytest

from rosterd.auth.key_seal import KeySealer, SealBroken

SECRET = b"server-secret"
KEY = b"private key bytes"


def test_a_sealed_key_opens_with_the_same_secret_kid_and_tenant() -> None:
    tenant = uuid.uuid4()
    sealed = KeySealer(SECRET).seal(KEY, "kid1", tenant)
    assert KEY not in sealed
    assert KeySealer(SECRET).open(sealed, "kid1", tenant) == KEY


def test_each_seal_is_different() -> None:
    tenant = uuid.uuid4()
    sealer = KeySealer(SECRET)
    assert sealer.seal(KEY, "kid1", tenant) != sealer.seal(KEY, "kid1", tenant)


@pytest.mark.parametrize(
    ("secret", "kid", "other_tenant"),
    [
        (b"another secret", "kid1", False),  # ROSTERD_SECRET_KEY changed
        (SECRET, "kid2", False),  # copied onto another key's row
        (SECRET, "kid1", True),  # copied onto another tenant
    ],
)
def test_a_sealed_key_does_not_open_anywhere_else(
    secret: bytes, kid: str, other_tenant: bool
) -> None:
    tenant = uuid.uuid4()
    sealed = KeySealer(SECRET).seal(KEY, "kid1", tenant)
    with pytest.raises(SealBroken):
        KeySealer(secret).open(sealed, kid, uuid.uuid4() if other_tenant else tenant)


def test_an_altered_seal_does_not_open() -> None:
    tenant = uuid.uuid4()
    sealed = bytearray(KeySealer(SECRET).seal(KEY, "kid1", tenant))
    sealed[-1] ^= 1
    with pytest.raises(SealBroken):
        KeySealer(SECRET).open(bytes(sealed), "kid1", tenant)
