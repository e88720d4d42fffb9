"""Whether an OAuth client's access tokens (and the grant an admin's are issued under) are
still honoured, as this process last read it.

Access tokens are self-contained JWTs: their signature says who issued them, not whether the
client has since been revoked or has expired. So every surface that takes them asks this
gate too. Each process re-reads a client's state at most every ``TTL`` seconds, with one
small indexed query on the read pool (never SQLite's writer), made by one thread while the
others asking about the same client wait for its answer; in between, the answer is a
dictionary lookup. A client revoked through any node is thus refused on every node within
``TTL`` seconds and the time of that query.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from sqlalchemy.orm import Session

from rosterd.models.base import utcnow
from rosterd.repositories import credentials as credentials_repo
from rosterd.repositories import oauth_grants as grants_repo
from rosterd.services import credentials

TTL = 2.0
_MAX_ENTRIES = 4096
_Key = tuple[uuid.UUID, str]


@dataclass(frozen=True)
class Standing:
    """What the store said about a client."""

    exists: bool
    revoked_at: datetime | None = None
    expires_at: datetime | None = None

    def refusal(self, now: datetime | None = None) -> str | None:
        """Why the client's access tokens are refused, or None while they are honoured."""
        if not self.exists:
            return "the OAuth client of this access token no longer exists"
        if self.revoked_at is not None:
            return "the OAuth client of this access token is revoked"
        return credentials.expiry_refusal(
            "OAuth client of this access token", self.expires_at, now or utcnow()
        )


@dataclass(frozen=True)
class GrantStanding:
    """What the store said about a grant of the authorization code flow (the ``gid`` of an
    access token acting for an admin): revoked when its code or a refresh token was
    replayed, or by RFC 7009 revocation."""

    exists: bool
    revoked_at: datetime | None = None
    # False once the admin ended their sessions (logout everywhere, password reset,
    # offboarding) after granting.
    admin_current: bool = True

    def refusal(self, now: datetime | None = None) -> str | None:
        if not self.exists or self.revoked_at is not None:
            return "the authorization this access token was issued under has been revoked"
        if not self.admin_current:
            return "the admin this access token acts for has ended their sessions"
        return None


class _Refusing(Protocol):
    def refusal(self, now: datetime | None = None) -> str | None: ...


S = TypeVar("S", bound=_Refusing)


def read_standing(session: Session, tenant_id: uuid.UUID, client_id: str) -> Standing:
    found = credentials_repo.client_standing(session, tenant_id, client_id)
    if found is None:
        return Standing(exists=False)
    revoked_at, expires_at = found
    return Standing(exists=True, revoked_at=revoked_at, expires_at=expires_at)


def read_grant_standing(session: Session, tenant_id: uuid.UUID, grant_id: str) -> GrantStanding:
    try:
        found = grants_repo.grant_standing(session, tenant_id, uuid.UUID(grant_id))
    except ValueError:
        found = None
    if found is None:
        return GrantStanding(exists=False)
    return GrantStanding(True, found[0], found[1])


class Gate(Generic[S]):
    """What the store says of a credential, each entry read at most every ``ttl`` seconds."""

    def __init__(
        self,
        reader: Callable[[], Session],
        read: Callable[[Session, uuid.UUID, str], S],
        ttl: float = TTL,
    ) -> None:
        self._reader = reader
        self._read = read
        self._ttl = ttl
        # key -> (monotonic time the read started, what it found)
        self._known: dict[_Key, tuple[float, S]] = {}
        self._loading: dict[_Key, threading.Lock] = {}
        self._guard = threading.Lock()

    def cached(self, tenant_id: uuid.UUID, client_id: str) -> S | None:
        """The client's standing if read less than ``ttl`` ago; no I/O."""
        entry = self._known.get((tenant_id, client_id))
        if entry is not None and time.monotonic() - entry[0] < self._ttl:
            return entry[1]
        return None

    def load(self, tenant_id: uuid.UUID, client_id: str) -> S:
        """The client's standing, read from the store unless another thread just did."""
        key = (tenant_id, client_id)
        with self._guard:
            lock = self._loading.setdefault(key, threading.Lock())
        with lock:
            fresh = self.cached(tenant_id, client_id)
            if fresh is not None:
                return fresh
            # Timed from before the read: an entry never outlives what the store said then.
            started = time.monotonic()
            with self._reader() as session:
                standing = self._read(session, tenant_id, client_id)
            with self._guard:
                if len(self._known) >= _MAX_ENTRIES:
                    self._known.clear()
                    self._loading = {key: lock}
                self._known[key] = (started, standing)
            return standing


class ClientGate(Gate[Standing]):
    def __init__(self, reader: Callable[[], Session], ttl: float = TTL) -> None:
        super().__init__(reader, read_standing, ttl)


class GrantGate(Gate[GrantStanding]):
    def __init__(self, reader: Callable[[], Session], ttl: float = TTL) -> None:
        super().__init__(reader, read_grant_standing, ttl)
