"""The scheduler's retention of spent OAuth rows and of the local import journal, on SQLite
and PostgreSQL: what is spent goes, in bounded batches, after its grace; what is live stays,
and a rotated refresh token of a live grant is still caught as reused after a sweep.

The store is shared by the tests of a backend and a sweep acts on every tenant, so a test
looks only at its own rows and never at how many a sweep deleted in total.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, insert, select, update

from rosterd.auth.secrets import token_hash
from rosterd.lifecycle import scheduler as scheduler_module
from rosterd.lifecycle.scheduler import Scheduler
from rosterd.models import ImportBatch, OAuthGrant, OAuthRefreshToken
from rosterd.models.base import utcnow
from rosterd.runtime import Runtime
from tests.api.oauth.flow import (
    App,
    Browser,
    consent,
    make_admin,
    pkce,
    redeem,
    refresh,
    register_app,
)
from tests.factories import V2, TenantHandle, bare_tenant

GRACE_DAYS = 7


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def grab(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", grab)


def _sweep_at(runtime: Runtime, moment: datetime) -> Scheduler:
    return Scheduler(runtime.db, clock=lambda: moment, oauth_grant_retention_days=GRACE_DAYS)


# ---- OAuth grants and refresh tokens ------------------------------------------------------


@pytest.fixture
def browser(runtime: Runtime, http: TestClient, tenant: TenantHandle) -> Browser:
    signed = Browser(TestClient(http.app), tenant.slug, make_admin(runtime, tenant.slug))
    assert signed.sign_in().status_code == 303
    return signed


@pytest.fixture
def app(runtime: Runtime, tenant: TenantHandle) -> App:
    return register_app(runtime, tenant.slug)


def _code(browser: Browser, app: App) -> tuple[str, str]:
    """A fresh authorization code and its verifier."""
    verifier, challenge = pkce()
    return consent(browser, app, challenge)["code"], verifier


def _tokens(http: TestClient, tenant: TenantHandle, browser: Browser, app: App) -> Any:
    code, verifier = _code(browser, app)
    r = redeem(http, tenant.slug, app, code, verifier)
    assert r.status_code == 200, r.text
    return r.json()


def _grant_of_code(runtime: Runtime, code: str) -> uuid.UUID | None:
    with runtime.db.reader() as session:
        return session.scalar(
            select(OAuthGrant.id).where(OAuthGrant.code_hash == token_hash(runtime.hmac_key, code))
        )


def _token_row(runtime: Runtime, token: str) -> OAuthRefreshToken | None:
    with runtime.db.reader() as session:
        return session.scalar(
            select(OAuthRefreshToken).where(
                OAuthRefreshToken.token_hash == token_hash(runtime.hmac_key, token)
            )
        )


def _grant_exists(runtime: Runtime, grant_id: uuid.UUID) -> bool:
    with runtime.db.reader() as session:
        return session.get(OAuthGrant, grant_id) is not None


def _grant_of(runtime: Runtime, token: str) -> uuid.UUID:
    row = _token_row(runtime, token)
    assert row is not None
    return row.grant_id


def test_spent_grants_and_tokens_go_after_the_grace_and_live_ones_stay(
    runtime: Runtime,
    http: TestClient,
    tenant: TenantHandle,
    browser: Browser,
    app: App,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A live grant whose first refresh token was rotated away.
    first = _tokens(http, tenant, browser, app)
    second = refresh(http, tenant.slug, app, first["refresh_token"]).json()
    live = _grant_of(runtime, second["refresh_token"])
    # A grant revoked by its client.
    revoked_tokens = _tokens(http, tenant, browser, app)
    revoked = _grant_of(runtime, revoked_tokens["refresh_token"])
    r = http.post(
        f"/tenants/{tenant.slug}/connect/revoke",
        data={"token": revoked_tokens["refresh_token"], "client_id": app.client_id},
    )
    assert r.status_code == 200, r.text
    # A code never redeemed (it expires a minute after the consent).
    unused_code, _ = _code(browser, app)
    unredeemed = _grant_of_code(runtime, unused_code)
    assert unredeemed is not None
    # A grant whose only refresh token ran out (a client that stopped refreshing).
    lapsed_tokens = _tokens(http, tenant, browser, app)
    lapsed = _grant_of(runtime, lapsed_tokens["refresh_token"])
    with runtime.db.writer.begin() as session:
        session.execute(
            update(OAuthRefreshToken)
            .where(OAuthRefreshToken.grant_id == lapsed)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    # Within the grace nothing goes.
    _sweep_at(runtime, utcnow() + timedelta(days=GRACE_DAYS - 1)).purge_oauth_grants()
    assert all(_grant_exists(runtime, g) for g in (live, revoked, unredeemed, lapsed))
    assert _token_row(runtime, lapsed_tokens["refresh_token"]) is not None

    # After it, a batch of one at a time (so several batches, each its own DELETE ... LIMIT).
    monkeypatch.setattr(scheduler_module, "BATCH", 1)
    with _statements(runtime.db.write_engine) as seen:
        purged = _sweep_at(runtime, utcnow() + timedelta(days=GRACE_DAYS + 1)).purge_oauth_grants()
    assert purged >= 5  # 3 grants and 2 refresh tokens of this test's; other tests' too
    deletes = [sql for sql in seen if sql.lstrip().upper().startswith("DELETE")]
    assert len(deletes) >= 5 and all("LIMIT" in sql.upper() for sql in deletes), deletes

    assert not any(_grant_exists(runtime, g) for g in (revoked, unredeemed, lapsed))
    for gone in (revoked_tokens, lapsed_tokens):
        assert _token_row(runtime, gone["refresh_token"]) is None
    assert _grant_exists(runtime, live)
    used = _token_row(runtime, first["refresh_token"])
    assert used is not None and used.used_at is not None
    assert _token_row(runtime, second["refresh_token"]) is not None

    # The live grant still works, and its rotated token is still caught as reused.
    assert (
        http.get(
            f"{V2}/users", headers={"Authorization": f"Bearer {second['access_token']}"}
        ).status_code
        == 200
    )
    r = refresh(http, tenant.slug, app, first["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    with runtime.db.reader() as session:
        grant = session.get(OAuthGrant, live)
        assert grant is not None and grant.revoked_at is not None
    r = refresh(http, tenant.slug, app, second["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text


def test_a_used_token_past_its_lifetime_goes_but_its_live_grant_stays(
    runtime: Runtime, http: TestClient, tenant: TenantHandle, browser: Browser, app: App
) -> None:
    first = _tokens(http, tenant, browser, app)
    second = refresh(http, tenant.slug, app, first["refresh_token"]).json()
    grant = _grant_of(runtime, second["refresh_token"])
    with runtime.db.writer.begin() as session:
        session.execute(
            update(OAuthRefreshToken)
            .where(
                OAuthRefreshToken.token_hash == token_hash(runtime.hmac_key, first["refresh_token"])
            )
            .values(expires_at=utcnow() - timedelta(days=GRACE_DAYS + 1))
        )

    _sweep_at(runtime, utcnow()).purge_oauth_grants()

    assert _token_row(runtime, first["refresh_token"]) is None
    assert _token_row(runtime, second["refresh_token"]) is not None
    assert _grant_exists(runtime, grant)
    r = refresh(http, tenant.slug, app, second["refresh_token"])
    assert r.status_code == 200, r.text


def test_nodes_sweeping_at_once_while_a_live_grant_refreshes(
    runtime: Runtime,
    http: TestClient,
    tenant: TenantHandle,
    browser: Browser,
    app: App,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spent = []
    for _ in range(4):
        tokens = _tokens(http, tenant, browser, app)
        spent.append(_grant_of(runtime, tokens["refresh_token"]))
        r = http.post(
            f"/tenants/{tenant.slug}/connect/revoke",
            data={"token": tokens["refresh_token"], "client_id": app.client_id},
        )
        assert r.status_code == 200, r.text
    current = _tokens(http, tenant, browser, app)["refresh_token"]
    live = _grant_of(runtime, current)
    monkeypatch.setattr(scheduler_module, "BATCH", 1)
    later = utcnow() + timedelta(days=GRACE_DAYS + 1)
    failures: list[Exception] = []

    def sweep() -> None:
        try:
            _sweep_at(runtime, later).purge_oauth_grants()
        except Exception as exc:  # reported below, with the other threads'
            failures.append(exc)

    nodes = [threading.Thread(target=sweep) for _ in range(3)]
    for node in nodes:
        node.start()
    rotated = []
    for _ in range(3):  # meanwhile the app goes on refreshing
        r = refresh(http, tenant.slug, app, current)
        assert r.status_code == 200, r.text
        rotated.append(current)
        current = r.json()["refresh_token"]
    for node in nodes:
        node.join()

    assert not failures, failures
    assert not any(_grant_exists(runtime, g) for g in spent)
    assert _grant_exists(runtime, live)
    assert all(_token_row(runtime, t) is not None for t in [*rotated, current])


# ---- the import journal -------------------------------------------------------------------


def _journal(runtime: Runtime, tenant_id: uuid.UUID, import_id: str, *ages_days: float) -> None:
    now = utcnow()
    rows = [
        {
            "tenant_id": tenant_id,
            "import_id": import_id,
            "first_line": 1 + 10 * i,
            "last_line": 10 + 10 * i,
            "counts": {"created_users": 10},
            "done_at": now - timedelta(days=age),
        }
        for i, age in enumerate(ages_days)
    ]
    with runtime.db.writer.begin() as session:
        session.execute(insert(ImportBatch), rows)


def _journaled(runtime: Runtime, tenant_id: uuid.UUID) -> dict[str, int]:
    with runtime.db.reader() as session:
        rows = session.execute(
            select(ImportBatch.import_id, func.count())
            .where(ImportBatch.tenant_id == tenant_id)
            .group_by(ImportBatch.import_id)
        )
        return {import_id: int(n) for import_id, n in rows}


def test_imports_done_before_the_retention_are_forgotten_whole(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id, other = bare_tenant(runtime), bare_tenant(runtime)
    _journal(runtime, tenant_id, "a" * 64, 200, 150, 120)  # finished long ago
    _journal(runtime, tenant_id, "b" * 64, 200, 10)  # resumed lately: kept whole
    _journal(runtime, tenant_id, "c" * 64, 5)
    _journal(runtime, other, "a" * 64, 100)
    monkeypatch.setattr(scheduler_module, "BATCH", 2)
    scheduler = Scheduler(runtime.db, import_journal_retention_days=90)

    with _statements(runtime.db.write_engine) as seen:
        assert scheduler.purge_import_journal() >= 4

    assert _journaled(runtime, tenant_id) == {"b" * 64: 2, "c" * 64: 1}
    assert _journaled(runtime, other) == {}
    deletes = [sql for sql in seen if sql.lstrip().upper().startswith("DELETE")]
    assert deletes and all("LIMIT" in sql.upper() for sql in deletes), deletes
    assert scheduler.purge_import_journal() == 0


def test_a_journal_retention_of_zero_days_keeps_everything(runtime: Runtime) -> None:
    tenant_id = bare_tenant(runtime)
    _journal(runtime, tenant_id, "d" * 64, 4000)
    assert Scheduler(runtime.db, import_journal_retention_days=0).purge_import_journal() == 0
    assert _journaled(runtime, tenant_id) == {"d" * 64: 1}
