"""The SecretGate: a SCIM token's state read once per TTL, revocation seen after it, expiry at
once, unknown tokens not remembered, and last use claimed once a minute."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from rosterd.models import ScimToken
from rosterd.models.base import utcnow
from rosterd.repositories import tenants as tenants_repo
from rosterd.runtime import Runtime
from rosterd.services import scim_tokens
from rosterd.services.context import Actor
from rosterd.services.secret_gate import SecretGate


def _gate(runtime: Runtime, ttl: float) -> SecretGate[ScimToken]:
    db = runtime.db
    return SecretGate(scim_tokens.KIND, db.reader, runtime.hmac_key, ttl)


def test_the_gate_remembers_a_token_for_its_ttl_and_then_reads_it_again(
    runtime: Runtime,
) -> None:
    with runtime.db.writer.begin() as session:
        tenant = tenants_repo.get_by_slug(session, "default")
        assert tenant is not None
        actor = Actor(tenant_id=tenant.id, actor="test", surface="test")
        issued = scim_tokens.create_token(
            session, tenant, name="gate", hmac_key=runtime.hmac_key, actor=actor
        )
        token, token_id, tenant_id = issued.token, issued.record.id, tenant.id

    remembering, fresh = _gate(runtime, 3600), _gate(runtime, 0)
    key = remembering.key(token)
    assert remembering.cached(key) is None
    for gate in (remembering, fresh):
        verdict = gate.load(key)
        assert verdict is not None and verdict.tenant_id == tenant_id
        assert verdict.refusal("SCIM token") is None

    with runtime.db.writer.begin() as session:
        tenant = tenants_repo.get(session, tenant_id)
        assert tenant is not None
        scim_tokens.revoke_token(session, tenant, token_id, actor)

    remembered = remembering.cached(key)
    assert remembered is not None and remembered.refusal("SCIM token") is None
    assert fresh.cached(key) is None
    revoked = fresh.load(key)
    assert revoked is not None and revoked.refusal("SCIM token") == "invalid or revoked SCIM token"

    # Unknown tokens are not remembered; an expiry date is judged against the clock.
    unknown = remembering.key("rscim_never-issued")
    assert remembering.load(unknown) is None and remembering.cached(unknown) is None
    past = replace(remembered, expires_at=utcnow() - timedelta(seconds=1))
    assert (past.refusal("SCIM token") or "").startswith("the SCIM token expired at ")


def test_last_use_is_claimed_once_a_minute(runtime: Runtime) -> None:
    with runtime.db.writer.begin() as session:
        tenant = tenants_repo.get_by_slug(session, "default")
        assert tenant is not None
        actor = Actor(tenant_id=tenant.id, actor="test", surface="test")
        token = scim_tokens.create_token(
            session, tenant, name="used", hmac_key=runtime.hmac_key, actor=actor
        ).token
    gate = _gate(runtime, 3600)
    verdict = gate.load(gate.key(token))
    assert verdict is not None and verdict.last_used_at is None
    when = gate.claim_last_use(verdict)
    assert when is not None
    assert gate.claim_last_use(verdict) is None  # claimed: the next requests write nothing
    runtime.last_uses.note(ScimToken, verdict.secret_id, when)
    assert runtime.last_uses.flush(runtime.db.writer.begin) == 1
    reread = _gate(runtime, 0).load(gate.key(token))
    assert reread is not None and reread.last_used_at == when
    assert _gate(runtime, 0).claim_last_use(reread) is None
