"""The two stores every test runs against: a SQLite file and a throwaway PostgreSQL schema."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from rosterd.db.maintenance import extensions_in_public

POSTGRES_URL = os.environ.get(
    "ROSTERD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("ROSTERD_TEST_REQUIRE_POSTGRES") == "1"


@contextmanager
def sqlite_url(tmp: Path) -> Iterator[str]:
    yield f"sqlite:///{(tmp / 'rosterd.db').as_posix()}"


@contextmanager
def postgres_url() -> Iterator[str]:
    """A fresh schema on the test server, dropped afterwards; its URL pins the search_path."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        admin.dispose()
        reason = (
            f"PostgreSQL unreachable at {make_url(POSTGRES_URL).render_as_string()}: {exc.orig}"
        )
        if REQUIRE_POSTGRES:
            pytest.fail(reason + " (ROSTERD_TEST_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(reason)
    schema = f"rosterd_test_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        extensions_in_public(conn)
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def database_url(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        with sqlite_url(tmp) as url:
            yield url
    else:
        with postgres_url() as url:
            yield url


# Redis, where rate limits are shared across nodes (ROSTERD_RATE_LIMIT_STORAGE).
REDIS_URL = os.environ.get("ROSTERD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_REDIS = os.environ.get("ROSTERD_TEST_REQUIRE_REDIS") == "1"


def redis_url() -> str:
    """The test Redis's URL, once it answers PING; skipped (failed in CI) when it does not."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        reason = f"Redis unreachable at {REDIS_URL}: {exc}"
        if REQUIRE_REDIS:
            pytest.fail(reason + " (ROSTERD_TEST_REQUIRE_REDIS=1)", pytrace=False)
        pytest.skip(reason)
    return REDIS_URL
