"""A tenant's own rate limits, kept in its settings. Both databases."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from rosterd.repositories import tenants as tenants_repo
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from rosterd.services.errors import Invalid


def test_a_tenant_s_own_limits_are_kept_beside_its_other_settings(
    session: Session, actor: Actor
) -> None:
    tenant = tenants_repo.get(session, actor.tenant_id)
    assert tenant is not None
    tenants_service.set_scim_delete(session, tenant, "deactivate")
    assert tenants_service.rate_limits(session, tenant.id) == {}
    tenants_service.set_rate_limit(session, tenant, "credential", "50/second;3000/minute")
    tenants_service.set_rate_limit(session, tenant, "tenant", "9000/minute")
    session.flush()
    assert tenants_service.rate_limits(session, tenant.id) == {
        "credential": "50/second;3000/minute",
        "tenant": "9000/minute",
    }
    tenants_service.set_rate_limit(session, tenant, "credential", None)
    assert tenants_service.rate_limits(session, tenant.id) == {"tenant": "9000/minute"}
    assert tenants_service.scim_delete_deactivates(session, tenant.id)


def test_a_limit_the_library_cannot_read_is_refused_naming_the_option(
    session: Session, actor: Actor
) -> None:
    tenant = tenants_repo.get(session, actor.tenant_id)
    assert tenant is not None
    with pytest.raises(Invalid) as refused:
        tenants_service.set_rate_limit(session, tenant, "tenant", "lots/minute")
    assert refused.value.details[0].field == "rate_limit_per_tenant"
    assert "is not a rate limit" in refused.value.message
    assert tenants_service.rate_limits(session, tenant.id) == {}
