"""The domain layer's tests: services called directly, each test in a transaction of its own
that is rolled back at the end, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from rosterd.runtime import Runtime
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    s = runtime.db.writer()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture
def actor(session: Session) -> Actor:
    tenant = tenants_service.create_tenant(session, f"t-{secrets.token_hex(5)}")
    return Actor(tenant_id=tenant.id, actor="test", surface="test")
