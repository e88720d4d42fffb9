"""CPU time per request of the write paths, in process: the app called over ASGI (no HTTP
server), so the figure is the stack's own work, and the machine's load, which moves
wall-clock throughput 2x, does not move it much (`time.process_time` counts every thread of
the process: the writer and the event loop alike).

    python -m bench.cpu_per_request [--database-url URL] [--n 300] [--profile OUT.prof]

Prints, for each of the five requests of the benchmark's lifecycle (v2 create, PATCH, group
member add, deactivate, delete) and for SCIM `POST /Users`, the median CPU ms over ``n``
rounds after a warm-up. ``--profile`` writes a cProfile of the measured rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

from rosterd.api.app import create_app
from rosterd.auth.scopes import ALL_SCOPES
from rosterd.config import Settings
from rosterd.runtime import Runtime, open_runtime
from rosterd.services import clients as clients_service
from rosterd.services import scim_tokens as scim_tokens_service
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor


@dataclass
class _Response:
    status_code: int
    content: bytes

    def json(self) -> Any:
        return orjson.loads(self.content)


class _Client:
    """Requests straight to the ASGI app: an HTTP client's own CPU (httpx's ASGI transport
    spends about a millisecond a request, most of it looking for trio) would count in the
    process's time."""

    def __init__(self, app: Any) -> None:
        self._app = app

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> _Response:
        raw_headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        body = b""
        if json is not None:
            body = orjson.dumps(json)
            if not any(k == b"content-type" for k, _ in raw_headers):
                raw_headers.append((b"content-type", b"application/json"))
        elif data is not None:
            body = urlencode(data).encode()
            raw_headers.append((b"content-type", b"application/x-www-form-urlencoded"))
        raw_headers += [(b"host", b"testserver"), (b"content-length", str(len(body)).encode())]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": raw_headers,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self._app(scope, receive, send)
        return _Response(status, b"".join(chunks))

    async def post(self, path: str, **kwargs: Any) -> _Response:
        return await self.request("POST", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> _Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> _Response:
        return await self.request("DELETE", path, **kwargs)


STEPS = ("create", "patch", "member add", "deactivate", "delete", "scim post")


def _credentials(runtime: Runtime, slug: str) -> tuple[str, str, str]:
    """A tenant ``slug`` with an OAuth client of every scope and a SCIM token."""
    with runtime.db.writer.begin() as session:
        tenant = tenants_service.create_tenant(session, slug)
        actor = Actor(tenant_id=tenant.id, actor="bench", surface="bench")
        issued = clients_service.create_client(
            session,
            tenant,
            name="bench",
            scopes=list(ALL_SCOPES),
            hmac_key=runtime.hmac_key,
            actor=actor,
        )
        scim = scim_tokens_service.create_token(
            session, tenant, name="bench", hmac_key=runtime.hmac_key, actor=actor
        )
        return issued.client.client_id, issued.client_secret, scim.token


async def measure(runtime: Runtime, n: int, profile: Path | None) -> dict[str, list[float]]:
    app = create_app(runtime)
    slug = f"cpu-{secrets.token_hex(4)}"
    client_id, secret, scim_token = _credentials(runtime, slug)
    cpu: dict[str, list[float]] = {step: [] for step in STEPS}
    sys_ms: dict[str, list[float]] = {step: [] for step in STEPS}
    profiler = cProfile.Profile() if profile else None
    http = _Client(app)
    async with app.router.lifespan_context(app):
        r = await http.post(
            f"/tenants/{slug}/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        )
        v2 = {"Authorization": f"Bearer {r.json()['access_token']}"}
        scim = {"Authorization": f"Bearer {scim_token}", "Content-Type": "application/scim+json"}
        r = await http.post("/integration/v2/groups", json={"name": "bench"}, headers=v2)
        group = r.json()["id"]

        async def timed(step: str, call: Awaitable[_Response], keep: bool) -> _Response:
            t0 = os.times()
            started = time.process_time()
            if profiler and keep:
                profiler.enable()
            response = await call
            if profiler and keep:
                profiler.disable()
            if keep:
                cpu[step].append((time.process_time() - started) * 1000)
                t1 = os.times()
                sys_ms[step].append((t1.system - t0.system) * 1000)
            if response.status_code >= 400:
                raise RuntimeError(f"{step}: {response.status_code} {response.content!r}")
            return response

        warm = max(20, n // 10)
        for i in range(warm + n):
            keep = i >= warm
            email = f"cpu-{i}-{secrets.token_hex(3)}@example.com"
            body = {"email": email, "firstName": "Cpu", "lastName": "Cycle"}
            r = await timed(
                "create", http.post("/integration/v2/users", json=body, headers=v2), keep
            )
            uid = r.json()["id"]
            user = f"/integration/v2/users/{uid}"
            await timed("patch", http.patch(user, json={"title": "T"}, headers=v2), keep)
            await timed(
                "member add",
                http.post(
                    f"/integration/v2/groups/{group}/members", json={"userId": uid}, headers=v2
                ),
                keep,
            )
            await timed("deactivate", http.patch(user, json={"isActive": False}, headers=v2), keep)
            await timed("delete", http.delete(user, headers=v2), keep)
            name = f"scim-{i}-{secrets.token_hex(3)}@example.com"
            scim_body = {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name,
                "name": {"givenName": "Bench", "familyName": "User"},
                "emails": [{"value": name, "type": "work", "primary": True}],
                "active": True,
            }
            await timed(
                "scim post",
                http.post("/scim/v2/Users", json=scim_body, headers=scim),
                keep,
            )
    if profiler and profile:
        profiler.dump_stats(profile)
    print({k: round(statistics.mean(v), 3) for k, v in sys_ms.items()})
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=args.database_url or f"sqlite:///{tmp}/bench.db",
            data_dir=Path(tmp),
            secret_key="bench-secret-key",  # noqa: S106 (a throwaway store)
            public_url="http://testserver",
            rate_limit_storage="memory://",
            **{
                f"rate_limit_{name}": "1000000/second"
                for name in ("per_credential", "per_tenant", "unauthenticated_per_ip")
            },
        )
        runtime = open_runtime(settings)
        try:
            cpu = asyncio.run(measure(runtime, args.n, args.profile))
        finally:
            runtime.close()
    lifecycle = sum(statistics.median(cpu[s]) for s in STEPS[:5])
    for step in STEPS:
        print(f"{step:12s} {statistics.median(cpu[step]):6.3f} ms")
    print(f"{'lifecycle':12s} {lifecycle:6.3f} ms (sum of the five medians)")


if __name__ == "__main__":
    main()
