"""Signed JWT access tokens (RFC 9068 profile) and the key ring that signs and verifies them.

Every tenant signs with keys of its own (RS256). The ring is an in-memory copy of the
public halves of every key the store still trusts, refreshed from the store every
``refresh_seconds``; a token naming a kid the ring lacks makes it look that kid up at once
(at most one lookup per ``LOOKUP_GAP`` seconds, so made-up kids cannot keep the database
busy). A private key is read and unsealed only when its tenant first signs on this node.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

AUDIENCE = "rosterd"
ALGORITHM = "RS256"


# Each surface that takes signed tokens has its own audience, so a token made for one is
# refused by the others.
OAUTH_AUDIENCE = AUDIENCE
API_V1_AUDIENCE = "rosterd:api-v1"

# Kids rosterd makes are 16 hex characters; the column holds up to 64. A longer one is
# refused without asking the store.
MAX_KID_LENGTH = 64


@dataclass(frozen=True)
class AccessToken:
    tenant_id: uuid.UUID
    subject: str
    scopes: frozenset[str]
    claims: dict[str, Any]


@dataclass(frozen=True)
class PublicKey:
    """What the store tells the ring about one key: never its private half."""

    kid: str
    # None: a legacy key of the whole deployment (from before keys were per tenant), which
    # only verifies.
    tenant_id: uuid.UUID | None
    jwk: dict[str, Any]
    created_at: float  # seconds since the epoch
    # None while the key signs; once retired, the time it stops verifying.
    verify_until: float | None

    @property
    def signs(self) -> bool:
        return self.verify_until is None and self.tenant_id is not None

    def trusted(self, now: float) -> bool:
        return self.verify_until is None or now < self.verify_until


class SigningKeyUnreadable(Exception):
    """A tenant's signing key cannot be unsealed: the server secret is not the one that
    sealed it."""


class KeyStore(Protocol):
    """Where the ring gets its keys (rosterd.key_ring.StoreKeys is the real one)."""

    def trusted_keys(self) -> list[PublicKey]:
        """Every key that still verifies, of every tenant."""

    def tenant_keys(self, tenant_id: uuid.UUID | None) -> list[PublicKey]:
        """The keys of one tenant that still verify (None: the legacy keys)."""

    def keys_beside(self, kid: str) -> tuple[uuid.UUID | None, list[PublicKey]] | None:
        """The tenant that holds ``kid`` and its trusted keys; None if no key has that kid."""

    def private_key(self, key: PublicKey) -> rsa.RSAPrivateKey:
        """The unsealed private half; raises SigningKeyUnreadable."""

    def create(self, tenant_id: uuid.UUID) -> tuple[PublicKey, rsa.RSAPrivateKey]:
        """A new key for the tenant, committed to the store before it returns."""


def public_jwk(public: rsa.RSAPublicKey) -> dict[str, Any]:
    """The public half as a JWK (kty, n, e)."""
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(public))
    return jwk


@dataclass(frozen=True)
class _Key:
    info: PublicKey
    public: rsa.RSAPublicKey


@dataclass(frozen=True)
class _Ring:
    """One consistent view of the keys; replaced whole, never changed in place."""

    keys: dict[str, _Key]
    signing: dict[uuid.UUID, str]  # tenant -> the kid its new tokens are signed with

    @classmethod
    def of(cls, keys: Iterable[_Key]) -> _Ring:
        by_kid = {k.info.kid: k for k in keys}
        signing: dict[uuid.UUID, PublicKey] = {}
        for key in by_kid.values():
            info = key.info
            if not info.signs or info.tenant_id is None:
                continue
            best = signing.get(info.tenant_id)
            # Two nodes may each have made a tenant's first key at the same moment: both
            # verify, and the newest signs (the kid breaks a tie, so every node agrees).
            if best is None or (info.created_at, info.kid) > (best.created_at, best.kid):
                signing[info.tenant_id] = info
        return cls(keys=by_kid, signing={t: k.kid for t, k in signing.items()})


class TokenSigner:
    """Issues and verifies access tokens with the tenants' keys; see the module docstring."""

    # Verified tokens are remembered until they expire: an RS256 check costs more than the
    # rest of a cached read. A remembered verdict is given again only while the key that
    # signed the token is still in the ring and trusted; revocation (the /api/v1 token
    # epoch) is checked against the store by the caller, not here.
    _CACHE_SIZE = 4096
    LOOKUP_GAP = 0.1

    def __init__(
        self,
        store: KeyStore,
        *,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._ring = _Ring(keys={}, signing={})
        self._loaded_at: float | None = None
        self._last_lookup = -math.inf
        self._lock = threading.Lock()  # one reload, lookup or merge at a time
        # First keys are made one at a time here, so this node never makes two for a tenant.
        self._first_key_lock = threading.Lock()
        self._private: dict[str, rsa.RSAPrivateKey] = {}
        self._verified: dict[tuple[str, str], tuple[AccessToken, str]] = {}

    # ---- keeping the ring current ----------------------------------------------------------

    def refresh_due(self) -> bool:
        loaded = self._loaded_at
        return loaded is None or self._clock() - loaded >= self._refresh_seconds

    def refresh(self) -> None:
        """Reload every trusted key from the store now."""
        with self._lock:
            self._reload()

    def refresh_tenant(self, tenant_id: uuid.UUID) -> None:
        """Reload one tenant's keys now (after a rotation on this node)."""
        with self._lock:
            self._merge(tenant_id, self._store.tenant_keys(tenant_id))

    def _refresh_if_due(self) -> None:
        if self.refresh_due():
            with self._lock:
                if self.refresh_due():
                    self._reload()

    def _reload(self) -> None:
        started = self._clock()
        keys = self._store.trusted_keys()
        self._ring = _Ring.of(self._parsed(keys))
        self._private = {k: v for k, v in self._private.items() if k in self._ring.keys}
        self._loaded_at = started

    def _merge(self, tenant_id: uuid.UUID | None, keys: list[PublicKey]) -> None:
        """Replace what the ring holds for one tenant with ``keys``."""
        others = [k for k in self._ring.keys.values() if k.info.tenant_id != tenant_id]
        mine = [k for k in keys if k.tenant_id == tenant_id]
        self._ring = _Ring.of([*others, *self._parsed(mine)])

    def _parsed(self, keys: Iterable[PublicKey]) -> list[_Key]:
        known = self._ring.keys
        out = []
        for info in keys:
            old = known.get(info.kid)
            if old is not None and old.info.jwk == info.jwk:
                out.append(_Key(info, old.public))
            else:
                public = RSAAlgorithm.from_jwk(info.jwk)
                assert isinstance(public, rsa.RSAPublicKey)
                out.append(_Key(info, public))
        return out

    def _look_up(self, kid: str) -> _Key | None:
        """A kid the ring lacks, from the store (rate-limited)."""
        with self._lock:
            key = self._ring.keys.get(kid)
            if key is not None:
                return key
            now = self._clock()
            if now - self._last_lookup < self.LOOKUP_GAP:
                return None
            self._last_lookup = now
            found = self._store.keys_beside(kid)
            if found is None:
                return None
            self._merge(*found)
            return self._ring.keys.get(kid)

    # ---- signing ---------------------------------------------------------------------------

    def issue(
        self,
        *,
        issuer: str,
        tenant_id: uuid.UUID,
        subject: str,
        scopes: list[str],
        ttl: int,
        audience: str = OAUTH_AUDIENCE,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A token signed with the tenant's newest key, made now if it has none.

        Reads the store (and, for a tenant's first key, writes it in a transaction of its
        own): never call it while holding a write transaction.
        """
        self._refresh_if_due()
        kid = self._ring.signing.get(tenant_id) or self._first_key(tenant_id)
        key = self._private_key(kid)
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": audience,
            "sub": subject,
            "tid": str(tenant_id),
            "scope": " ".join(scopes),
            "iat": now,
            "exp": now + ttl,
            "jti": secrets.token_hex(16),
            **(extra or {}),
        }
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": "at+jwt"})

    def ensure_signing_key(self, tenant_id: uuid.UUID) -> None:
        """Make the tenant's first key now if it has none (in a transaction of its own), so
        that ``issue`` then only reads: call it before a write transaction that issues."""
        self._refresh_if_due()
        if tenant_id not in self._ring.signing:
            self._first_key(tenant_id)

    def _first_key(self, tenant_id: uuid.UUID) -> str:
        with self._first_key_lock:
            kid = self._ring.signing.get(tenant_id)
            if kid is not None:
                return kid
            # Another node may have made it; otherwise make it here.
            with self._lock:
                self._merge(tenant_id, self._store.tenant_keys(tenant_id))
            kid = self._ring.signing.get(tenant_id)
            if kid is not None:
                return kid
            info, private = self._store.create(tenant_id)
            self._private[info.kid] = private
            with self._lock:
                self._merge(tenant_id, self._store.tenant_keys(tenant_id))
            return self._ring.signing.get(tenant_id) or info.kid

    def _private_key(self, kid: str) -> rsa.RSAPrivateKey:
        private = self._private.get(kid)
        if private is None:
            private = self._store.private_key(self._ring.keys[kid].info)
            self._private[kid] = private
        return private

    # ---- verifying -------------------------------------------------------------------------

    def verify(
        self, token: str, audience: str = OAUTH_AUDIENCE, *, read_store: bool = True
    ) -> AccessToken | None:
        """The token's claims, or None when it is malformed, forged, expired or foreign.

        ``read_store=False`` answers from memory alone (for the event loop): a token whose
        kid the ring lacks is then refused, and a ring due for a refresh is used as it is.
        """
        if read_store:
            self._refresh_if_due()
        now = time.time()
        remembered = self._verified.get((audience, token))
        if remembered is not None:
            access, kid = remembered
            key = self._ring.keys.get(kid)
            if access.claims["exp"] > now and key is not None and key.info.trusted(now):
                return access
            self._verified.pop((audience, token), None)
            return None
        decoded = self._decode(token, audience, now, read_store)
        if decoded is not None:
            if len(self._verified) >= self._CACHE_SIZE:
                self._verified.clear()
            self._verified[(audience, token)] = decoded
            return decoded[0]
        return None

    def _decode(
        self, token: str, audience: str, now: float, read_store: bool
    ) -> tuple[AccessToken, str] | None:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
                return None
            key = self._ring.keys.get(kid)
            if key is None and read_store:
                key = self._look_up(kid)
            if key is None or not key.info.trusted(now):
                return None
            claims = jwt.decode(
                token,
                key.public,
                algorithms=[ALGORITHM],
                audience=audience,
                options={"require": ["exp", "iat", "sub", "aud", "tid"]},
            )
            tenant_id = uuid.UUID(claims["tid"])
            # A key signs for its own tenant only: its signature on another tenant's token
            # is a forgery, whatever the token says.
            if key.info.tenant_id is not None and key.info.tenant_id != tenant_id:
                return None
            access = AccessToken(
                tenant_id=tenant_id,
                subject=str(claims["sub"]),
                scopes=frozenset(str(claims.get("scope", "")).split()),
                claims=claims,
            )
            return access, kid
        except (jwt.PyJWTError, KeyError, ValueError, TypeError, AttributeError):
            return None
