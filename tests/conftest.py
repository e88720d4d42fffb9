"""Every test that touches the store runs once on SQLite and once on PostgreSQL.

Tests share one store per backend and stay apart by tenant: each test gets a tenant of its
own, which is also how rosterd keeps its customers apart.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from rosterd.api.app import create_app
from rosterd.config import Settings
from rosterd.runtime import Runtime, open_runtime
from tests.backends import database_url
from tests.factories import TenantHandle, make_tenant

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def db_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with database_url(backend, tmp_path_factory.mktemp(f"db-{backend}")) as url:
        yield url


# The suite's bursts (100 parallel requests with one credential, conformance suites,
# schemathesis, hundreds of deliberate 401s from one address) are not about rate limits, so
# its apps and servers limit with figures those never reach; the limiter still runs and
# writes its fields on every response. tests/api/ratelimit sets small ones.
UNREACHED_RATE_LIMITS = {
    f"rate_limit_{name}": "1000000/second"
    for name in ("per_credential", "per_tenant", "unauthenticated_per_ip", "token_endpoint")
}


@pytest.fixture(scope="session")
def settings(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=db_url,
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key="test-secret-key",
        public_url="http://testserver",
        rate_limit_storage="memory://",
        **UNREACHED_RATE_LIMITS,
    )


@pytest.fixture(scope="session")
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = open_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture(scope="session")
def http(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


@pytest.fixture
def tenant(runtime: Runtime, http: TestClient) -> TenantHandle:
    return make_tenant(runtime, http)


@pytest.fixture
def other_tenant(runtime: Runtime, http: TestClient) -> TenantHandle:
    return make_tenant(runtime, http)


# ---- a real server on 127.0.0.1, for conformance suites ------------------------------------


@dataclass
class LiveServer:
    base_url: str
    settings: Settings
    runtime: Runtime

    def tenant(self) -> TenantHandle:
        """A fresh tenant whose tokens come from the live server itself."""
        return make_tenant(self.runtime, httpx.Client(base_url=self.base_url, timeout=30))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(settings: Settings, public_url: str) -> dict[str, str]:
    """The environment of a `rosterd serve` over the suite's store."""
    return {
        **os.environ,
        "ROSTERD_DATABASE_URL": settings.resolved_database_url,
        "ROSTERD_DATA_DIR": str(settings.data_dir),
        "ROSTERD_SECRET_KEY": settings.secret_key or "",
        "ROSTERD_PUBLIC_URL": public_url,
        "ROSTERD_LOG_LEVEL": "warning",
        "ROSTERD_RATE_LIMIT_STORAGE": settings.rate_limit_storage,
        **{f"ROSTERD_{name.upper()}": value for name, value in UNREACHED_RATE_LIMITS.items()},
    }


@contextmanager
def serving(port: int, env: dict[str, str]) -> Iterator[str]:
    """`rosterd serve` on 127.0.0.1:``port`` with ``env``, until the block ends: its URL."""
    rosterd = Path(sys.executable).with_name("rosterd")
    proc = subprocess.Popen(
        [str(rosterd), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env
    )
    base = f"http://127.0.0.1:{port}"
    # Generous: on a loaded 2-core machine a start (imports, migration check) has taken
    # over 30 s.
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"rosterd on {base} exited with {proc.returncode} before it was ready")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"rosterd did not answer on {base} within 90 s")
        time.sleep(0.1)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def live_server(settings: Settings, runtime: Runtime) -> Iterator[LiveServer]:
    port = free_port()
    with serving(port, server_env(settings, f"http://127.0.0.1:{port}")) as base:
        yield LiveServer(base_url=base, settings=settings, runtime=runtime)
