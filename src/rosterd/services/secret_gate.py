"""Whether a presented bearer secret (a SCIM token) is honoured, as this process last read it.

A secret's verdict (its tenant, id, expiry date and revocation) is read with one indexed query
on the read pool, by one thread while the others presenting the same secret wait for its
answer, and then remembered for ``ttl`` seconds (``scim_token_cache_seconds``): in between, a
request presenting it costs an HMAC and a dictionary lookup. A secret revoked through any node
is thus refused on every node within ``ttl`` seconds and the time of that query; an expiry
date is compared with the clock on every request, so it takes effect on time. Secrets the
store does not know are not remembered (nobody holds a secret before it is issued, and
remembering guesses would only fill memory).

Last use is noted at most once per ``LAST_USED_GRANULARITY`` per secret and node (the
process remembers when it last noted it) and written beside the request
(rosterd.lifecycle.last_uses), so a busy caller does not turn reads into writes.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic

from sqlalchemy.orm import Session

from rosterd.auth.secrets import token_hash
from rosterd.models.base import utcnow
from rosterd.repositories import credentials as credentials_repo
from rosterd.services import credentials
from rosterd.services.bearer_secrets import S, SecretKind

_MAX_ENTRIES = 4096


@dataclass(frozen=True)
class Verdict:
    """What the store said about a secret it knows."""

    tenant_id: uuid.UUID
    secret_id: uuid.UUID
    revoked_at: datetime | None
    expires_at: datetime | None
    last_used_at: datetime | None

    def refusal(self, label: str, now: datetime | None = None) -> str | None:
        """Why the secret is refused, or None while it is honoured."""
        if self.revoked_at is not None:
            return f"invalid or revoked {label}"
        return credentials.expiry_refusal(label, self.expires_at, now or utcnow())


class SecretGate(Generic[S]):
    def __init__(
        self,
        kind: SecretKind[S],
        reader: Callable[[], Session],
        hmac_key: bytes,
        ttl: float,
    ) -> None:
        self.kind = kind
        self._reader = reader
        self._hmac_key = hmac_key
        self._ttl = ttl
        # hash -> (monotonic time the read started, what it found)
        self._known: dict[str, tuple[float, Verdict]] = {}
        self._loading: dict[str, threading.Lock] = {}
        # secret id -> the last use this process wrote or read
        self._used: dict[uuid.UUID, datetime] = {}
        self._guard = threading.Lock()

    def key(self, secret: str) -> str:
        """The stored hash of ``secret``: what it is looked up and remembered by."""
        return token_hash(self._hmac_key, secret)

    def cached(self, key: str) -> Verdict | None:
        """The verdict on the secret hashed to ``key`` if read less than ``ttl`` ago; no I/O."""
        entry = self._known.get(key)
        if entry is not None and time.monotonic() - entry[0] < self._ttl:
            return entry[1]
        return None

    def load(self, key: str) -> Verdict | None:
        """The verdict, read from the store unless another thread just did; None for a
        secret the store does not know."""
        with self._guard:
            lock = self._loading.setdefault(key, threading.Lock())
        with lock:
            fresh = self.cached(key)
            if fresh is not None:
                return fresh
            # Timed from before the read: an entry never outlives what the store said then.
            started = time.monotonic()
            with self._reader() as session:
                record = credentials_repo.find_secret(session, self.kind.model, key)
                verdict = None if record is None else _verdict(record)
            with self._guard:
                if len(self._known) >= _MAX_ENTRIES:
                    self._known.clear()
                    self._used.clear()
                    self._loading = {key: lock}
                if verdict is not None:
                    self._known[key] = (started, verdict)
            return verdict

    def claim_last_use(self, verdict: Verdict) -> datetime | None:
        """The time to note as the secret's last use, if it is due a write (then this
        process counts it as noted, so concurrent requests do not note it too)."""
        now = utcnow()
        with self._guard:
            last = max(
                (t for t in (verdict.last_used_at, self._used.get(verdict.secret_id)) if t),
                default=None,
            )
            if not credentials.is_stale(last, now):
                return None
            self._used[verdict.secret_id] = now
            return now


def _verdict(record: S) -> Verdict:
    return Verdict(
        tenant_id=record.tenant_id,
        secret_id=record.id,
        revoked_at=record.revoked_at,
        expires_at=record.expires_at,
        last_used_at=record.last_used_at,
    )
