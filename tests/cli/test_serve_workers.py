"""`rosterd serve --workers N`: several processes on one port and one store.

On PostgreSQL a real server with two workers is started on an empty store (the serve process
migrates it and makes the first tenant once), and requests are sent on connections whose
worker is known: each accepted connection's socket is found in a worker's open files through
/proc. On SQLite serve refuses more than one worker.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from rosterd.api import asgi
from rosterd.cli import main as cli_main
from rosterd.cli.server import serving as serve_command
from rosterd.config import Settings, get_settings
from rosterd.models import AuditEvent, OAuthClient, Tenant
from rosterd.runtime import BOOTSTRAP_FILE, Runtime, open_runtime
from rosterd.services import api_keys, bearer_secrets
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from tests.backends import postgres_url, redis_url, sqlite_url
from tests.conftest import UNREACHED_RATE_LIMITS, free_port
from tests.factories import TenantHandle, make_tenant

V2 = "/integration/v2"
ADMIN = "/v1/seadminusers"


def _store_env(data_dir: Path, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a `rosterd serve`: this one minus any ROSTERD_ variable, plus
    the store and ``settings`` (lower-case names, without the prefix)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTERD_")}
    env.update(
        {
            "ROSTERD_DATA_DIR": str(data_dir),
            "ROSTERD_DATABASE_URL": database_url,
            "ROSTERD_LOG_LEVEL": "warning",
            **{f"ROSTERD_{k.upper()}": v for k, v in UNREACHED_RATE_LIMITS.items()},
            **{f"ROSTERD_{k.upper()}": v for k, v in settings.items()},
        }
    )
    return env


@contextmanager
def serving(port: int, env: dict[str, str]) -> Iterator[str]:
    """`rosterd serve` on 127.0.0.1:``port`` until the block ends, in a process group of its
    own so that nothing it spawned outlives the test: its URL. Workers are fresh interpreters
    that each import rosterd, so on a busy machine starting takes a while."""
    rosterd = Path(sys.executable).with_name("rosterd")
    command = [str(rosterd), "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"rosterd did not start on {base}")
            time.sleep(0.2)
        yield base
        proc.terminate()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ---- which process holds a connection ------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(entry))
    return kids


def _server_socket_inode(server_port: int, client_port: int) -> str:
    """The inode of the server's end of the connection from ``client_port``."""
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return fields[9]
    raise AssertionError(f"no server socket for the connection from port {client_port}")


def _serve_process(port: int) -> int:
    """The process this test started that listens on ``port`` (its workers share the
    socket, but they are its children, not this test's)."""
    local = f"0100007F:{port:04X}"
    inodes = [
        fields[9]
        for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines())
        if fields[1] == local and fields[3] == "0A"
    ]
    assert len(inodes) == 1, f"not one socket listening on port {port}"
    return _holder(_children(os.getpid()), inodes[0])


def _holder(pids: list[int], inode: str) -> int:
    target = f"socket:[{inode}]"
    for pid in pids:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no worker holds socket {inode}")


