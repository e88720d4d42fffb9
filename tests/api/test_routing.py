"""The request's unit of work: committed when the endpoint returns, rolled back when it fails."""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, model_validator
from sqlalchemy import text

from rosterd.api.app import create_app
from rosterd.api.deps import WriteSession
from rosterd.api.routing import api_router
from rosterd.models import Group
from rosterd.runtime import Runtime
from tests.factories import TenantHandle


@pytest.fixture
def probe(runtime: Runtime) -> Iterator[tuple[TestClient, str]]:
    table = f"routing_probe_{secrets.token_hex(4)}"
    with runtime.db.writer.begin() as session:
        session.execute(text(f"CREATE TABLE {table} (n VARCHAR(20))"))
    router = api_router()

    @router.post("/sync/{n}")
    def sync_write(n: str, session: WriteSession) -> dict[str, str]:
        session.execute(text(f"INSERT INTO {table} VALUES (:n)"), {"n": n})  # noqa: S608
        return {"n": n}

    @router.post("/async/{n}")
    async def async_write(n: str, session: WriteSession) -> dict[str, str]:
        session.execute(text(f"INSERT INTO {table} VALUES (:n)"), {"n": n})  # noqa: S608
        return {"n": n}

    @router.post("/fail/{n}")
    def failing_write(n: str, session: WriteSession) -> dict[str, str]:
        session.execute(text(f"INSERT INTO {table} VALUES (:n)"), {"n": n})  # noqa: S608
        raise RuntimeError("the endpoint failed after writing")

    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, table
    with runtime.db.writer.begin() as session:
        session.execute(text(f"DROP TABLE {table}"))


def _rows(runtime: Runtime, table: str) -> list[str]:
    with runtime.db.reader() as session:
        return list(session.scalars(text(f"SELECT n FROM {table} ORDER BY n")))  # noqa: S608


def test_sync_and_async_endpoints_commit_before_answering(
    probe: tuple[TestClient, str], runtime: Runtime
) -> None:
    client, table = probe
    assert client.post("/sync/a").status_code == 200
    assert client.post("/async/b").status_code == 200
    assert _rows(runtime, table) == ["a", "b"]


def test_a_failing_endpoint_writes_nothing(probe: tuple[TestClient, str], runtime: Runtime) -> None:
    client, table = probe
    assert client.post("/fail/x").status_code == 500
    assert client.post("/sync/y").status_code == 200
    assert _rows(runtime, table) == ["y"]


def test_a_sync_endpoint_and_its_commit_share_one_worker_thread(runtime: Runtime) -> None:
    """The endpoint and the commit run in one worker thread; validating the response does
    not take another (FastAPI would hand a sync endpoint's result to a second thread)."""
    seen: dict[str, int] = {}

    class Out(BaseModel):
        n: int

        @model_validator(mode="after")
        def where(self) -> Out:
            seen["validated"] = threading.get_ident()
            return self

    router = api_router()

    @router.get("/probe", response_model=Out)
    def probe(session: WriteSession) -> dict[str, int]:
        seen["endpoint"] = threading.get_ident()
        session.execute(text("SELECT 1"))
        real_commit = session.commit

        def commit() -> None:
            seen["commit"] = threading.get_ident()
            real_commit()

        session.commit = commit  # type: ignore[method-assign]
        return {"n": 1}

    @router.get("/loop")
    async def loop() -> dict[str, int]:
        return {"ident": threading.get_ident()}

    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(router)
    with TestClient(app) as client:
        assert client.get("/probe").json() == {"n": 1}
        loop_thread = client.get("/loop").json()["ident"]
    assert seen["commit"] == seen["endpoint"] != loop_thread
    assert seen["validated"] == loop_thread


def test_a_failing_endpoint_rolls_back_in_its_own_thread(runtime: Runtime) -> None:
    """The connection (on SQLite the single writer) is free as soon as the endpoint fails,
    not once another worker thread gets round to the rollback."""
    seen: dict[str, int] = {}
    router = api_router()

    @router.post("/boom")
    def boom(session: WriteSession) -> None:
        seen["endpoint"] = threading.get_ident()
        session.execute(text("SELECT 1"))
        real_rollback = session.rollback

        def rollback() -> None:
            seen.setdefault("rollback", threading.get_ident())
            real_rollback()

        session.rollback = rollback  # type: ignore[method-assign]
        raise RuntimeError("boom")

    app = FastAPI()
    app.state.runtime = runtime
    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/boom").status_code == 500
    assert seen["rollback"] == seen["endpoint"]


def test_an_unexpected_error_is_a_logged_500_in_the_surface_format(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """An integrity error that is no unique violation (here a NOT NULL one) is a bug: it is
    not passed off as the client's conflict, and the answer names the request to look for."""
    router = api_router(prefix="/integration/v2")

    @router.post("/probe-bug")
    def bug(session: WriteSession) -> None:
        session.add(Group(tenant_id=uuid.uuid4(), name=None))
        session.flush()

    app = create_app(runtime)
    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/integration/v2/probe-bug", headers={"X-Request-ID": "req-bug-1"})
    assert r.status_code == 500
    error = r.json()["error"]
    assert error["code"] == "internal_error"
    assert r.headers.get("X-Request-ID") == "req-bug-1"
    assert "req-bug-1" in error["message"]
    logged = [rec for rec in caplog.records if rec.levelname == "ERROR"]
    assert logged and logged[-1].exc_info is not None
    assert "req-bug-1" in logged[-1].getMessage()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/scim/v2/Users/.search", {"filter": 'userName sw "a"'}),
        ("POST", "/scim/v2/Groups/.search", {}),
        ("GET", "/scim/v2/Users", None),
    ],
)
def test_searches_read_while_the_writer_is_busy(
    backend: str,
    http: TestClient,
    tenant: TenantHandle,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    """Each route declares a read or a write session; a search sent by POST reads. On SQLite
    (one writer at a time) it therefore answers while a long write holds the writer."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL has no single writer")
    headers = tenant.scim_headers()
    # The token's first use records it (a write, at most once a while): done before.
    assert http.get("/scim/v2/ServiceProviderConfig", headers=headers).status_code == 200
    if body is not None:
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], **body}
    answers: list[int] = []
    with tenant.runtime.db.writer.begin() as holding:
        holding.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the writer is taken
        worker = threading.Thread(
            target=lambda: answers.append(
                http.request(method, path, json=body, headers=headers).status_code
            )
        )
        worker.start()
        worker.join(timeout=20)
        finished = not worker.is_alive()
    worker.join()
    assert finished, f"{method} {path} waited for the writer"
    assert answers == [200]
