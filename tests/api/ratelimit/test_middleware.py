"""Failed authentications are limited per client address, before any credential is checked;
the RateLimit fields go out on every limited response. Both databases.

The app sits behind a trusted proxy (the test client's address), so each request's client
address is its X-Forwarded-For.
"""

from __future__ import annotations

import pytest

from rosterd.runtime import Runtime
from tests.api.ratelimit.support import PEER, credentials, limited_client, policies, ratelimit

ATTACKER = {"X-Forwarded-For": "203.0.113.66"}
NEIGHBOUR = {"X-Forwarded-For": "203.0.113.77"}


def test_failed_authentications_spend_the_address_s_budget_only(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    with limited_client(
        runtime, rate_limit_unauthenticated_per_ip="3/minute", trusted_proxies=[PEER[0]]
    ) as http:
        tenant = credentials(runtime, http)
        bad = [
            ("/scim/v2/Users", {"Authorization": "Bearer rscim_not-a-token"}),
            ("/integration/v2/users", {"Authorization": "Bearer not.a.jwt"}),
            ("/user_identities/list", {"Authorization": "Bearer seam_not-a-key"}),
        ]
        for path, headers in bad:
            r = http.get(path, headers={**headers, **ATTACKER})
            assert r.status_code == 401, r.text
        # Without credentials: a 401, not counted and not refused.
        for _ in range(5):
            assert http.get("/scim/v2/Users", headers=ATTACKER).status_code == 401

        checked = []
        gate = runtime.scim_gate
        real = gate.key
        monkeypatch.setattr(gate, "key", lambda *a: checked.append(a) or real(*a))
        # The budget is spent: even a good token from that address is refused unchecked.
        r = http.get("/scim/v2/Users", headers={**tenant.headers["scim"], **ATTACKER})
        assert r.status_code == 429, r.text
        assert r.json()["status"] == "429" and "failed authentications" in r.json()["detail"]
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert policies(r) == {"failed-auth": {"q": 3, "w": 60}}
        assert ratelimit(r)[:2] == ("failed-auth", 0)
        assert checked == []
        # ... on every surface, each in its format, the token endpoint and the login too.
        r = http.get("/integration/v2/users", headers={**tenant.headers["v2"], **ATTACKER})
        assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
        r = http.post(
            f"/tenants/{tenant.handle.slug}/connect/token",
            data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
            headers=ATTACKER,
        )
        assert r.status_code == 429 and r.json()["error"] == "temporarily_unavailable"
        username, password = tenant.admin
        r = http.post(
            "/api/v1/authentication/login",
            json={"username": username, "password": password},
            headers=ATTACKER,
        )
        assert r.status_code == 429 and r.json()["error"]["status"] == 429

        # A client at another address is not affected.
        r = http.get("/scim/v2/Users", headers={**tenant.headers["scim"], **NEIGHBOUR})
        assert r.status_code == 200, r.text
        assert len(checked) == 1
        assert "failed-auth" not in policies(r)


def test_wrong_client_secrets_and_passwords_count_too(runtime: Runtime) -> None:
    with limited_client(
        runtime, rate_limit_unauthenticated_per_ip="2/minute", trusted_proxies=[PEER[0]]
    ) as http:
        tenant = credentials(runtime, http)
        client_id, secret = tenant.handle.client_credentials(["user:read"])
        url = f"/tenants/{tenant.handle.slug}/connect/token"
        form = {"grant_type": "client_credentials"}
        r = http.post(url, data=form, auth=(client_id, "wrong"), headers=ATTACKER)
        assert r.status_code == 401, r.text
        username, _ = tenant.admin
        r = http.post(
            "/api/v1/authentication/login",
            json={"username": username, "password": "wrong password"},
            headers=ATTACKER,
        )
        assert r.status_code == 401, r.text
        r = http.post(url, data=form, auth=(client_id, secret), headers=ATTACKER)
        assert r.status_code == 429, r.text
        r = http.post(url, data=form, auth=(client_id, secret), headers=NEIGHBOUR)
        assert r.status_code == 200, r.text


def test_responses_that_no_limit_applies_to_carry_no_fields(runtime: Runtime) -> None:
    with limited_client(runtime) as http:
        tenant = credentials(runtime, http)
        for r in (
            http.get("/healthz"),
            http.get(f"/tenants/{tenant.handle.slug}/.well-known/jwks.json"),
            http.get("/scim/v2/Users"),  # no credentials: a 401 before any limit
        ):
            assert "RateLimit" not in r.headers and "RateLimit-Policy" not in r.headers, r.url


def test_without_rate_limits_nothing_is_limited_or_announced(runtime: Runtime) -> None:
    with limited_client(
        runtime,
        rate_limit_enabled=False,
        rate_limit_per_credential="1/minute",
        rate_limit_unauthenticated_per_ip="1/minute",
    ) as http:
        tenant = credentials(runtime, http)
        for _ in range(3):
            assert (
                http.get("/scim/v2/Users", headers={"Authorization": "Bearer x"}).status_code == 401
            )
        for _ in range(3):
            r = http.get("/scim/v2/Users", headers=tenant.headers["scim"])
            assert r.status_code == 200, r.text
            assert "RateLimit" not in r.headers
        assert (
            "429"
            not in http.get("/openapi.json").json()["paths"]["/scim/v2/Users"]["get"]["responses"]
        )
