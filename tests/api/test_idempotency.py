"""Idempotency-Key on the POSTs of /integration/v2, /api/v1, /v1/seadminusers and
/user_identities: a retry replays the first answer and writes nothing, a reused key with
another request is a 422, a request still running is a 409, a 5xx (or a crash) frees the
key, keys are a credential's own, and expired keys are purged by the scheduler."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from rosterd.api.app import create_app
from rosterd.api.idempotency import fingerprint
from rosterd.lifecycle.scheduler import Scheduler
from rosterd.models import IdempotencyKey, KeyState, User
from rosterd.models.base import utcnow
from rosterd.repositories import idempotency as idempotency_repo
from rosterd.runtime import Runtime
from rosterd.services import idempotency
from rosterd.services import users as users_service
from rosterd.services.errors import DomainError
from tests.api.identities.test_identities_http import issue_api_key
from tests.api.v1.support import PASSWORD, make_admin
from tests.conftest import LiveServer
from tests.factories import V2, TenantHandle

USERS = f"{V2}/users"
REPLAYED = "Idempotent-Replayed"


def _key() -> str:
    return f"key-{uuid.uuid4()}"


def _email() -> str:
    return f"idem-{secrets.token_hex(5)}@example.com"


def _person(email: str) -> dict[str, str]:
    """A v2 user to create."""
    return {"email": email, "firstName": "Ida", "lastName": "Tempo"}


def _users_with_email(runtime: Runtime, tenant: TenantHandle, email: str) -> int:
    with runtime.db.reader() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(User)
                .where(User.tenant_id == tenant.id, User.email == email)
            )
            or 0
        )


def _rows(runtime: Runtime, tenant: TenantHandle) -> list[IdempotencyKey]:
    with runtime.db.reader() as session:
        rows = session.scalars(
            select(IdempotencyKey).where(IdempotencyKey.tenant_id == tenant.id)
        ).all()
        session.expunge_all()
        return list(rows)


def _v2_error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return dict(body["error"])


# ---- replay, mismatch, key syntax (v2) ------------------------------------------------------


def test_v2_replay_returns_the_first_answer_and_creates_nothing(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    email = _email()
    headers = {**tenant.headers(), "Idempotency-Key": _key()}
    first = http.post(USERS, json=_person(email), headers=headers)
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers

    again = http.post(USERS, json=_person(email), headers=headers)

    assert again.status_code == 201, again.text
    assert again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["etag"] == first.headers["etag"]
    assert _users_with_email(runtime, tenant, email) == 1


def test_v2_key_in_quotes_is_the_same_key(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    """The draft sends the key as a structured-field string ("..."); many clients send it
    bare. Both name one key."""
    key, email = _key(), _email()
    first = http.post(
        USERS, json=_person(email), headers={**tenant.headers(), "Idempotency-Key": f'"{key}"'}
    )
    assert first.status_code == 201, first.text
    again = http.post(
        USERS, json=_person(email), headers={**tenant.headers(), "Idempotency-Key": key}
    )
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    assert _users_with_email(runtime, tenant, email) == 1


def test_v2_same_key_with_another_body_is_422_and_writes_nothing(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    headers = {**tenant.headers(), "Idempotency-Key": _key()}
    assert http.post(USERS, json=_person(_email()), headers=headers).status_code == 201
    other = _email()

    err = _v2_error(http.post(USERS, json=_person(other), headers=headers), 422)

    assert err["code"] == "idempotency_key_reused"
    assert _users_with_email(runtime, tenant, other) == 0


def test_v2_same_key_on_another_path_is_422(http: TestClient, tenant: TenantHandle) -> None:
    headers = {**tenant.headers(), "Idempotency-Key": _key()}
    assert http.post(USERS, json=_person(_email()), headers=headers).status_code == 201
    r = http.post(f"{V2}/groups", json={"name": f"g-{secrets.token_hex(4)}"}, headers=headers)
    _v2_error(r, 422)


def test_v2_a_4xx_answer_is_replayed_too(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    """A completed answer below 500 is the answer to that request: a retry gets it again."""
    email = _email()
    tenant.user(email=email)
    headers = {**tenant.headers(), "Idempotency-Key": _key()}
    first = http.post(USERS, json=_person(email), headers=headers)
    _v2_error(first, 409)
    again = http.post(USERS, json=_person(email), headers=headers)
    assert again.status_code == 409 and again.headers[REPLAYED] == "true"
    assert again.json() == first.json()


@pytest.mark.parametrize("key", [b"", b"k" * 256, "caf\u00e9".encode(), b"tab\there"])
def test_v2_key_not_1_to_255_printable_ascii_is_400(
    http: TestClient, runtime: Runtime, tenant: TenantHandle, key: bytes
) -> None:
    email = _email()
    r = http.post(
        USERS,
        json=_person(email),
        headers=[*tenant.headers().items(), ("Idempotency-Key", key)],
    )
    err = _v2_error(r, 400)
    assert err["details"][0]["field"] == "Idempotency-Key"
    assert _users_with_email(runtime, tenant, email) == 0


def test_key_of_255_characters_is_taken(http: TestClient, tenant: TenantHandle) -> None:
    r = http.post(
        USERS, json=_person(_email()), headers={**tenant.headers(), "Idempotency-Key": "k" * 255}
    )
    assert r.status_code == 201, r.text


def test_keys_belong_to_their_credential(
    http: TestClient, runtime: Runtime, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    """Two clients of one tenant, and clients of two tenants, may send the same key."""
    key = _key()
    one, two = _email(), _email()
    r1 = http.post(USERS, json=_person(one), headers={**tenant.headers(), "Idempotency-Key": key})
    r2 = http.post(
        USERS,
        json=_person(two),
        headers={**tenant.headers("user:write"), "Idempotency-Key": key},
    )
    r3 = http.post(
        USERS, json=_person(one), headers={**other_tenant.headers(), "Idempotency-Key": key}
    )
    assert [r.status_code for r in (r1, r2, r3)] == [201, 201, 201]
    assert REPLAYED not in r2.headers and REPLAYED not in r3.headers
    assert _users_with_email(runtime, tenant, one) == 1
    assert _users_with_email(runtime, tenant, two) == 1
    assert _users_with_email(runtime, other_tenant, one) == 1


def test_requests_without_the_header_are_not_recorded(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    tenant.user()
    assert _rows(runtime, tenant) == []


# ---- failures free the key ------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [RuntimeError("the process fell over"), DomainError("an answered 500", code="internal")],
    ids=["exception", "answered-500"],
)
def test_a_5xx_is_not_stored_and_the_retry_runs(
    runtime: Runtime, tenant: TenantHandle, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    """Whether the request blew up (the 500 comes from the outermost handler) or a 500 was
    rendered as an answer, the key is freed and the retry does the work."""
    create = users_service.create_user
    calls = 0

    def crash_once(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise failure
        return create(*args, **kwargs)

    monkeypatch.setattr(users_service, "create_user", crash_once)
    email = _email()
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        headers = {**tenant.headers(), "Idempotency-Key": _key()}
        failed = client.post(USERS, json=_person(email), headers=headers)
        assert failed.status_code == 500, failed.text
        assert _rows(runtime, tenant) == []

        retried = client.post(USERS, json=_person(email), headers=headers)

    assert retried.status_code == 201, retried.text
    assert REPLAYED not in retried.headers
    assert calls == 2
    assert _users_with_email(runtime, tenant, email) == 1


def _claim_in_flight(
    runtime: Runtime, tenant: TenantHandle, actor: str, key: str, body: bytes, *, lease: timedelta
) -> None:
    """A claim of ``body`` POSTed to USERS, as a request that is still running (or died)
    leaves it."""
    scope = idempotency.Scope(tenant.id, actor, key)
    with runtime.db.writer.begin() as session:
        claimed = idempotency.claim(
            session,
            scope,
            idempotency.Request("POST", USERS, fingerprint("POST", USERS, "", body)),
            now=utcnow() - timedelta(seconds=1),
            ttl=timedelta(days=1),
            lease=lease,
        )
    assert isinstance(claimed, idempotency.Claim)


def _actor_of(http: TestClient, runtime: Runtime, tenant: TenantHandle) -> str:
    """The credential a key of ``tenant.headers()`` is recorded under."""
    key = _key()
    r = http.post(
        USERS, json=_person(_email()), headers={**tenant.headers(), "Idempotency-Key": key}
    )
    assert r.status_code == 201, r.text
    return next(row.actor for row in _rows(runtime, tenant) if row.key == key)


def test_a_key_in_flight_is_409_until_its_lease_runs_out(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    actor = _actor_of(http, runtime, tenant)
    running, dead = _key(), _key()
    email = _email()
    body = json.dumps(_person(email)).encode()
    _claim_in_flight(runtime, tenant, actor, running, body, lease=timedelta(minutes=5))
    # A process that crashed with the key in flight: its lease ended a moment ago.
    _claim_in_flight(runtime, tenant, actor, dead, body, lease=timedelta(milliseconds=1))
    json_headers = {**tenant.headers(), "Content-Type": "application/json"}

    busy = http.post(USERS, content=body, headers={**json_headers, "Idempotency-Key": running})
    err = _v2_error(busy, 409)
    assert err["code"] == "idempotency_key_in_progress"
    assert _users_with_email(runtime, tenant, email) == 0

    taken_over = http.post(USERS, content=body, headers={**json_headers, "Idempotency-Key": dead})
    assert taken_over.status_code == 201, taken_over.text
    again = http.post(USERS, content=body, headers={**json_headers, "Idempotency-Key": dead})
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    assert _users_with_email(runtime, tenant, email) == 1


# ---- expiry ---------------------------------------------------------------------------------


def _expire(runtime: Runtime, key: str) -> None:
    with runtime.db.writer.begin() as session:
        session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == key)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


def test_an_expired_key_is_a_new_key(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    key = _key()
    headers = {**tenant.headers(), "Idempotency-Key": key}
    assert http.post(USERS, json=_person(_email()), headers=headers).status_code == 201
    _expire(runtime, key)
    email = _email()
    r = http.post(USERS, json=_person(email), headers=headers)
    assert r.status_code == 201, r.text
    assert REPLAYED not in r.headers
    assert _users_with_email(runtime, tenant, email) == 1


def test_the_scheduler_purges_expired_keys_only(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    keys = [_key() for _ in range(3)]
    for key in keys:
        r = http.post(
            USERS, json=_person(_email()), headers={**tenant.headers(), "Idempotency-Key": key}
        )
        assert r.status_code == 201, r.text
    for key in keys[:2]:
        _expire(runtime, key)

    Scheduler(runtime.db).purge_idempotency_keys()

    assert [row.key for row in _rows(runtime, tenant)] == [keys[2]]


def test_purge_deletes_in_bounded_batches(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    keys = [_key() for _ in range(3)]
    for key in keys:
        r = http.post(
            USERS, json=_person(_email()), headers={**tenant.headers(), "Idempotency-Key": key}
        )
        assert r.status_code == 201, r.text
    # Far past every other test's keys too: each batch takes at most its limit.
    later = utcnow() + timedelta(days=30)
    with runtime.db.writer.begin() as session:
        assert idempotency_repo.purge_expired(session, later, 2) == 2


# ---- the other surfaces ---------------------------------------------------------------------


def test_api_v1_replay_and_mismatch(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    admin = make_admin(tenant)
    headers = {**admin.headers(http), "Idempotency-Key": _key()}
    email = _email()
    body = {"email": email, "password": PASSWORD}
    first = http.post("/api/v1/users", json=body, headers=headers)
    assert first.status_code == 201, first.text

    again = http.post("/api/v1/users", json=body, headers=headers)
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert _users_with_email(runtime, tenant, email) == 1

    other = http.post("/api/v1/users", json={**body, "email": _email()}, headers=headers)
    assert other.status_code == 422, other.text
    assert other.json()["error"]["status"] == 422  # /api/v1's own envelope


def test_api_v1_key_survives_a_new_login(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    """A key is the admin's, not the token's: a retry after logging in again replays."""
    admin = make_admin(tenant)
    key, email = _key(), _email()
    body = {"email": email, "password": PASSWORD}
    first = http.post(
        "/api/v1/users", json=body, headers={**admin.headers(http), "Idempotency-Key": key}
    )
    assert first.status_code == 201, first.text
    again = http.post(
        "/api/v1/users", json=body, headers={**admin.headers(http), "Idempotency-Key": key}
    )
    assert again.headers.get(REPLAYED) == "true"
    assert _users_with_email(runtime, tenant, email) == 1


def test_admin_users_replay_and_mismatch(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    api_key, _ = issue_api_key(tenant)
    headers = {**tenant.headers(), "x-api-key": api_key, "Idempotency-Key": _key()}
    email = _email()
    body = {"emailAddress": email, "firstName": "Ada", "lastName": "Lovelace"}
    first = http.post("/v1/seadminusers", json=body, headers=headers)
    assert first.status_code == 201, first.text

    again = http.post("/v1/seadminusers", json=body, headers=headers)
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert _users_with_email(runtime, tenant, email) == 1

    other = http.post("/v1/seadminusers", json={**body, "emailAddress": _email()}, headers=headers)
    assert other.status_code == 422, other.text
    assert set(other.json()) == {"status", "error", "message", "path"}  # ADMIN's envelope


def test_user_identities_replay_and_mismatch(
    http: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    api_key, _ = issue_api_key(tenant)
    headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": _key()}
    email = _email()
    first = http.post("/user_identities/create", json={"email_address": email}, headers=headers)
    assert first.status_code == 200, first.text

    again = http.post("/user_identities/create", json={"email_address": email}, headers=headers)
    assert again.status_code == 200 and again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert _users_with_email(runtime, tenant, email) == 1

    other = http.post("/user_identities/create", json={"email_address": _email()}, headers=headers)
    assert other.status_code == 422, other.text
    assert other.json()["ok"] is False  # the identities envelope
    assert other.json()["error"]["type"] == "idempotency_key_reused"


def test_user_identities_list_by_post_takes_a_key(http: TestClient, tenant: TenantHandle) -> None:
    """The list is a POST but a read: a key is accepted and the retry gets the same page."""
    api_key, _ = issue_api_key(tenant)
    headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": _key()}
    first = http.post("/user_identities/list", json={"limit": 10}, headers=headers)
    assert first.status_code == 200, first.text
    again = http.post("/user_identities/list", json={"limit": 10}, headers=headers)
    assert again.headers[REPLAYED] == "true" and again.json() == first.json()


# ---- concurrency, against a real server -----------------------------------------------------


@pytest.mark.live
def test_concurrent_duplicates_create_one_user(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    headers = {**tenant.headers(), "Idempotency-Key": _key()}
    email = _email()

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=live_server.base_url, timeout=60, limits=limits
        ) as client:
            return list(
                await asyncio.gather(
                    *(client.post(USERS, json=_person(email), headers=headers) for _ in range(16))
                )
            )

    responses = asyncio.run(burst())

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [(r.status_code, r.text) for r in responses]
    created = [r for r in responses if r.status_code == 201]
    assert len([r for r in created if REPLAYED not in r.headers]) == 1, statuses
    assert len({r.json()["id"] for r in created}) == 1
    for r in responses:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "idempotency_key_in_progress", r.text
    r = tenant.http.get(USERS, params={"email": email}, headers=tenant.headers())
    assert r.json()["totalCount"] == 1, r.text
    # Once the first has finished, a retry replays it.
    again = tenant.http.post(USERS, json=_person(email), headers=headers)
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    assert again.json()["id"] == created[0].json()["id"]


def test_state_column_values(runtime: Runtime, http: TestClient, tenant: TenantHandle) -> None:
    """A finished request leaves its key done, with no lease."""
    key = _key()
    r = http.post(
        USERS, json=_person(_email()), headers={**tenant.headers(), "Idempotency-Key": key}
    )
    assert r.status_code == 201, r.text
    (row,) = [row for row in _rows(runtime, tenant) if row.key == key]
    assert row.state == KeyState.done and row.lease_until is None
    assert row.status_code == 201 and row.method == "POST" and row.path == USERS
