"""Credential lifecycle in the services: OAuth client rotation with a grace period,
revocation, expiry dates on every kind, last use, and the audit trail of each operation."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from rosterd.models import AuditEvent, OAuthClient, Tenant
from rosterd.models.base import utcnow
from rosterd.repositories import credentials as credentials_repo
from rosterd.repositories import tenants as tenants_repo
from rosterd.runtime import Runtime
from rosterd.services import api_keys, bearer_secrets, clients, scim_tokens
from rosterd.services.client_gate import ClientGate, read_standing
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, Invalid, NotFound, Unauthenticated

KEY = b"test-hmac-key"


@pytest.fixture
def tenant(session: Session, actor: Actor) -> Tenant:
    found = tenants_repo.get(session, actor.tenant_id)
    assert found is not None
    return found


def _client(session: Session, tenant: Tenant, actor: Actor, **kw: Any) -> clients.IssuedClient:
    return clients.create_client(
        session, tenant, name="hr-sync", scopes=["user:read"], hmac_key=KEY, actor=actor, **kw
    )


def _authenticates(session: Session, tenant: Tenant, client_id: str, secret: str) -> bool:
    try:
        clients.authenticate(session, tenant, client_id, secret, KEY)
    except Unauthenticated:
        return False
    return True


def _refusal(session: Session, tenant: Tenant, client_id: str, secret: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        clients.authenticate(session, tenant, client_id, secret, KEY)
    return caught.value.message


def _audit(session: Session, tenant: Tenant) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.tenant_id == tenant.id).order_by(AuditEvent.id)
        )
    )


def _assert_no_secret(events: list[AuditEvent], *secrets: str) -> None:
    for event in events:
        text = json.dumps([event.before, event.after, event.resource_id])
        for secret in secrets:
            assert secret not in text
            assert secret.split("_", 1)[1] not in text


# ---- OAuth clients: rotation ---------------------------------------------------------------


def test_rotation_keeps_the_old_secret_for_the_grace_period_only(
    session: Session, tenant: Tenant, actor: Actor
) -> None:
    issued = _client(session, tenant, actor)
    cid, old = issued.client.client_id, issued.client_secret

    rotated = clients.rotate_secret(
        session, tenant, cid, hmac_key=KEY, actor=actor, grace=timedelta(hours=2)
    )
    new = rotated.client_secret
    assert new != old
    until = rotated.client.previous_secret_expires_at
    assert until is not None
    assert timedelta(hours=1, minutes=59) < until - utcnow() <= timedelta(hours=2)
    # During the overlap both secrets work.
    assert _authenticates(session, tenant, cid, old)
    assert _authenticates(session, tenant, cid, new)

    # Once the grace period is over, only the new one does.
    rotated.client.previous_secret_expires_at = utcnow() - timedelta(seconds=1)
    session.flush()
    assert not _authenticates(session, tenant, cid, old)
    assert _authenticates(session, tenant, cid, new)


def test_rotation_with_no_grace_ends_the_old_secret_at_once(
    session: Session, tenant: Tenant, actor: Actor
) -> None:
    issued = _client(session, tenant, actor)
    cid, old = issued.client.client_id, issued.client_secret
    rotated = clients.rotate_secret(
        session, tenant, cid, hmac_key=KEY, actor=actor, grace=timedelta(0)
    )
    assert rotated.client.previous_secret_expires_at is None
    assert not _authenticates(session, tenant, cid, old)
    assert _authenticates(session, tenant, cid, rotated.client_secret)


def test_a_second_rotation_ends_the_first_old_secret(
    session: Session, tenant: Tenant, actor: Actor
) -> None:
    issued = _client(session, tenant, actor)
    cid, first = issued.client.client_id, issued.client_secret
    second = clients.rotate_secret(session, tenant, cid, hmac_key=KEY, actor=actor).client_secret
    third = clients.rotate_secret(session, tenant, cid, hmac_key=KEY, actor=actor).client_secret
    assert not _authenticates(session, tenant, cid, first)
    assert _authenticates(session, tenant, cid, second)
    assert _authenticates(session, tenant, cid, third)


@pytest.mark.parametrize("grace", [timedelta(seconds=-1), timedelta(days=31)])
def test_rotation_grace_out_of_range_is_refused(
    session: Session, tenant: Tenant, actor: Actor, grace: timedelta
) -> None:
    issued = _client(session, tenant, actor)
    with pytest.raises(Invalid) as caught:
        clients.rotate_secret(
            session, tenant, issued.client.client_id, hmac_key=KEY, actor=actor, grace=grace
        )
    assert caught.value.details[0].field == "grace"
    assert _authenticates(session, tenant, issued.client.client_id, issued.client_secret)


def test_rotating_an_unknown_or_revoked_client_is_refused(
    session: Session, tenant: Tenant, actor: Actor
) -> None:
    with pytest.raises(NotFound):
        clients.rotate_secret(session, tenant, "rcl_nosuch", hmac_key=KEY, actor=actor)
    issued = _client(session, tenant, actor)
    clients.revoke_client(session, tenant, issued.client.client_id, actor)
    with pytest.raises(Conflict):
        clients.rotate_secret(session, tenant, issued.client.client_id, hmac_key=KEY, actor=actor)


def test_a_client_of_another_tenant_is_not_found(
    session: Session, tenant: Tenant, actor: Actor
) -> None:
    issued = _client(session, tenant, actor)
    other = tenants_repo.get_by_slug(session, "default")
    assert other is not None
    with pytest.raises(NotFound):
        clients.revoke_client(session, other, issued.client.client_id, actor)
    with pytest.raises(NotFound):
        clients.rotate_secret(session, other, issued.client.client_id, hmac_key=KEY, actor=actor)
    assert not _authenticates(session, other, issued.client.client_id, issued.client_secret)


# ---- OAuth clients: revocation and expiry --------------------------------------------------


def test_a_revoked_client_is_refused_saying_so_and_ends_its_old_secret(
    session: Session, tenant: Tenant, actor: Actor
) -> None:
    issued = _client(session, tenant, actor)
    cid, old = issued.client.client_id, issued.client_secret
    new = clients.rotate_secret(session, tenant, cid, hmac_key=KEY, actor=actor).client_secret
    revoked = clients.revoke_client(session, tenant, cid, actor)
    assert revoked.revoked_at is not None
    assert "revoked" in _refusal(session, tenant, cid, new)
    # Revocation also ends the secret a rotation had kept for its grace period.
    assert revoked.previous_secret_hash is None
    assert not _authenticates(session, tenant, cid, old)
    # A wrong secret learns nothing about the client's state.
    assert "revoked" not in _refusal(session, tenant, cid, "rcs_wrong")
    # Revoking again changes nothing.
    assert clients.revoke_client(session, tenant, cid, actor).revoked_at == revoked.revoked_at


def test_client_expiry_is_enforced_and_named(
    session: Session, tenant: Tenant, actor: Actor
) -> None:
    expires = utcnow() + timedelta(days=90)
    issued = _client(session, tenant, actor, expires_at=expires)
    cid, secret = issued.client.client_id, issued.client_secret
    assert issued.client.expires_at == expires
    assert _authenticates(session, tenant, cid, secret)

    issued.client.expires_at = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    session.flush()
    assert "expired at 2020-01-02T03:04:05Z" in _refusal(session, tenant, cid, secret)


@pytest.mark.parametrize(
    ("expires_at", "says"),
    [
        (datetime(2020, 1, 1, tzinfo=UTC), "future"),
        (datetime(2999, 1, 1, tzinfo=UTC), "100 years"),
        (datetime(2099, 1, 1), "time zone"),  # naive on purpose
    ],
)
def test_an_expiry_date_must_be_an_aware_time_in_the_future(
    session: Session, tenant: Tenant, actor: Actor, expires_at: datetime, says: str
) -> None:
    with pytest.raises(Invalid) as caught:
        _client(session, tenant, actor, expires_at=expires_at)
    assert caught.value.details[0].field == "expires_at"
    assert says in caught.value.details[0].message
    for kind in (scim_tokens.KIND, api_keys.KIND):
        with pytest.raises(Invalid):
            bearer_secrets.create(
                session, kind, tenant, name="x", hmac_key=KEY, actor=actor, expires_at=expires_at
            )
    assert (
        session.scalars(select(OAuthClient).where(OAuthClient.tenant_id == tenant.id)).all() == []
    )


def test_a_client_is_stale_until_a_use_is_written_and_again_a_minute_later(
    session: Session, tenant: Tenant, actor: Actor
) -> None:
    issued = _client(session, tenant, actor)
    client = issued.client
    assert client.last_used_at is None
    assert clients.is_stale(client)
    credentials_repo.touch(session, OAuthClient, client.id, utcnow())
    session.refresh(client)
    assert client.last_used_at is not None
    assert not clients.is_stale(client)
    client.last_used_at = utcnow() - timedelta(minutes=2)
    assert clients.is_stale(client)


# ---- SCIM tokens and API keys --------------------------------------------------------------


@pytest.mark.parametrize("kind", [scim_tokens.KIND, api_keys.KIND], ids=["scim", "api_key"])
def test_secret_expiry_is_enforced_and_named(
    session: Session, tenant: Tenant, actor: Actor, kind: bearer_secrets.SecretKind[Any]
) -> None:
    issued = bearer_secrets.create(
        session,
        kind,
        tenant,
        name="idp",
        hmac_key=KEY,
        actor=actor,
        expires_at=utcnow() + timedelta(days=1),
    )
    assert bearer_secrets.authenticate(session, kind, issued.secret, KEY).id == issued.record.id
    assert bearer_secrets.list_all(session, kind, tenant)[0].expires_at is not None

    issued.record.expires_at = datetime(2021, 6, 1, tzinfo=UTC)
    session.flush()
    with pytest.raises(Unauthenticated) as caught:
        bearer_secrets.authenticate(session, kind, issued.secret, KEY)
    assert caught.value.message == f"the {kind.label} expired at 2021-06-01T00:00:00Z"


# ---- the audit trail -----------------------------------------------------------------------


def test_every_credential_operation_is_audited_with_its_actor_and_never_the_secret(
    session: Session, tenant: Tenant, actor: Actor
) -> None:
    expires = utcnow() + timedelta(days=30)
    issued = _client(session, tenant, actor, expires_at=expires)
    cid = issued.client.client_id
    rotated = clients.rotate_secret(session, tenant, cid, hmac_key=KEY, actor=actor)
    clients.revoke_client(session, tenant, cid, actor)
    scim = bearer_secrets.create(
        session, scim_tokens.KIND, tenant, name="okta", hmac_key=KEY, actor=actor
    )
    bearer_secrets.revoke(session, scim_tokens.KIND, tenant, scim.record.id, actor)
    key = bearer_secrets.create(
        session, api_keys.KIND, tenant, name="seam", hmac_key=KEY, actor=actor, expires_at=expires
    )
    bearer_secrets.revoke(session, api_keys.KIND, tenant, key.record.id, actor)

    events = _audit(session, tenant)
    assert [(e.action, e.resource_id) for e in events] == [
        ("oauth_client.created", cid),
        ("oauth_client.rotated", cid),
        ("oauth_client.revoked", cid),
        ("scim_token.created", str(scim.record.id)),
        ("scim_token.revoked", str(scim.record.id)),
        ("api_key.created", str(key.record.id)),
        ("api_key.revoked", str(key.record.id)),
    ]
    assert {(e.actor, e.surface) for e in events} == {(actor.actor, actor.surface)}
    assert events[0].after == {
        "name": "hr-sync",
        "scopes": ["user:read"],
        "grant_types": ["client_credentials"],
        "redirect_uris": [],
        "public": False,
        "expires_at": expires.isoformat(),
    }
    assert events[1].after is not None and events[1].after["previous_secret_expires_at"]
    assert events[5].after == {"name": "seam", "expires_at": expires.isoformat()}
    _assert_no_secret(events, issued.client_secret, rotated.client_secret, scim.secret, key.secret)


# ---- the gate every OAuth surface asks -----------------------------------------------------


def test_the_gate_reads_a_clients_state_and_remembers_it_for_its_ttl(
    runtime: Runtime,
) -> None:
    with runtime.db.writer.begin() as session:
        tenant = tenants_repo.get_by_slug(session, "default")
        assert tenant is not None
        test_actor = Actor(tenant_id=tenant.id, actor="test", surface="test")
        cid = _client(session, tenant, test_actor).client.client_id
        tenant_id = tenant.id

    remembering = ClientGate(runtime.db.reader, ttl=3600)
    fresh = ClientGate(runtime.db.reader, ttl=0)
    assert remembering.cached(tenant_id, cid) is None
    assert remembering.load(tenant_id, cid).refusal() is None
    assert fresh.load(tenant_id, cid).refusal() is None

    with runtime.db.writer.begin() as session:
        tenant = tenants_repo.get(session, tenant_id)
        assert tenant is not None
        clients.revoke_client(session, tenant, cid, test_actor)

    # Within its TTL the gate answers from memory, without I/O; once it is over, it reads.
    remembered = remembering.cached(tenant_id, cid)
    assert remembered is not None and remembered.refusal() is None
    assert fresh.cached(tenant_id, cid) is None
    assert fresh.load(tenant_id, cid).refusal() == (
        "the OAuth client of this access token is revoked"
    )
    # A client id that is not the tenant's is refused too.
    with runtime.db.reader() as session:
        assert read_standing(session, uuid.uuid4(), cid).refusal() == (
            "the OAuth client of this access token no longer exists"
        )


def test_concurrent_requests_for_one_client_cost_one_query(runtime: Runtime) -> None:
    """A busy client costs one read per TTL, however many requests arrive at once."""
    with runtime.db.writer.begin() as session:
        tenant = tenants_repo.get_by_slug(session, "default")
        assert tenant is not None
        test_actor = Actor(tenant_id=tenant.id, actor="test", surface="test")
        cid = _client(session, tenant, test_actor).client.client_id
        tenant_id = tenant.id

    reads = 0
    count_lock = threading.Lock()

    def counting_reader() -> Session:
        nonlocal reads
        with count_lock:
            reads += 1
        return runtime.db.reader()

    gate = ClientGate(counting_reader, ttl=3600)
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: gate.load(tenant_id, cid), range(64)))
    assert reads == 1
    assert all(a.refusal() is None for a in answers)


# ---- clients of the authorization code flow ----------------------------------------------


def test_redirect_uris_match_exactly_but_a_loopback_port_may_vary(
    session: Session, tenant: Tenant, actor: Actor
) -> None:
    made = _client(
        session,
        tenant,
        actor,
        grant_types=["authorization_code"],
        redirect_uris=["https://app.example/cb", "http://127.0.0.1/callback"],
        public=True,
    ).client
    assert made.is_public and made.grant_types == ["authorization_code"]
    matches = [
        "https://app.example/cb",
        "http://127.0.0.1/callback",
        "http://127.0.0.1:53100/callback",  # RFC 8252 §7.3: the native app's own port
    ]
    refused = [
        "https://app.example/cb/",
        "https://app.example/CB",
        "https://app.example:8443/cb",
        "http://127.0.0.1:53100/callback/x",
        "http://127.0.0.1:53100/callback?x=1",
        "http://localhost:53100/callback",
        "http://127.0.0.2:53100/callback",
        "https://127.0.0.1:53100/callback",
    ]
    assert all(clients.redirect_uri_matches(made, uri) for uri in matches)
    assert not any(clients.redirect_uri_matches(made, uri) for uri in refused)


def test_a_public_client_has_no_secret_to_authenticate_or_rotate(
    session: Session, tenant: Tenant, actor: Actor
) -> None:
    issued = _client(
        session,
        tenant,
        actor,
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=["http://127.0.0.1/callback"],
        public=True,
    )
    assert issued.client_secret is None and issued.client.secret_hash is None
    with pytest.raises(Unauthenticated):
        clients.authenticate(session, tenant, issued.client.client_id, "", KEY)
    with pytest.raises(Conflict):
        clients.rotate_secret(session, tenant, issued.client.client_id, hmac_key=KEY, actor=actor)
    with pytest.raises(Invalid, match="client_credentials"):
        clients.grant_scopes(issued.client, None)
