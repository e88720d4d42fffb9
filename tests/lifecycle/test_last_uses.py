"""Credentials' last uses: noted by the requests that present them, written beside them.

A request that presents an OAuth client's secret, a SCIM token or an API key answers without
waiting to write its last use, even while another writer holds what that write needs
(SQLite's write lock, the credential's row on PostgreSQL); the use is in the store soon
after. ``LastUses`` keeps the latest use per credential, never moves a stored one back, and
keeps its notes when a write fails.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from rosterd.lifecycle.last_uses import LastUses, LastUseWriter
from rosterd.models import OAuthClient, ScimToken
from rosterd.models.base import utcnow
from rosterd.models.credential import ApiKey
from rosterd.repositories.credentials import Used
from rosterd.runtime import Runtime
from tests.factories import TenantHandle, eventually

# Far below SQLite's busy timeout, and a PostgreSQL row lock is waited for without end: a
# request that wrote its credential's last use itself would still be waiting.
ANSWERS_WITHIN = 5.0


def _last_use(runtime: Runtime, model: type[Used], row_id: uuid.UUID) -> datetime | None:
    with runtime.db.reader() as session:
        return session.scalar(select(model.last_used_at).where(model.id == row_id))


@contextmanager
def _writes_held(runtime: Runtime, model: type[Used], row_id: uuid.UUID) -> Iterator[None]:
    """Another writer holding what writing the credential's last use needs: SQLite's one
    write lock, or the credential's row on PostgreSQL."""
    if runtime.db.is_sqlite:
        path = make_url(runtime.settings.resolved_database_url).database
        assert path
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.rollback()
            other.close()
        return
    with runtime.db.write_engine.connect() as other:
        other.execute(select(model.id).where(model.id == row_id).with_for_update())
        try:
            yield
        finally:
            other.rollback()


# A surface: given the app and a tenant, a credential's row and a request presenting it.
Surface = Callable[
    [TestClient, TenantHandle, Runtime], tuple[type[Used], uuid.UUID, Callable[[], httpx.Response]]
]


def _oauth_client(
    http: TestClient, tenant: TenantHandle, runtime: Runtime
) -> tuple[type[Used], uuid.UUID, Callable[[], httpx.Response]]:
    tenant.headers("admin")  # the tenant's signing key made: its first token is a write
    client_id, secret = tenant.client_credentials(["user:read"])
    with runtime.db.reader() as session:
        row_id = session.scalar(select(OAuthClient.id).where(OAuthClient.client_id == client_id))
    assert row_id is not None
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return (
        OAuthClient,
        row_id,
        lambda: http.post(f"/tenants/{tenant.slug}/connect/token", data=form),
    )


def _bearer_secret(
    model: type[Used],
    path: str,
    secret_field: str,
    use: Callable[[TestClient, dict[str, str]], httpx.Response],
) -> Surface:
    """A surface whose credential an admin makes at ``path`` and presents as a bearer."""

    def made(
        http: TestClient, tenant: TenantHandle, runtime: Runtime
    ) -> tuple[type[Used], uuid.UUID, Callable[[], httpx.Response]]:
        r = http.post(path, json={"name": "held"}, headers=tenant.headers("admin"))
        assert r.status_code == 201, r.text
        bearer = {"Authorization": f"Bearer {r.json()[secret_field]}"}
        return model, uuid.UUID(r.json()["id"]), lambda: use(http, bearer)

    return made


_scim_token = _bearer_secret(
    ScimToken,
    "/admin/api/scim-tokens",
    "token",
    lambda http, bearer: http.get("/scim/v2/Users", headers=bearer),
)
_api_key = _bearer_secret(
    ApiKey,
    "/admin/api/api-keys",
    "apiKey",
    lambda http, bearer: http.post("/user_identities/list", json={}, headers=bearer),
)


@pytest.mark.parametrize(
    "surface", [_oauth_client, _scim_token, _api_key], ids=["oauth", "scim", "api_key"]
)
def test_a_request_does_not_wait_to_write_its_credentials_last_use(
    http: TestClient, tenant: TenantHandle, runtime: Runtime, surface: Surface
) -> None:
    model, row_id, use = surface(http, tenant, runtime)
    assert _last_use(runtime, model, row_id) is None
    with ThreadPoolExecutor(1) as pool:
        with _writes_held(runtime, model, row_id):
            answered = pool.submit(use)
            done, _ = wait([answered], timeout=ANSWERS_WITHIN)
            assert _last_use(runtime, model, row_id) is None
        assert done, "the request waited for the write of its credential's last use"
        r = answered.result()
        assert r.status_code == 200, r.text
    used = eventually(lambda: _last_use(runtime, model, row_id))
    assert used > utcnow() - timedelta(minutes=1)


def _scim_token_row(runtime: Runtime, tenant: TenantHandle) -> uuid.UUID:
    tenant.scim_token("noted")
    with runtime.db.reader() as session:
        row_id = session.scalar(
            select(ScimToken.id).where(ScimToken.tenant_id == tenant.id, ScimToken.name == "noted")
        )
    assert row_id is not None
    return row_id


def test_the_latest_use_is_kept_and_a_stored_one_never_moves_back(
    runtime: Runtime, tenant: TenantHandle
) -> None:
    row_id = _scim_token_row(runtime, tenant)
    uses = LastUses()
    now = utcnow()
    uses.note(ScimToken, row_id, now)
    uses.note(ScimToken, row_id, now - timedelta(minutes=5))
    assert uses.pending() == 1
    assert uses.flush(runtime.db.writer.begin) == 1
    assert _last_use(runtime, ScimToken, row_id) == now
    # A use noted late by another process, older than the stored one.
    uses.note(ScimToken, row_id, now - timedelta(minutes=3))
    assert uses.flush(runtime.db.writer.begin) == 1
    assert _last_use(runtime, ScimToken, row_id) == now
    assert uses.flush(runtime.db.writer.begin) == 0


def test_notes_are_kept_when_their_write_fails(runtime: Runtime, tenant: TenantHandle) -> None:
    row_id = _scim_token_row(runtime, tenant)
    uses = LastUses()
    when = utcnow()
    uses.note(ScimToken, row_id, when)

    def failing() -> AbstractContextManager[Session]:
        raise ConnectionError("store unavailable")

    with pytest.raises(ConnectionError):
        uses.flush(failing)
    assert uses.pending() == 1 and _last_use(runtime, ScimToken, row_id) is None
    assert uses.flush(runtime.db.writer.begin) == 1
    assert _last_use(runtime, ScimToken, row_id) == when


def test_the_writer_writes_soon_after_a_note_and_what_is_left_when_it_stops(
    runtime: Runtime, tenant: TenantHandle
) -> None:
    first, second = _scim_token_row(runtime, tenant), uuid.uuid4()
    uses = LastUses()
    # Polling too rarely to matter: the note wakes it.
    writer = LastUseWriter(runtime.db, uses, gather_seconds=0.01, poll_seconds=60)
    writer.start()
    try:
        uses.note(ScimToken, first)
        eventually(lambda: _last_use(runtime, ScimToken, first))
        assert uses.pending() == 0
    finally:
        writer.stop()

    lingering = LastUseWriter(runtime.db, uses, gather_seconds=60, poll_seconds=60)
    lingering.start()
    # A credential deleted meanwhile: its row is gone, the write touches nothing.
    uses.note(ScimToken, second)
    later = utcnow()
    uses.note(ScimToken, first, later)
    lingering.stop()
    assert uses.pending() == 0
    assert _last_use(runtime, ScimToken, first) == later
