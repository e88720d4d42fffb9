"""Several rosterd nodes on one store: each trusts the tokens the others sign.

Each test runs two nodes on an empty store of its own, on SQLite and on PostgreSQL: two
``rosterd serve`` processes, or two Runtimes in this process (each with its own app, data
directory and key ring, as two processes have) where the test needs to reach inside.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

from rosterd.api.app import create_app
from rosterd.config import Settings
from rosterd.runtime import BOOTSTRAP_FILE, Runtime, open_runtime
from tests.backends import database_url
from tests.conftest import LiveServer
from tests.factories import V2, TenantHandle, make_tenant

REFRESH = 0.5
ROTATE = "/admin/api/signing-keys/rotate"


@dataclass
class Node:
    runtime: Runtime
    http: TestClient

    def token(self, client: tuple[str, str], slug: str) -> str:
        r = self.http.post(
            f"/tenants/{slug}/connect/token",
            data={"grant_type": "client_credentials"},
            auth=client,
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def accepts(self, token: str) -> bool:
        r = self.http.get(f"{V2}/users", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code in (200, 401), r.text
        return r.status_code == 200

    def jwks_kids(self, slug: str) -> set[str]:
        r = self.http.get(f"/tenants/{slug}/.well-known/jwks.json")
        assert r.status_code == 200, r.text
        return {k["kid"] for k in r.json()["keys"]}


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _settings(url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data_dir,
        secret_key="shared-test-secret",
        public_url="http://testserver",
        signing_key_refresh_seconds=REFRESH,
    )


@contextmanager
def _nodes(backend: str, tmp_path: Path) -> Iterator[list[Node]]:
    """Two nodes in this process on an empty store."""
    with database_url(backend, tmp_path) as url, ExitStack() as stack:
        nodes = []
        for n in (1, 2):
            runtime = open_runtime(_settings(url, tmp_path / f"node{n}"))
            stack.callback(runtime.close)
            nodes.append(Node(runtime, stack.enter_context(TestClient(create_app(runtime)))))
        yield nodes


def _client(node: Node, slug: str, scopes: list[str]) -> tuple[str, str]:
    handle = TenantHandle(runtime=node.runtime, http=node.http, slug=slug, id=None)
    return handle.client_credentials(scopes)


@dataclass
class Server:
    """A ``rosterd serve`` process."""

    base_url: str
    data_dir: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _servers(url: str, data_dirs: list[Path]) -> Iterator[list[Server]]:
    """One ``rosterd serve`` per data directory on the store at ``url``, all started at
    once; yields when every one answers /readyz."""
    procs, servers = [], []
    for data_dir in data_dirs:
        port = _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ROSTERD_")},
            "ROSTERD_DATABASE_URL": url,
            "ROSTERD_DATA_DIR": str(data_dir),
            "ROSTERD_SECRET_KEY": "shared-test-secret",
            "ROSTERD_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "ROSTERD_SIGNING_KEY_REFRESH_SECONDS": str(REFRESH),
            "ROSTERD_LOG_LEVEL": "warning",
        }
        rosterd = Path(sys.executable).with_name("rosterd")
        procs.append(
            subprocess.Popen(
                [str(rosterd), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env
            )
        )
        servers.append(Server(f"http://127.0.0.1:{port}", data_dir))
    try:
        deadline = time.monotonic() + 180  # both migrate and start on a shared, loaded host
        for proc, server in zip(procs, servers, strict=True):
            while True:
                try:
                    if httpx.get(f"{server.base_url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"rosterd did not start on {server.base_url}")
                time.sleep(0.1)
        yield servers
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


@pytest.mark.live
def test_two_nodes_started_together_on_an_empty_store_trust_each_others_tokens(
    backend: str, tmp_path: Path
) -> None:
    with (
        database_url(backend, tmp_path) as url,
        _servers(url, [tmp_path / "node1", tmp_path / "node2"]) as (a, b),
    ):
        # One of them made the default tenant and its bootstrap client; neither failed.
        made = [s.data_dir / BOOTSTRAP_FILE for s in (a, b)]
        made = [path for path in made if path.exists()]
        assert len(made) == 1
        creds = json.loads(made[0].read_text())
        client = (creds["client_id"], creds["client_secret"])

        # Both sign for that tenant at the same moment, each perhaps making its first key.
        def token_from(server: Server) -> str:
            r = httpx.post(
                f"{server.base_url}/tenants/default/connect/token",
                data={"grant_type": "client_credentials"},
                auth=client,
                timeout=60,
            )
            assert r.status_code == 200, r.text
            return str(r.json()["access_token"])

        with ThreadPoolExecutor(2) as pool:
            tokens = list(pool.map(token_from, (a, b)))
        for token in tokens:
            for server in (a, b):
                r = httpx.get(
                    f"{server.base_url}{V2}/users",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=60,
                )
                assert r.status_code == 200, (server.base_url, r.text)
        jwks = [
            {
                k["kid"]
                for k in httpx.get(f"{s.base_url}/tenants/default/.well-known/jwks.json").json()[
                    "keys"
                ]
            }
            for s in (a, b)
        ]
        assert {_kid(t) for t in tokens} <= jwks[0] == jwks[1]


def test_a_key_rotated_on_one_node_is_trusted_and_used_by_the_other(
    backend: str, tmp_path: Path
) -> None:
    with _nodes(backend, tmp_path) as (a, b):
        tenant = make_tenant(a.runtime, a.http)
        client = _client(a, tenant.slug, ["user:read"])
        admin = a.token(_client(a, tenant.slug, ["admin"]), tenant.slug)
        first = b.token(client, tenant.slug)
        assert a.accepts(first)

        # Rotated through node A: A signs with the new key, and B accepts it at once.
        r = a.http.post(
            "/admin/api/signing-keys/rotate", headers={"Authorization": f"Bearer {admin}"}
        )
        assert r.status_code == 201, r.text
        second_kid = r.json()["kid"]
        from_a = a.token(client, tenant.slug)
        assert _kid(from_a) == second_kid
        assert b.accepts(from_a)
        assert b.accepts(first)  # the retired key still verifies
        assert second_kid in b.jwks_kids(tenant.slug)

        # Rotated again; B has seen no token of the newest key, and signs with it after
        # its refresh interval.
        r = a.http.post(
            "/admin/api/signing-keys/rotate", headers={"Authorization": f"Bearer {admin}"}
        )
        assert r.status_code == 201, r.text
        third_kid = r.json()["kid"]
        time.sleep(REFRESH)
        from_b = b.token(client, tenant.slug)
        assert _kid(from_b) == third_kid
        assert a.accepts(from_b)
        assert a.accepts(first) and b.accepts(from_a)


@pytest.mark.live
def test_first_tokens_of_many_tenants_at_once_beside_writes(live_server: LiveServer) -> None:
    """Making a tenant's first key takes a write transaction of its own while other
    requests write: on SQLite (one writer connection) no request may wait on itself."""
    tenants = [live_server.tenant() for _ in range(6)]
    writers = [live_server.tenant() for _ in range(3)]
    write_headers = [w.headers("user:write") for w in writers]  # keys made before the burst
    clients = [t.client_credentials(["user:read", "user:write"]) for t in tenants]

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=live_server.base_url, timeout=60) as http:
            token_requests = [
                http.post(
                    f"/tenants/{t.slug}/connect/token",
                    data={"grant_type": "client_credentials"},
                    auth=c,
                )
                for t, c in zip(tenants, clients, strict=True)
            ]
            writes = [
                http.post(
                    f"{V2}/users",
                    json={"email": f"w{n}@example.com", "firstName": "W", "lastName": "R"},
                    headers=h,
                )
                for n, h in enumerate(write_headers)
            ]
            return list(await asyncio.gather(*token_requests, *writes))

    responses = asyncio.run(burst())
    statuses = [r.status_code for r in responses]
    assert statuses == [200] * len(tenants) + [201] * len(writers), [r.text for r in responses]
    kids = {_kid(r.json()["access_token"]) for r in responses[: len(tenants)]}
    assert len(kids) == len(tenants)
