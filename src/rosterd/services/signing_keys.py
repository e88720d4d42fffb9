"""Signing keys: one set per tenant, sealed at rest, rotated without breaking issued tokens.

A tenant's newest key that is not retired signs its tokens. ``rotate`` retires the keys
that sign and adds a new one; a retired key keeps verifying for the *grace*: the longest
token lifetime plus one key-ring refresh interval (another node may still sign with the old
key until its ring refreshes), after which no token it signed can still be valid and it is
dropped from the JWKS and from verification. Keys generate and seal outside any
transaction (RSA-2048 takes tens of milliseconds); these functions only read and write rows.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session

from rosterd.auth.key_seal import KeySealer, SealBroken
from rosterd.auth.tokens import ALGORITHM, PublicKey, SigningKeyUnreadable, public_jwk
from rosterd.models import SigningKey, Tenant
from rosterd.models.base import utcnow
from rosterd.repositories import signing_keys as keys_repo
from rosterd.repositories.signing_keys import PublicRow
from rosterd.services import audit
from rosterd.services.context import Actor

RESOURCE = "signing_key"


def grace(*token_ttls: int, refresh_seconds: float) -> timedelta:
    """How long a retired key keeps verifying: the longest token lifetime, plus the refresh
    interval during which other nodes may still sign with it."""
    return timedelta(seconds=max(token_ttls) + refresh_seconds)


@dataclass(frozen=True)
class NewKey:
    """A key made and sealed, not yet stored."""

    row: SigningKey
    private: rsa.RSAPrivateKey


def make(tenant_id: uuid.UUID, sealer: KeySealer) -> NewKey:
    """A fresh RSA-2048 key for the tenant with its private half sealed. CPU only: call it
    before opening the transaction that stores it."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = secrets.token_hex(8)
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    row = SigningKey(
        kid=kid,
        tenant_id=tenant_id,
        public_jwk=public_jwk(private.public_key()),
        private_key_sealed=sealer.seal(der, kid, tenant_id),
        created_at=utcnow(),
    )
    return NewKey(row=row, private=private)


def add_first(session: Session, new: NewKey) -> None:
    """Store a tenant's first key, made when it first signs.

    Two nodes may do this at the same moment: both keys are kept, both verify, and the
    newest signs (see rosterd.auth.tokens).
    """
    keys_repo.add(session, new.row)


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    created_at: datetime
    retired_at: datetime | None
    verify_until: datetime | None  # None while it signs
    legacy: bool  # a key of the whole deployment from before keys were per tenant

    def status(self, now: datetime) -> str:
        if self.verify_until is None:
            return "signing"
        return "verifying" if now < self.verify_until else "expired"


@dataclass(frozen=True)
class Rotation:
    key: KeyInfo  # the key that signs from now on
    retired: list[str]
    purged: list[str]


def rotate(
    session: Session, tenant: Tenant, new: NewKey, actor: Actor, *, grace: timedelta
) -> Rotation:
    """Make ``new`` the key that signs the tenant's tokens.

    The keys that signed until now are retired: they stop signing and verify for the
    grace. Keys whose grace has passed (the tenant's, and legacy keys) are deleted.
    """
    if new.row.tenant_id != tenant.id:
        raise ValueError("the new key was made for another tenant")
    keys_repo.lock_tenant(session, tenant.id)
    now = utcnow()
    retired = keys_repo.retire_signing(session, tenant.id, now)
    purged = keys_repo.purge_retired(session, tenant.id, now - grace)
    new.row.created_at = now
    keys_repo.add(session, new.row)
    audit.record(
        session,
        actor,
        f"{RESOURCE}.rotated",
        RESOURCE,
        new.row.kid,
        before={"signing": sorted(retired)},
        after={"signing": new.row.kid, "purged": sorted(purged)},
    )
    key = KeyInfo(kid=new.row.kid, created_at=now, retired_at=None, verify_until=None, legacy=False)
    return Rotation(key=key, retired=retired, purged=purged)


# ---- what the key ring reads ---------------------------------------------------------------


def _public(row: PublicRow, grace: timedelta) -> PublicKey:
    kid, tenant_id, jwk, created_at, retired_at = row
    return PublicKey(
        kid=kid,
        tenant_id=tenant_id,
        jwk=jwk,
        created_at=created_at.timestamp(),
        verify_until=None if retired_at is None else (retired_at + grace).timestamp(),
    )


def trusted_keys(session: Session, grace: timedelta) -> list[PublicKey]:
    rows = keys_repo.trusted(session, utcnow() - grace)
    return [_public(r, grace) for r in rows]


def tenant_keys(session: Session, tenant_id: uuid.UUID | None, grace: timedelta) -> list[PublicKey]:
    rows = keys_repo.trusted_of_tenant(session, tenant_id, utcnow() - grace)
    return [_public(r, grace) for r in rows]


def keys_beside(
    session: Session, kid: str, grace: timedelta
) -> tuple[uuid.UUID | None, list[PublicKey]] | None:
    """The tenant holding ``kid`` and its trusted keys; None when no key has that kid."""
    found, tenant_id = keys_repo.owner_of(session, kid)
    return (tenant_id, tenant_keys(session, tenant_id, grace)) if found else None


def unseal(session: Session, key: PublicKey, sealer: KeySealer) -> rsa.RSAPrivateKey:
    sealed = keys_repo.sealed_private_key(session, key.kid)
    if sealed is None or key.tenant_id is None:
        raise SigningKeyUnreadable(f"signing key {key.kid} has no private half")
    try:
        der = sealer.open(sealed, key.kid, key.tenant_id)
    except SealBroken as exc:
        raise SigningKeyUnreadable(
            f"signing key {key.kid} of tenant {key.tenant_id} does not open with this "
            "server's secret (ROSTERD_SECRET_KEY, or data_dir/secret.key when unset): it was "
            "sealed with another one. Restore that secret, or give the tenant a new key "
            "with `rosterd keys rotate --tenant <slug>` (tokens it signed keep verifying)."
        ) from exc
    private = serialization.load_der_private_key(der, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return private


# ---- what people see -----------------------------------------------------------------------


def jwks(session: Session, tenant_id: uuid.UUID, grace: timedelta) -> dict[str, Any]:
    """The tenant's JWKS: its keys that still verify, and legacy keys still in their grace,
    newest first. Read from the store, so every node publishes a new key at once."""
    keys = [*tenant_keys(session, tenant_id, grace), *tenant_keys(session, None, grace)]
    keys.sort(key=lambda k: (k.created_at, k.kid), reverse=True)
    return {"keys": [{**k.jwk, "kid": k.kid, "use": "sig", "alg": ALGORITHM} for k in keys]}


def list_keys(session: Session, tenant: Tenant, grace: timedelta) -> list[KeyInfo]:
    """The tenant's keys (and legacy keys), newest first; never key material."""
    return [
        KeyInfo(
            kid=kid,
            created_at=created_at,
            retired_at=retired_at,
            verify_until=None if retired_at is None else retired_at + grace,
            legacy=tenant_id is None,
        )
        for kid, tenant_id, _jwk, created_at, retired_at in keys_repo.for_listing(
            session, tenant.id
        )
    ]
