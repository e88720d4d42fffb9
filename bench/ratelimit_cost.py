"""The CPU a request spends in the rate limiter.

Serves the same app in process twice, with rate limits on (the default policies' shape,
amounts no request reaches) and off, over one SQLite store, and sends each a thousand
authenticated GETs (`GET /integration/v2/users/{id}`) a round, alternating the two. The
figure is the CPU time of the thread that runs the event loop, where everything the limiter
does runs (its dependency, its middleware, its storage calls), per request: the endpoint's
own work runs in worker threads and is left out, with the noise of its database I/O. Each
figure is the median of the rounds; the limiter's cost is the difference. `--storage
redis://127.0.0.1:6379/0` measures the Redis client instead of memory://.

On a busy machine that difference of two ~1 ms figures is noisy, so the limiter's own calls
are also timed alone, as the app makes them for each such request: the client address's
check, the tenant's policies, the charge, the RateLimit fields (same rounds, same CPU clock).

    python -m bench.ratelimit_cost [--requests 1000] [--rounds 9] [--storage memory://]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from rosterd.api.app import create_app
from rosterd.api.ratelimit import fields
from rosterd.api.ratelimit.dependencies import RateLimits
from rosterd.auth.scopes import Scope
from rosterd.config import Settings
from rosterd.runtime import Runtime, open_runtime
from rosterd.services import clients as clients_service
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor

# The default policies' shape (two windows each), with amounts no request reaches.
UNREACHED = "1000000/second;1000000/minute"


def _limited(runtime: Runtime, *, enabled: bool, storage: str) -> Runtime:
    settings = runtime.settings.model_copy(
        update={
            "rate_limit_enabled": enabled,
            "rate_limit_storage": storage,
            "rate_limit_key_prefix": f"rosterd-bench-{secrets.token_hex(4)}",
            "rate_limit_per_credential": UNREACHED,
            "rate_limit_per_tenant": UNREACHED,
        }
    )
    return dataclasses.replace(runtime, settings=settings)


def _app(runtime: Runtime, *, enabled: bool, storage: str) -> httpx.AsyncClient:
    app = create_app(_limited(runtime, enabled=enabled, storage=storage))
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)),
        base_url="http://testserver",
    )


async def _cpu_per_request(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], n: int
) -> float:
    await client.get(url, headers=headers)  # warm: caches, the limiter's storage
    started = time.thread_time()
    for _ in range(n):
        r = await client.get(url, headers=headers)
        assert r.status_code == 200, r.text
    return (time.thread_time() - started) / n


async def _calls_alone(limits: RateLimits, actor: Actor, n: int) -> float:
    """CPU per request of the limiter's calls alone, as the middleware and the dependency
    make them for an authenticated request that is allowed."""
    started = time.thread_time()
    for _ in range(n):
        assert await limits.limiter.refusal(limits.failures, ("127.0.0.1",)) is None
        credential, tenant = await limits.tenants.of(actor.tenant_id)
        tenant_key = str(actor.tenant_id)
        verdict = await limits.limiter.charge(
            (credential, (tenant_key, actor.actor)), (tenant, (tenant_key,))
        )
        fields.headers(verdict)
    return (time.thread_time() - started) / n


async def measure(runtime: Runtime, requests: int, rounds: int, storage: str) -> dict[str, float]:
    with runtime.db.writer.begin() as session:
        tenant = tenants_service.create_tenant(session, f"bench-{secrets.token_hex(4)}")
        issued = clients_service.create_client(
            session,
            tenant,
            name="bench",
            scopes=[Scope.admin.value],
            hmac_key=runtime.hmac_key,
            actor=Actor(tenant_id=tenant.id, actor="bench", surface="bench"),
        )
        slug, client_id, secret = tenant.slug, issued.client.client_id, issued.client_secret
        tenant_id = tenant.id
    on = _app(runtime, enabled=True, storage=storage)
    off = _app(runtime, enabled=False, storage=storage)
    r = await off.post(
        f"/tenants/{slug}/connect/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    r = await off.post(
        "/integration/v2/users",
        json={"email": "bench@example.com", "firstName": "Ben", "lastName": "Ch"},
        headers=headers,
    )
    url = f"/integration/v2/users/{r.json()['id']}"
    assert "RateLimit" in (await on.get(url, headers=headers)).headers
    limits = RateLimits.of(_limited(runtime, enabled=True, storage=storage))
    assert limits is not None
    actor = Actor(tenant_id=tenant_id, actor=client_id, surface="bench")
    await _calls_alone(limits, actor, 10)  # warm
    with_limits, without, alone = [], [], []
    for _ in range(rounds):
        without.append(await _cpu_per_request(off, url, headers, requests))
        with_limits.append(await _cpu_per_request(on, url, headers, requests))
        alone.append(await _calls_alone(limits, actor, requests))
    return {
        "without_us": statistics.median(without) * 1e6,
        "with_us": statistics.median(with_limits) * 1e6,
        "alone_us": statistics.median(alone) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--storage", default="memory://")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rosterd-ratelimit-") as tmp:
        runtime = open_runtime(
            Settings(data_dir=Path(tmp), secret_key=secrets.token_hex(16)), bootstrap=False
        )
        try:
            figures = asyncio.run(measure(runtime, args.requests, args.rounds, args.storage))
        finally:
            runtime.close()
    added = figures["with_us"] - figures["without_us"]
    print(
        f"event-loop CPU per GET ({args.storage}): {figures['without_us']:.0f} us without "
        f"rate limits, {figures['with_us']:.0f} us with them: the limiter adds {added:.0f} us; "
        f"its calls alone {figures['alone_us']:.1f} us"
    )


if __name__ == "__main__":
    main()
