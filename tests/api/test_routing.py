"""The request's unit of work: committed when the endpoint returns, rolled back when it fails."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from rosterd.api.deps import SessionDep
from rosterd.api.routing import api_router
from rosterd.runtime import Runtime


@pytest.fixture
def probe(runtime: Runtime) -> Iterator[tuple[TestClient, str]]:
    table = f"routing_probe_{secrets.token_hex(4)}"
    with runtime.db.writer.begin() as session:
        session.execute(text(f"CREATE TABLE {table} (n VARCHAR(20))"))
    router = api_router()

    @router.post("/sync/{n}")
    def sync_write(n: str, session: SessionDep) -> dict[str, str]:
        session.execute(text(f"INSERT INTO {table} VALUES (:n)"), {"n": n})  # noqa: S608
        return {"n": n}

    @router.post("/async/{n}")
    async def async_write(n: str, session: SessionDep) -> dict[str, str]:
        session.execute(text(f"INSERT INTO {table} VALUES (:n)"), {"n": n})  # noqa: S608
        return {"n": n}

    @router.post("/fail/{n}")
    def failing_write(n: str, session: SessionDep) -> dict[str, str]:
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
