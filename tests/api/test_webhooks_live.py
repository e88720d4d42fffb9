"""Webhooks from a running `rosterd serve` to a receiver on 127.0.0.1.

A user made through each of the five APIs arrives signed; a receiver down for a while gets
every event once it is back (none twice in the delivery log's success state); two server
processes on one PostgreSQL store deliver each event once; a server killed (SIGKILL) after
its changes committed and before it delivered them loses none of them.

Each test's servers run on a store of their own, so no other server's deliverer takes part.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rosterd.config import Settings
from rosterd.runtime import Runtime, open_runtime
from rosterd.services import admins as admins_service
from rosterd.services import api_keys, bearer_secrets
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from tests.backends import database_url
from tests.conftest import free_port, server_env
from tests.factories import V2, TenantHandle, make_tenant
from tests.receiver import Receiver, receiving

HOOKS = f"{V2}/webhooks"
FAST = {
    "ROSTERD_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
    "ROSTERD_WEBHOOK_POLL_SECONDS": "0.1",
    "ROSTERD_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "ROSTERD_WEBHOOK_RETRY_MAX_SECONDS": "1",
    "ROSTERD_WEBHOOK_TIMEOUT_SECONDS": "2",
}


@dataclass
class Store:
    settings: Settings
    runtime: Runtime

    def env(self, port: int, **extra: str) -> dict[str, str]:
        return {**server_env(self.settings, f"http://127.0.0.1:{port}"), **FAST, **extra}


@pytest.fixture
def store(backend: str, settings: Settings, tmp_path: Path) -> Iterator[Store]:
    with database_url(backend, tmp_path) as url:
        own = settings.model_copy(update={"database_url": url, "data_dir": tmp_path})
        runtime = open_runtime(own)
        try:
            yield Store(own, runtime)
        finally:
            runtime.close()


def start(
    store: Store, log: Path | None = None, **extra: str
) -> tuple[subprocess.Popen[bytes], str]:
    """`rosterd serve` on the store, once it answers: the process and its URL. With
    ``log``, its output goes to that file."""
    port = free_port()
    rosterd = Path(sys.executable).with_name("rosterd")
    out = None if log is None else log.open("wb")
    proc = subprocess.Popen(
        [str(rosterd), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=store.env(port, **extra),
        stdout=out,
        stderr=out,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"rosterd on {base} did not start")
        time.sleep(0.1)


@contextmanager
def server(store: Store, log: Path | None = None, **extra: str) -> Iterator[str]:
    proc, base = start(store, log, **extra)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def tenant_on(store: Store, base: str) -> TenantHandle:
    return make_tenant(store.runtime, httpx.Client(base_url=base, timeout=30))


def subscribe(tenant: TenantHandle, url: str, types: list[str]) -> dict[str, Any]:
    r = tenant.http.post(HOOKS, json={"url": url, "eventTypes": types}, headers=tenant.headers())
    assert r.status_code == 201, r.text
    return dict(r.json())


def wait_for_subjects(
    receiver: Receiver, secret: str, subjects: set[str], seconds: float = 90
) -> list[dict[str, Any]]:
    receiver.wait_for(
        lambda got: subjects <= {r.verified(secret)["subject"] for r in got}, timeout=seconds
    )
    return receiver.events(secret)


def delivery_log(tenant: TenantHandle, hook_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        r = tenant.http.get(
            f"{HOOKS}/{hook_id}/deliveries", params=params, headers=tenant.headers()
        )
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["nextCursor"]
        if cursor is None:
            return items


def create_users(tenant: TenantHandle, n: int) -> list[str]:
    return [str(tenant.user()["id"]) for _ in range(n)]


# ---- a user made through each API -----------------------------------------------------------


def _five_creators(tenant: TenantHandle) -> dict[str, Callable[[str], str]]:
    http = tenant.http
    username, password = f"admin-{secrets.token_hex(4)}", "correct horse battery staple"
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        actor = Actor(tenant_id=row.id, actor="test", surface="test")
        admins_service.create_admin(session, row, username=username, password=password, actor=actor)
        api_key = bearer_secrets.create(
            session, api_keys.KIND, row, name="five", hmac_key=tenant.runtime.hmac_key, actor=actor
        ).secret
    r = http.post("/api/v1/authentication/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    v1 = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def v2(email: str) -> str:
        body = {"email": email, "firstName": "V", "lastName": "Two"}
        r = http.post(f"{V2}/users", json=body, headers=tenant.headers())
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def scim(email: str) -> str:
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": email,
            "emails": [{"value": email, "primary": True}],
            "active": True,
        }
        r = http.post("/scim/v2/Users", json=body, headers=tenant.scim_headers())
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def api_v1(email: str) -> str:
        body = {"email": email, "firstName": "V", "lastName": "One", "password": "long password 1"}
        r = http.post("/api/v1/users", json=body, headers=v1)
        assert r.status_code == 201, r.text
        return str(r.json()["_id"])

    def admin(email: str) -> str:
        body = {"emailAddress": email, "firstName": "Ad", "lastName": "Min"}
        r = http.post(
            "/v1/seadminusers", json=body, headers={**tenant.headers(), "x-api-key": api_key}
        )
        assert r.status_code == 201, r.text
        r = http.get(f"{V2}/users", params={"email": email}, headers=tenant.headers())
        (user,) = r.json()["items"]
        return str(user["id"])

    def identities(email: str) -> str:
        body = {"email_address": email, "full_name": "Iden Tity"}
        r = http.post(
            "/user_identities/create", json=body, headers={"Authorization": f"Bearer {api_key}"}
        )
        assert r.status_code == 200, r.text
        return str(r.json()["user_identity"]["user_identity_id"])

    return {"v2": v2, "scim": scim, "api_v1": api_v1, "admin_users": admin, "ids": identities}


def test_a_user_made_through_each_api_arrives_signed(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with server(store, log, ROSTERD_LOG_LEVEL="debug") as base, receiving() as receiver:
        tenant = tenant_on(store, base)
        hook = subscribe(tenant, receiver.url, ["user.created"])
        made = {
            api: create(f"{api.replace('_', '')}.{secrets.token_hex(3)}@example.com")
            for api, create in _five_creators(tenant).items()
        }
        events = wait_for_subjects(receiver, hook["secret"], set(made.values()))
    by_subject = {e["subject"]: e for e in events}
    assert len(events) == 5
    surfaces = {api: by_subject[user_id]["data"]["surface"] for api, user_id in made.items()}
    assert surfaces == {
        "v2": "v2",
        "scim": "scim",
        "api_v1": "api_v1",
        "admin_users": "admin_users",
        "ids": "user_identities",
    }
    assert all(e["type"] == "user.created" for e in events)
    for got in receiver.received:
        assert got.headers["webhook-id"].startswith("msg_")
        assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 120
    # The server logged (at debug level) and its log holds no trace of the secret.
    logged = log.read_text()
    assert "POST /integration/v2/webhooks" in logged
    assert hook["secret"].removeprefix("whsec_")[:16] not in logged


def test_a_receiver_down_for_a_while_gets_every_event_once_back(store: Store) -> None:
    up = False
    with server(store) as base, receiving(status=lambda: 200 if up else 503) as receiver:
        tenant = tenant_on(store, base)
        hook = subscribe(tenant, receiver.url, ["user.created"])
        users = create_users(tenant, 20)
        # Down: every delivery fails at least once, and is waiting to be retried.
        deadline = time.monotonic() + 60
        while True:
            log = delivery_log(tenant, hook["id"])
            if len(log) == 20 and all(d["attempts"] >= 2 for d in log):
                break
            assert time.monotonic() < deadline, log
            time.sleep(0.2)
        assert {d["status"] for d in log} == {"pending"}
        assert {d["responseCode"] for d in log} == {503}
        assert receiver.received == []
        up = True
        events = wait_for_subjects(receiver, hook["secret"], set(users))
        assert sorted(e["subject"] for e in events) == sorted(users)  # each once
        deadline = time.monotonic() + 30
        while True:
            log = delivery_log(tenant, hook["id"])
            if {d["status"] for d in log} == {"succeeded"}:
                break
            assert time.monotonic() < deadline, log
            time.sleep(0.2)
    succeeded = Counter(d["eventId"] for d in log if d["status"] == "succeeded")
    assert len(succeeded) == 20 and set(succeeded.values()) == {1}


def test_two_server_processes_on_one_postgresql_deliver_each_event_once(
    backend: str, store: Store
) -> None:
    if backend != "postgresql":
        pytest.skip("several processes serve one store on PostgreSQL only")
    with (
        server(store) as first,
        server(store) as second,
        receiving() as one,
        receiving() as other,
    ):
        tenants = [tenant_on(store, first), tenant_on(store, second)]
        receivers = [one, other]
        hooks = [
            subscribe(t, r.url, ["user.created"]) for t, r in zip(tenants, receivers, strict=True)
        ]
        users = [create_users(t, 30) for t in tenants]
        for hook, made, receiver in zip(hooks, users, receivers, strict=True):
            wait_for_subjects(receiver, hook["secret"], set(made))
        time.sleep(2)  # a second delivery of anything would have come by now
        for tenant, hook, receiver in zip(tenants, hooks, receivers, strict=True):
            ids = Counter(r.headers["webhook-id"] for r in receiver.received)
            assert len(ids) == 30 and set(ids.values()) == {1}
            log = delivery_log(tenant, hook["id"])
            assert len(log) == 30 and {d["status"] for d in log} == {"succeeded"}
            assert {d["attempts"] for d in log} == {1}


def test_a_server_killed_after_commit_before_delivery_loses_nothing(store: Store) -> None:
    with receiving() as receiver:
        # A deliverer that would first run a minute after start: none of its changes has
        # been delivered when it is killed.
        proc, base = start(store, ROSTERD_WEBHOOK_POLL_SECONDS="60")
        try:
            tenant = tenant_on(store, base)
            hook = subscribe(tenant, receiver.url, ["user.created"])
            users = create_users(tenant, 10)
        finally:
            proc.kill()  # SIGKILL: no shutdown of any kind
            proc.wait(timeout=30)
        assert receiver.received == []
        with server(store) as again:
            tenant.http = httpx.Client(base_url=again, timeout=30)
            events = wait_for_subjects(receiver, hook["secret"], set(users))
        assert sorted(e["subject"] for e in events) == sorted(users)


def test_a_server_killed_while_sending_leaves_the_delivery_to_another(store: Store) -> None:
    """Killed with a delivery claimed and its request under way: the claim runs out (twice
    the timeout plus 5 s) and another server sends it."""
    hang = True

    def status() -> int:
        while hang:
            time.sleep(0.05)
        return 200

    with receiving(status=status) as receiver:
        proc, base = start(store)
        try:
            tenant = tenant_on(store, base)
            hook = subscribe(tenant, receiver.url, ["user.created"])
            (user,) = create_users(tenant, 1)
            deadline = time.monotonic() + 60
            while not (log := delivery_log(tenant, hook["id"])) or log[0]["attempts"] < 1:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        finally:
            proc.kill()
            proc.wait(timeout=30)
        hang = False
        with server(store) as again:
            tenant.http = httpx.Client(base_url=again, timeout=30)
            # The receiver may also have taken the first attempt, whose sender died before
            # reading the answer: at least once.
            events = wait_for_subjects(receiver, hook["secret"], {user}, seconds=60)
            deadline = time.monotonic() + 30
            while (log := delivery_log(tenant, hook["id"]))[0]["status"] != "succeeded":
                assert time.monotonic() < deadline, log
                time.sleep(0.2)
        assert {e["subject"] for e in events} == {user}
        assert {e["id"] for e in events} == {log[0]["eventId"]}
        assert log[0]["attempts"] == 2
