"""The key ring: tokens verify with their own tenant's keys, a remembered verdict never
outlives the token or its key, and keys made or retired elsewhere are picked up.

These tests drive TokenSigner over an in-memory store and a clock they move by hand, so
they can count every read of the store; tests/api/oauth covers the real store.
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field, replace

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from rosterd.auth.tokens import (
    API_V1_AUDIENCE,
    PublicKey,
    SigningKeyUnreadable,
    TokenSigner,
    public_jwk,
)

REFRESH = 30.0
_kids = (f"k{n}" for n in itertools.count(1))


@dataclass
class MemoryStore:
    """A KeyStore in memory that counts how often it is read."""

    keys: dict[str, PublicKey] = field(default_factory=dict)
    private: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    unreadable: set[str] = field(default_factory=set)
    reads: int = 0
    created: int = 0

    def add(self, tenant_id: uuid.UUID | None, *, created_at: float | None = None) -> str:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = next(_kids)
        self.keys[kid] = PublicKey(
            kid=kid,
            tenant_id=tenant_id,
            jwk=public_jwk(private.public_key()),
            created_at=time.time() if created_at is None else created_at,
            verify_until=None,
        )
        self.private[kid] = private
        return kid

    def retire(self, kid: str, verify_until: float) -> None:
        self.keys[kid] = replace(self.keys[kid], verify_until=verify_until)

    def _trusted(self) -> list[PublicKey]:
        now = time.time()
        return [k for k in self.keys.values() if k.trusted(now)]

    def trusted_keys(self) -> list[PublicKey]:
        self.reads += 1
        return self._trusted()

    def tenant_keys(self, tenant_id: uuid.UUID | None) -> list[PublicKey]:
        self.reads += 1
        return [k for k in self._trusted() if k.tenant_id == tenant_id]

    def keys_beside(self, kid: str) -> tuple[uuid.UUID | None, list[PublicKey]] | None:
        self.reads += 1
        if kid not in self.keys:
            return None
        tenant_id = self.keys[kid].tenant_id
        return tenant_id, [k for k in self._trusted() if k.tenant_id == tenant_id]

    def private_key(self, key: PublicKey) -> rsa.RSAPrivateKey:
        self.reads += 1
        if key.kid in self.unreadable:
            raise SigningKeyUnreadable(f"signing key {key.kid} does not open")
        return self.private[key.kid]

    def create(self, tenant_id: uuid.UUID) -> tuple[PublicKey, rsa.RSAPrivateKey]:
        self.created += 1
        kid = self.add(tenant_id)
        return self.keys[kid], self.private[kid]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Ring:
    store: MemoryStore
    clock: Clock
    signer: TokenSigner

    def node(self) -> TokenSigner:
        """Another node on the same store."""
        return TokenSigner(self.store, refresh_seconds=REFRESH, clock=self.clock)


@pytest.fixture
def ring() -> Ring:
    store, clock = MemoryStore(), Clock()
    return Ring(store, clock, TokenSigner(store, refresh_seconds=REFRESH, clock=clock))


def _issue(signer: TokenSigner, tenant_id: uuid.UUID, ttl: int = 60) -> str:
    return signer.issue(
        issuer="http://testserver", tenant_id=tenant_id, subject="c", scopes=["a"], ttl=ttl
    )


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _signed(private: rsa.RSAPrivateKey, kid: str, tenant_id: uuid.UUID) -> str:
    now = int(time.time())
    claims = {
        "iss": "x",
        "aud": "rosterd",
        "sub": "forger",
        "tid": str(tenant_id),
        "scope": "admin",
        "iat": now,
        "exp": now + 60,
    }
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})


# ---- remembered verdicts -------------------------------------------------------------------


def test_a_remembered_token_is_refused_once_it_expires(
    ring: Ring, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _issue(ring.signer, uuid.uuid4(), ttl=60)
    assert ring.signer.verify(token) is not None
    assert ring.signer.verify(token) is not None  # now answered from memory
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    assert ring.signer.verify(token) is None


def test_a_remembered_token_is_still_refused_for_another_audience(ring: Ring) -> None:
    token = _issue(ring.signer, uuid.uuid4())
    assert ring.signer.verify(token) is not None
    assert ring.signer.verify(token, audience=API_V1_AUDIENCE) is None


def test_a_forged_token_is_never_remembered_as_valid(ring: Ring) -> None:
    tenant = uuid.uuid4()
    kid = _kid(_issue(ring.signer, tenant))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = _signed(other, kid, tenant)
    assert ring.signer.verify(forged) is None
    assert ring.signer.verify(forged) is None


def test_a_remembered_token_stops_verifying_when_its_key_leaves_the_store(ring: Ring) -> None:
    token = _issue(ring.signer, uuid.uuid4())
    assert ring.signer.verify(token) is not None
    del ring.store.keys[_kid(token)]  # e.g. its tenant was deleted
    assert ring.signer.verify(token) is not None  # the ring has not refreshed yet
    ring.clock.advance(REFRESH)
    assert ring.signer.verify(token) is None


def test_a_retired_key_verifies_until_its_time_then_not_even_from_memory(
    ring: Ring, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = uuid.uuid4()
    token = _issue(ring.signer, tenant, ttl=3600)
    assert ring.signer.verify(token) is not None
    ring.store.retire(_kid(token), verify_until=time.time() + 100)
    ring.clock.advance(REFRESH)
    assert ring.signer.verify(token) is not None
    later = time.time() + 101
    monkeypatch.setattr(time, "time", lambda: later)
    assert ring.signer.verify(token) is None  # within its own exp, but the key is done


# ---- tenants -------------------------------------------------------------------------------


def test_each_tenant_gets_a_key_of_its_own_once(ring: Ring) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    first = _issue(ring.signer, a)
    assert _kid(_issue(ring.signer, a)) == _kid(first)
    assert _kid(_issue(ring.signer, b)) != _kid(first)
    assert ring.store.created == 2
    # Another node finds tenant a's key instead of making its own.
    assert _kid(_issue(ring.node(), a)) == _kid(first)
    assert ring.store.created == 2


def test_a_key_refuses_a_token_naming_another_tenant(ring: Ring) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    kid = _kid(_issue(ring.signer, a))
    _issue(ring.signer, b)
    # Tenant a's own key, its own kid, but b's tenant id: a forgery.
    forged = _signed(ring.store.private[kid], kid, b)
    assert ring.signer.verify(forged) is None
    genuine = _signed(ring.store.private[kid], kid, a)
    assert ring.signer.verify(genuine) is not None


def test_a_legacy_key_verifies_for_every_tenant_but_never_signs(ring: Ring) -> None:
    legacy = ring.store.add(None)
    ring.store.retire(legacy, verify_until=time.time() + 100)
    tenant = uuid.uuid4()
    old = _signed(ring.store.private[legacy], legacy, tenant)
    access = ring.signer.verify(old)
    assert access is not None and access.tenant_id == tenant
    assert _kid(_issue(ring.signer, tenant)) != legacy


def test_when_two_keys_of_a_tenant_sign_both_verify_and_the_newest_signs(ring: Ring) -> None:
    tenant = uuid.uuid4()
    # What two nodes making the tenant's first key at the same moment leave behind.
    older = ring.store.add(tenant, created_at=time.time() - 1)
    newer = ring.store.add(tenant, created_at=time.time())
    assert _kid(_issue(ring.signer, tenant)) == newer
    for kid in (older, newer):
        assert ring.signer.verify(_signed(ring.store.private[kid], kid, tenant)) is not None


def test_a_key_that_does_not_unseal_fails_signing_loudly(ring: Ring) -> None:
    tenant = uuid.uuid4()
    kid = ring.store.add(tenant)
    ring.store.unreadable.add(kid)
    with pytest.raises(SigningKeyUnreadable, match=kid):
        _issue(ring.signer, tenant)


# ---- keys made elsewhere -------------------------------------------------------------------


def test_a_key_made_on_another_node_verifies_at_once_and_signs_after_a_refresh(
    ring: Ring,
) -> None:
    tenant = uuid.uuid4()
    old_kid = _kid(_issue(ring.signer, tenant))
    # Another node rotates: a new key, the old one retired.
    new_kid = ring.store.add(tenant)
    ring.store.retire(old_kid, verify_until=time.time() + 3600)
    other = ring.node()
    from_other = _issue(other, tenant)
    assert _kid(from_other) == new_kid
    assert ring.signer.verify(from_other) is not None  # looked up at once
    assert _kid(_issue(ring.signer, tenant)) == new_kid  # and the lookup brought its rotation


def test_a_rotation_elsewhere_reaches_signing_within_the_refresh_interval(ring: Ring) -> None:
    tenant = uuid.uuid4()
    old_kid = _kid(_issue(ring.signer, tenant))
    new_kid = ring.store.add(tenant)
    ring.store.retire(old_kid, verify_until=time.time() + 3600)
    ring.clock.advance(REFRESH - 1)
    assert _kid(_issue(ring.signer, tenant)) == old_kid  # still within the interval
    ring.clock.advance(1)
    assert _kid(_issue(ring.signer, tenant)) == new_kid


def test_unknown_kids_are_looked_up_at_most_once_per_gap(ring: Ring) -> None:
    _issue(ring.signer, uuid.uuid4())
    reads = ring.store.reads
    garbage = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for n in range(50):
        assert ring.signer.verify(_signed(garbage, f"made-up-{n}", uuid.uuid4())) is None
    assert ring.store.reads == reads + 1
    ring.clock.advance(TokenSigner.LOOKUP_GAP)
    assert ring.signer.verify(_signed(garbage, "made-up-again", uuid.uuid4())) is None
    assert ring.store.reads == reads + 2


def test_a_kid_too_long_to_exist_is_not_looked_up(ring: Ring) -> None:
    _issue(ring.signer, uuid.uuid4())
    reads = ring.store.reads
    garbage = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert ring.signer.verify(_signed(garbage, "k" * 65, uuid.uuid4())) is None
    assert ring.store.reads == reads


def test_verifying_from_memory_never_reads_the_store(ring: Ring) -> None:
    tenant = uuid.uuid4()
    token = _issue(ring.signer, tenant)
    other = ring.node()
    reads = ring.store.reads
    assert other.verify(token, read_store=False) is None  # a kid it has not loaded
    ring.clock.advance(REFRESH * 3)
    assert ring.signer.verify(token, read_store=False) is not None  # a due refresh waits
    assert ring.store.reads == reads
    assert other.refresh_due()
    assert other.verify(token) is not None


def test_looking_up_a_key_past_its_time_refuses_it_and_keeps_the_rest_of_the_ring(
    ring: Ring,
) -> None:
    legacy = ring.store.add(None)
    ring.store.retire(legacy, verify_until=time.time() + 100)
    tenant = uuid.uuid4()
    done = ring.store.add(tenant)
    ring.store.retire(done, verify_until=time.time() - 1)
    old = _signed(ring.store.private[legacy], legacy, tenant)
    assert ring.signer.verify(old) is not None
    assert ring.signer.verify(_signed(ring.store.private[done], done, tenant)) is None
    assert ring.store.reads == 2  # the load, and the lookup of the retired kid
    assert ring.signer.verify(old, read_store=False) is not None
