"""Tenant secrets presented as bearer tokens (SCIM tokens, API keys).

Generated with a typed prefix, shown once, stored only as an HMAC-SHA256, listable with the
time of last use, revocable, and optionally given an expiry date. One implementation for
every kind; each kind says which table it lives in, its prefix and how it is named in
messages and the audit trail.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.orm import Session

from rosterd.auth.secrets import new_token, token_hash
from rosterd.db.prepared import PointReader
from rosterd.models import Tenant
from rosterd.models.base import utcnow
from rosterd.models.credential import TenantSecret
from rosterd.repositories import credentials as credentials_repo
from rosterd.services import audit, credentials
from rosterd.services.context import Actor
from rosterd.services.errors import NotFound, Unauthenticated, invalid_field

S = TypeVar("S", bound=TenantSecret)


class _Standing(Protocol):
    """What deciding whether a secret is honoured reads: a record, or a row of it."""

    @property
    def revoked_at(self) -> datetime | None: ...
    @property
    def expires_at(self) -> datetime | None: ...


R = TypeVar("R", bound=_Standing)


@dataclass(frozen=True)
class SecretKind(Generic[S]):
    model: type[S]
    prefix: str
    label: str  # e.g. "SCIM token", for messages
    resource: str  # e.g. "scim_token", for the audit trail


@dataclass(frozen=True)
class Issued(Generic[S]):
    record: S
    secret: str


def create(
    session: Session,
    kind: SecretKind[S],
    tenant: Tenant,
    *,
    name: str,
    hmac_key: bytes,
    actor: Actor,
    expires_at: datetime | None = None,
) -> Issued[S]:
    if not name.strip() or len(name) > 255:
        raise invalid_field("name", "give a name of 1 to 255 characters")
    expires_at = credentials.check_expiry(expires_at)
    secret = new_token(kind.prefix)
    record = kind.model(
        tenant_id=tenant.id,
        name=name,
        token_hash=token_hash(hmac_key, secret),
        expires_at=expires_at,
    )
    credentials_repo.add_secret(session, record)
    audit.record(
        session,
        actor,
        f"{kind.resource}.created",
        kind.resource,
        record.id,
        after={"name": name, "expires_at": audit.jsonable(expires_at)},
    )
    return Issued(record=record, secret=secret)


def list_all(session: Session, kind: SecretKind[S], tenant: Tenant) -> list[S]:
    return credentials_repo.list_secrets(session, kind.model, tenant.id)


def revoke(
    session: Session, kind: SecretKind[S], tenant: Tenant, secret_id: uuid.UUID, actor: Actor
) -> S:
    record = credentials_repo.get_secret(session, kind.model, tenant.id, secret_id)
    if record is None:
        raise NotFound(f"{kind.label} {secret_id} not found")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        audit.record(session, actor, f"{kind.resource}.revoked", kind.resource, record.id)
    return record


def authenticate(session: Session, kind: SecretKind[S], secret: str, hmac_key: bytes) -> S:
    """The live record for a presented secret, or Unauthenticated. Reads only."""
    record = credentials_repo.find_secret(session, kind.model, token_hash(hmac_key, secret))
    return _honoured(kind, record)


async def authenticate_at(
    db: PointReader, kind: SecretKind[S], secret: str, hmac_key: bytes
) -> Any:
    """``authenticate`` as a point read (rosterd.db.work.Runner.read_point): the secret's id,
    tenant_id, expires_at and last_used_at, read as they are now."""
    standing = await credentials_repo.secret_standing(db, kind.model, token_hash(hmac_key, secret))
    return _honoured(kind, standing)


def _honoured(kind: SecretKind[S], record: R | None) -> R:
    if record is None or record.revoked_at is not None:
        raise Unauthenticated(f"invalid or revoked {kind.label}")
    credentials.check_not_expired(kind.label, record.expires_at)
    return record


def is_stale(record: TenantSecret) -> bool:
    """Whether last_used_at is old enough to be worth a write."""
    return credentials.is_stale(record.last_used_at)
