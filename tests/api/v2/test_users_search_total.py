"""GET /integration/v2/users?query=: the total of a search matching more users than the server
counts is an estimate, and the response says so (``totalCountIsEstimate``); below that, or
without a search, it is exact and the flag is absent. The limit is the setting
``search_exact_total_limit``, lowered here so that a few users are "many"."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rosterd.runtime import Runtime
from tests.factories import V2, TenantHandle

USERS = f"{V2}/users"


def _list(http: TestClient, tenant: TenantHandle, **params: Any) -> dict[str, Any]:
    r = http.get(USERS, params=params, headers=tenant.headers("user:read"))
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture
def searched(tenant: TenantHandle) -> str:
    """Six users whose last name carries a random token, two who do not; the token."""
    tok = secrets.token_hex(3)
    for n in range(6):
        tenant.user(firstName=f"P{n}", lastName=f"Zed{tok}", email=f"z{n}{tok}@example.com")
    for n in range(2):
        other = secrets.token_hex(4)
        tenant.user(firstName=f"Q{n}", lastName="Other", email=f"o{n}-{other}@example.org")
    return tok


def test_a_search_above_the_limit_reports_an_estimate(
    http: TestClient,
    tenant: TenantHandle,
    runtime: Runtime,
    searched: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exact = _list(http, tenant, query=searched, limit=2)
    assert exact["totalCount"] == 6 and "totalCountIsEstimate" not in exact
    monkeypatch.setattr(runtime.settings, "search_exact_total_limit", 5)
    page = _list(http, tenant, query=searched, limit=2)
    assert page["totalCountIsEstimate"] is True
    # A tenant smaller than the estimate's sample is estimated from all of its users: exactly.
    assert page["totalCount"] == 6
    # The page itself does not change.
    assert page["items"] == exact["items"]


def test_totals_at_or_below_the_limit_stay_exact(
    http: TestClient,
    tenant: TenantHandle,
    runtime: Runtime,
    searched: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime.settings, "search_exact_total_limit", 6)
    page = _list(http, tenant, query=searched, limit=2)
    assert page["totalCount"] == 6 and "totalCountIsEstimate" not in page
    monkeypatch.setattr(runtime.settings, "search_exact_total_limit", 1)
    # A page with room left holds the last match: its total is known without counting.
    whole = _list(http, tenant, query=searched, limit=10)
    assert whole["totalCount"] == 6 and "totalCountIsEstimate" not in whole
    # Without a search, listings count exactly whatever the limit.
    everyone = _list(http, tenant, limit=2)
    assert everyone["totalCount"] == 8 and "totalCountIsEstimate" not in everyone
    active = _list(http, tenant, status="active", limit=2)
    assert active["totalCount"] == 8 and "totalCountIsEstimate" not in active


def test_the_flag_is_documented(http: TestClient) -> None:
    schema = http.get("/openapi.json").json()["components"]["schemas"]["UserList"]
    flag = schema["properties"]["totalCountIsEstimate"]
    assert "estimate" in flag["description"]
    assert "search_exact_total_limit" in schema["properties"]["totalCount"]["description"]