@dataclass
class Node:
    """A `rosterd serve --workers 2` and the test's own runtime on its store."""

    base_url: str
    port: int
    pid: int
    runtime: Runtime
    data_dir: Path

    def connect(self) -> tuple[http.client.HTTPConnection, int]:
        """A new keep-alive connection, and the pid of the worker that accepted it."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        status, _ = request(conn, "GET", "/healthz")
        assert status == 200
        inode = _server_socket_inode(self.port, conn.sock.getsockname()[1])
        return conn, _holder(_children(self.pid), inode)

    def one_connection_per_worker(self) -> dict[int, http.client.HTTPConnection]:
        """Connections until each of the two workers holds one (they share the socket, so
        the one that accepts first takes a connection): a connection per worker pid."""
        by_worker: dict[int, http.client.HTTPConnection] = {}
        for _ in range(200):
            conn, pid = self.connect()
            by_worker.setdefault(pid, conn)
            if len(by_worker) == 2:
                return by_worker
        raise AssertionError(f"200 connections, all accepted by worker(s) {list(by_worker)}")


def request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    payload = response.read()
    return response.status, json.loads(payload) if payload else None


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """Two workers on an empty PostgreSQL store, the scheduler looking every second."""
    data_dir = tmp_path_factory.mktemp("workers")
    with postgres_url() as url:
        port = free_port()
        env = _store_env(data_dir, url, workers="2", scheduler_interval_seconds="1")
        with serving(port, env) as base:
            pid = _serve_process(port)
            settings = Settings(data_dir=data_dir, database_url=url)
            runtime = open_runtime(settings, create=False, bootstrap=False)
            try:
                yield Node(base, port, pid, runtime, data_dir)
            finally:
                runtime.close()


@pytest.fixture
def tenant(node: Node) -> Iterator[TenantHandle]:
    with httpx.Client(base_url=node.base_url, timeout=30) as client:
        yield make_tenant(node.runtime, client)


# ---- PostgreSQL: two workers --------------------------------------------------------------


@pytest.mark.live
def test_the_serve_process_made_the_first_tenant_once(node: Node) -> None:
    assert (node.data_dir / BOOTSTRAP_FILE).exists()
    with node.runtime.db.reader() as session:
        default = session.scalars(select(Tenant).where(Tenant.slug == "default")).one()
        clients = session.scalars(select(OAuthClient).where(OAuthClient.tenant_id == default.id))
        assert [c.name for c in clients] == ["bootstrap admin"]


@pytest.mark.live
def test_a_token_one_worker_issued_is_accepted_by_the_other(
    node: Node, tenant: TenantHandle
) -> None:
    (a, conn_a), (b, conn_b) = node.one_connection_per_worker().items()
    assert a != b
    for issuer, verifier in ((conn_a, conn_b), (conn_b, conn_a)):
        client_id, secret = tenant.client_credentials(["user:read"])
        form = {"grant_type": "client_credentials", "client_id": client_id}
        status, token = request(
            issuer,
            "POST",
            f"/tenants/{tenant.slug}/connect/token",
            body=urlencode({**form, "client_secret": secret}).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 200, token
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        status, page = request(verifier, "GET", f"{V2}/users?limit=1", headers=auth)
        assert status == 200, page


@pytest.mark.live
def test_concurrent_requests_are_served_by_both_workers(node: Node, tenant: TenantHandle) -> None:
    created = [tenant.user() for _ in range(4)]
    auth = tenant.headers()
    start = threading.Barrier(16)

    def client(_: int) -> list[tuple[int, int]]:
        start.wait(timeout=60)
        conn, pid = node.connect()
        seen = []
        for user in created:
            status, body = request(conn, "GET", f"{V2}/users/{user['id']}", headers=auth)
            seen.append((pid, status))
            assert body["id"] == user["id"]
        conn.close()
        return seen

    with ThreadPoolExecutor(16) as pool:
        results = [r for rs in pool.map(client, range(16)) for r in rs]
    assert {status for _, status in results} == {200}
    assert len(results) == 64
    assert len({pid for pid, _ in results}) == 2, "every request went to one worker"


def _admin_user(tenant: TenantHandle, api_key: str, expires: datetime) -> dict[str, Any]:
    n = secrets.token_hex(4)
    body = {
        "emailAddress": f"expiring-{n}@example.com",
        "firstName": "Ada",
        "lastName": f"Lovelace{n}",
        "expiredDate": expires.isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    headers = {**tenant.headers(), "x-api-key": api_key}
    r = tenant.http.post(ADMIN, json=body, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _api_key(tenant: TenantHandle) -> str:
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        actor = Actor(tenant_id=row.id, actor="test", surface="test")
        issued = bearer_secrets.create(
            session, api_keys.KIND, row, name="test", hmac_key=tenant.runtime.hmac_key, actor=actor
        )
        return issued.secret


@pytest.mark.live
def test_an_expiry_is_carried_out_once_by_two_nodes_of_two_workers(
    node: Node, tenant: TenantHandle, tmp_path: Path
) -> None:
    """Two serve processes (each with its scheduler) and four workers on one store: each
    expiry that comes deactivates its user once, with one audit event."""
    key = _api_key(tenant)
    port = free_port()
    env = _store_env(
        tmp_path,
        node.runtime.settings.resolved_database_url,
        workers="2",
        scheduler_interval_seconds="1",
    )
    # The second node shares the first one's secret key, as nodes of one deployment do.
    (tmp_path / "secret.key").write_bytes((node.data_dir / "secret.key").read_bytes())
    (tmp_path / "secret.key").chmod(0o600)
    with serving(port, env):
        when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=10)
        users = [_admin_user(tenant, key, when) for _ in range(6)]
        assert all(u["active"] for u in users)
        headers = {**tenant.headers(), "x-api-key": key}
        deadline = datetime.now(UTC) + timedelta(seconds=90)
        pending = {u["id"] for u in users}
        while pending and datetime.now(UTC) < deadline:
            for user_id in sorted(pending):
                r = tenant.http.get(f"{ADMIN}/{user_id}", headers=headers)
                assert r.status_code == 200, r.text
                if not r.json()["active"]:
                    pending.discard(user_id)
        assert not pending, f"users {pending} were not expired"
    tenant_id = uuid.UUID(str(tenant.id))
    with node.runtime.db.reader() as session:
        expired = session.scalars(
            select(AuditEvent.resource_id).where(
                AuditEvent.tenant_id == tenant_id, AuditEvent.action == "user.expired"
            )
        ).all()
    assert len(expired) == len(users)
    assert len(set(expired)) == len(users)


# ---- the serve command itself, in-process (uvicorn.run replaced) --------------------------


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No ROSTERD_ variable and no ./.env; what serve puts in the environment is undone."""
    for name in list(os.environ):
        if name.startswith("ROSTERD_"):
            monkeypatch.delenv(name)
    for name in ("ROSTERD_DATA_DIR", "ROSTERD_DATABASE_URL", "ROSTERD_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    get_settings.cache_clear()
    return CliRunner().invoke(cli_main.app, list(args), env={"COLUMNS": "200", **(env or {})})


@pytest.mark.parametrize("how", ["option", "environment"])
def test_serve_refuses_several_workers_on_sqlite(clean_env: Path, how: str) -> None:
    with sqlite_url(clean_env) as url:
        store = ["--data-dir", str(clean_env / "data"), "--database-url", url]
        if how == "option":
            result = _invoke("serve", *store, "--workers", "2")
        else:
            result = _invoke("serve", *store, env={"ROSTERD_WORKERS": "2"})
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert "--workers 2 needs PostgreSQL" in result.stderr
    assert "Traceback" not in result.output
    # Refused before anything was made.
    assert not (clean_env / "rosterd.db").exists()
    assert not (clean_env / "data").exists()


def test_serve_help_says_what_several_workers_need() -> None:
    result = _invoke("serve", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "--workers" in text
    assert "More than one needs PostgreSQL" in text
    assert "counted per worker" in text


@dataclass
class Started:
    app: Any
    options: dict[str, Any]
    threads: list[str]
    environment: dict[str, str]


def _serve_without_listening(
    monkeypatch: pytest.MonkeyPatch, *args: str, env: dict[str, str]
) -> tuple[Any, list[Started]]:
    """Run `rosterd serve` with uvicorn.run recording what it was given, and, for a factory,
    building the app as a worker would (in this process, from the environment)."""
    import uvicorn

    started: list[Started] = []

    def run(app: Any, **options: Any) -> None:
        environment = {k: v for k, v in os.environ.items() if k.startswith("ROSTERD_")}
        threads = [t.name for t in threading.enumerate()]
        if isinstance(app, str):
            get_settings.cache_clear()
            before = {t.name for t in threading.enumerate()}
            with TestClient(asgi.create()) as client:
                assert client.get("/readyz").status_code == 200
                made = {t.name for t in threading.enumerate()} - before
            threads = sorted(made)
        started.append(Started(app, options, threads, environment))

    monkeypatch.setattr(uvicorn, "run", run)
    return _invoke(*args, env=env), started


def test_several_workers_on_postgresql_load_the_factory_and_warn_of_per_worker_limits(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with postgres_url() as url:
        store = ["--data-dir", str(clean_env / "data"), "--database-url", url]
        result, started = _serve_without_listening(
            monkeypatch, "serve", *store, "--workers", "3", env={}
        )
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    [run] = started
    assert run.app == serve_command.ASGI_FACTORY
    assert run.options["factory"] is True
    assert run.options["workers"] == 3
    # The workers find the store named on the command line in their environment.
    assert run.environment["ROSTERD_DATABASE_URL"] == url
    assert run.environment["ROSTERD_DATA_DIR"] == str((clean_env / "data").resolve())
    assert run.environment["ROSTERD_PUBLIC_URL"] == "http://127.0.0.1:8080"
    # A worker's app starts no scheduler: the serve process runs the only one.
    assert not any("scheduler" in name for name in run.threads), run.threads
    warning = " ".join(result.stderr.split())
    assert "counted in each worker's memory: with 3 workers" in warning
    assert "ROSTERD_RATE_LIMIT_STORAGE=redis://" in warning


def test_several_workers_sharing_limits_in_redis_are_not_warned(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    redis = redis_url()
    with postgres_url() as url:
        store = ["--data-dir", str(clean_env / "data"), "--database-url", url]
        env = {"ROSTERD_WORKERS": "2", "ROSTERD_RATE_LIMIT_STORAGE": redis}
        result, started = _serve_without_listening(monkeypatch, "serve", *store, env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert [s.options["workers"] for s in started] == [2]
    assert "warning" not in result.stderr


def test_one_worker_serves_the_app_of_the_serve_process_beside_its_scheduler(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sqlite_url(clean_env) as url:
        store = ["--data-dir", str(clean_env / "data"), "--database-url", url]
        result, started = _serve_without_listening(monkeypatch, "serve", *store, env={})
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    [run] = started
    assert not isinstance(run.app, str)
    assert "workers" not in run.options
    assert "rosterd-scheduler" in run.threads
    # SQLite's search index is brought up to date beside them (rosterd.lifecycle.search_indexer).
    assert "rosterd-indexer" in run.threads
    assert "warning" not in result.stderr


@pytest.mark.parametrize(
    ("level", "logged"),
    [("info", True), ("debug", True), ("trace", True), ("warning", False), ("ERROR", False)],
)
def test_serve_logs_each_request_only_at_info_and_below(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, level: str, logged: bool
) -> None:
    """uvicorn's access lines are INFO: above it serve turns them off rather than have
    uvicorn format each one only to drop it."""
    with sqlite_url(clean_env) as url:
        store = ["--data-dir", str(clean_env / "data"), "--database-url", url]
        env = {"ROSTERD_LOG_LEVEL": level}
        result, started = _serve_without_listening(monkeypatch, "serve", *store, env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    [run] = started
    assert run.options["log_level"] == level
    assert run.options["access_log"] is logged


def test_serve_on_postgresql_runs_no_search_indexer(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL maintains its trigram indexes itself."""
    with postgres_url() as url:
        store = ["--data-dir", str(clean_env / "data"), "--database-url", url]
        result, started = _serve_without_listening(monkeypatch, "serve", *store, env={})
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    [run] = started
    assert "rosterd-scheduler" in run.threads
    assert "rosterd-indexer" not in run.threads


@pytest.mark.live
def test_scheduled_access_is_carried_out_once_by_two_nodes(
    node: Node, tenant: TenantHandle, tmp_path: Path
) -> None:
    """v2 users starting and ending a few seconds ahead, and memberships ending, on two
    serve processes (each with its scheduler) sharing one store: each activation, expiry and
    membership removal happens once, with one audit event and one event in the feed."""
    port = free_port()
    env = _store_env(
        tmp_path,
        node.runtime.settings.resolved_database_url,
        workers="2",
        scheduler_interval_seconds="1",
    )
    (tmp_path / "secret.key").write_bytes((node.data_dir / "secret.key").read_bytes())
    (tmp_path / "secret.key").chmod(0o600)
    headers = tenant.headers()

    def wire(moment: datetime) -> str:
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = tenant.http.post(f"{V2}{path}", json=body, headers=headers)
        assert r.status_code == 201, r.text
        return dict(r.json())

    with serving(port, env):
        now = datetime.now(UTC).replace(microsecond=0)
        start, end = now + timedelta(seconds=8), now + timedelta(seconds=16)
        group = post("/groups", {"name": f"g-{secrets.token_hex(4)}"})["id"]
        users = []
        for _ in range(4):
            n = secrets.token_hex(4)
            body = {"email": f"s-{n}@example.com", "firstName": "S", "lastName": n}
            user = post("/users", {**body, "validFrom": wire(start), "expiresAt": wire(end)})
            assert user["status"] == "pending"
            post(f"/groups/{group}/members", {"userId": user["id"], "expiresAt": wire(start)})
            users.append(user["id"])
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            statuses = {
                tenant.http.get(f"{V2}/users/{u}", headers=headers).json()["status"] for u in users
            }
            listed = tenant.http.get(f"{V2}/groups/{group}/members", headers=headers).json()
            if statuses == {"inactive"} and listed["totalCount"] == 0:
                break
            time.sleep(0.5)
        assert statuses == {"inactive"} and listed["totalCount"] == 0, (statuses, listed)
    tenant_id = uuid.UUID(str(tenant.id))
    with node.runtime.db.reader() as session:
        done = session.execute(
            select(AuditEvent.action, AuditEvent.resource_id, AuditEvent.before).where(
                AuditEvent.tenant_id == tenant_id,
                AuditEvent.action.in_(["user.activated", "user.expired", "group.member_expired"]),
            )
        ).all()
    assert sorted(r for a, r, _ in done if a == "user.activated") == sorted(users)
    assert sorted(r for a, r, _ in done if a == "user.expired") == sorted(users)
    removed = [b["user_id"] for a, _, b in done if a == "group.member_expired"]
    assert sorted(removed) == sorted(users)
    # The feed holds events back while any transaction older than theirs is open on the
    # server (rosterd.events.feed), and this PostgreSQL is shared: it may take a moment.
    wanted = {"types": "user.activated,user.deactivated,group.member.removed", "limit": 100}
    deadline = time.monotonic() + 60
    while True:
        r = tenant.http.get(f"{V2}/events", params=wanted, headers=headers)
        assert r.status_code == 200, r.text
        feed = r.json()["events"]
        if len(feed) >= 12 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert Counter(e["type"] for e in feed) == {
        "user.activated": 4,
        "user.deactivated": 4,
        "group.member.removed": 4,
    }


@pytest.mark.parametrize(
    ("args", "env", "public_url"),
    [
        (["--port", "9123"], {}, "http://127.0.0.1:9123"),
        (["--host", "0.0.0.0", "--port", "9124"], {}, "http://127.0.0.1:9124"),  # noqa: S104
        (["--host", "::1", "--port", "9125"], {}, "http://[::1]:9125"),
        (["--port", "9126"], {"ROSTERD_PUBLIC_URL": "https://dir.example"}, "https://dir.example"),
    ],
    ids=["port", "all-interfaces", "ipv6", "set-explicitly"],
)
def test_serve_is_its_own_public_url_unless_one_is_set(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    public_url: str,
) -> None:
    """Tokens' issuer, SCIM locations and the first-start message name the port serve
    listens on, not the default's 8080; ROSTERD_PUBLIC_URL (a proxy's address) wins."""
    with sqlite_url(clean_env) as url:
        store = ["--data-dir", str(clean_env / "data"), "--database-url", url]
        result, started = _serve_without_listening(monkeypatch, "serve", *store, *args, env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    [run] = started
    assert run.app.state.runtime.settings.public_url == public_url
    assert f"{public_url}/admin/" in "".join(result.stderr.split())
