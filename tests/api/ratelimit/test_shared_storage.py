"""Two `rosterd serve` processes over one store and one Redis enforce one limit: requests
split across both nodes are counted together. Both databases."""

from __future__ import annotations

import itertools
import secrets

import httpx

from rosterd.config import Settings
from rosterd.runtime import Runtime
from tests.api.ratelimit.support import policies, ratelimit
from tests.backends import redis_url
from tests.conftest import free_port, server_env, serving
from tests.factories import make_tenant

LIMIT = 10


def test_two_nodes_share_one_limit(settings: Settings, runtime: Runtime) -> None:
    ports = free_port(), free_port()
    public_url = f"http://127.0.0.1:{ports[0]}"  # one issuer: tokens work on both nodes
    env = {
        **server_env(settings, public_url),
        "ROSTERD_RATE_LIMIT_STORAGE": redis_url(),
        # A prefix of this run's own, so parallel runs on one Redis do not share counters.
        "ROSTERD_RATE_LIMIT_KEY_PREFIX": f"rosterd-test-{secrets.token_hex(6)}",
        "ROSTERD_RATE_LIMIT_PER_CREDENTIAL": f"{LIMIT}/minute",
    }
    with serving(ports[0], env) as first, serving(ports[1], env) as second:
        nodes = [httpx.Client(base_url=url, timeout=30) for url in (first, second)]
        tenant = make_tenant(runtime, nodes[0])
        headers = tenant.scim_headers()
        remaining = []
        for node in itertools.islice(itertools.cycle(nodes), LIMIT):
            r = node.get("/scim/v2/Users", headers=headers)
            assert r.status_code == 200, (node.base_url, r.text)
            assert policies(r)["credential"] == {"q": LIMIT, "w": 60}
            remaining.append(ratelimit(r)[1])
        assert remaining == list(range(LIMIT - 1, -1, -1))
        for node in nodes:  # the (LIMIT + 1)-th, on either node
            r = node.get("/scim/v2/Users", headers=headers)
            assert r.status_code == 429, (node.base_url, r.text)
            assert ratelimit(r)[:2] == ("credential", 0)
            assert int(r.headers["Retry-After"]) >= 1
        for node in nodes:
            node.close()
