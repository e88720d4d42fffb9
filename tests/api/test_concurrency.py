"""Concurrent writers against a real rosterd, on SQLite and on PostgreSQL.

IdPs send their requests in parallel, so several writes to one row, or to one user's
memberships, or creates of one email, arrive at once. Each test here fires a burst of real
concurrent HTTP requests (httpx.AsyncClient, one connection per request) at ``rosterd serve``
on 127.0.0.1 and asserts what a client relies on:

- no answer is a 5xx (and no request stalls until the client gives up);
- unconditional writes to one row all succeed, each answer shows the state its own write
  produced, and the row ends in the state of one of them;
- concurrent creates of one unique value give exactly one 201 and 409 for the rest, and
  leave exactly one row;
- writes conditional on ``If-Match`` lose no update: a stale version answers 412, and
  retrying from a fresh GET ends with every increment applied.

The lost-update test runs on SCIM (``/integration/v2`` honours ``If-Match`` too, see
tests/api/v2/test_etags.py).

Every assertion message carries the status counts and the bodies of a few 5xx answers, so a
failure says what the server did.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.api.v1.support import LOGOUT, USERS, make_admin
from tests.conftest import LiveServer
from tests.factories import V2, TenantHandle

pytestmark = pytest.mark.live

SCIM = "/scim/v2"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# Longer than the server's 30 s pool timeout: a request that waits that out shows as the 500
# it gets, one stuck for longer as a ReadTimeout; neither hangs the suite.
CLIENT_TIMEOUT = 60.0


# ---- firing bursts ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One request's result: a response, or the transport error that took its place."""

    index: int
    response: httpx.Response | None = None
    error: str | None = None

    @property
    def status(self) -> int | str:
        if self.response is None:
            return f"error: {self.error}"
        return self.response.status_code

    def json(self) -> Any:
        assert self.response is not None
        return self.response.json()


def transport_error(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def _client(base_url: str, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=CLIENT_TIMEOUT,
        # A connection per request: no keep-alive, so a transport error is the server
        # dropping that request, never a race with an idle connection it closed.
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=0),
    )


async def _burst(base_url: str, n: int, request: Request) -> list[Outcome]:
    async with _client(base_url, n) as client:

        async def one(i: int) -> Outcome:
            try:
                return Outcome(i, response=await request(client, i))
            except httpx.HTTPError as exc:
                return Outcome(i, error=transport_error(exc))

        return list(await asyncio.gather(*(one(i) for i in range(n))))


def burst(server: LiveServer, n: int, request: Request) -> list[Outcome]:
    """Send ``request(client, i)`` for i in 0..n-1 all at once; one outcome per request."""
    return asyncio.run(_burst(server.base_url, n, request))


def report(outcomes: Iterable[Outcome], allowed: frozenset[int] = frozenset()) -> str:
    """Status counts, and the first bodies of each status outside ``allowed`` (5xx, transport
    errors, and whatever else the test did not expect)."""
    outcomes = list(outcomes)
    counts = Counter(o.status for o in outcomes)
    lines = [f"statuses: {dict(sorted(counts.items(), key=str))}"]
    for status in sorted(counts, key=str):
        if status in allowed:
            continue
        for o in [o for o in outcomes if o.status == status][:2]:
            body = o.response.text[:600] if o.response is not None else ""
            lines.append(f"  request {o.index}: {status}: {body}")
    return "\n".join(lines)


def assert_statuses(outcomes: list[Outcome], allowed: set[int]) -> None:
    """Every request got an answer, and every answer is one of ``allowed`` (so no 5xx)."""
    unexpected = sum(1 for o in outcomes if o.status not in allowed)
    assert not unexpected, (
        f"{unexpected} of {len(outcomes)} answers not in {sorted(allowed)}\n"
        + report(outcomes, frozenset(allowed))
    )


# ---- resources ----------------------------------------------------------------------------


def scim_user(tenant: TenantHandle, user_id: str) -> dict[str, Any]:
    r = tenant.http.get(f"{SCIM}/Users/{user_id}", headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    return dict(r.json())


def version_of(resource: dict[str, Any]) -> int:
    """meta.version (``W/"<n>"``) as a number, to compare versions."""
    return int(resource["meta"]["version"].removeprefix("W/").strip('"'))


def replace_title(title: str) -> dict[str, Any]:
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "title", "value": title}],
    }


# ---- unconditional writes to one row ------------------------------------------------------


def test_concurrent_scim_patches_of_one_user_all_apply(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    user = tenant.user()
    before = version_of(scim_user(tenant, user["id"]))
    titles = [f"title-{i}" for i in range(64)]

    async def patch(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.patch(
            f"{SCIM}/Users/{user['id']}",
            json=replace_title(titles[i]),
            headers=tenant.scim_headers(),
        )

    outcomes = burst(live_server, 64, patch)

    assert_statuses(outcomes, {200})
    summary = report(outcomes)
    for o in outcomes:
        assert o.json()["title"] == titles[o.index], summary
    # Each write is applied in some order: each answer shows a version of its own, newer than
    # the start, and the user ends as the write with the newest version left it.
    versions = {version_of(o.json()): o.json()["title"] for o in outcomes}
    assert len(versions) == 64, f"two answers report one version: {sorted(versions)}"
    assert min(versions) > before
    after = scim_user(tenant, user["id"])
    assert version_of(after) == max(versions)
    assert after["title"] == versions[max(versions)]


def test_concurrent_v2_patches_of_one_user_all_apply(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    user = tenant.user()
    names = [f"First{i}" for i in range(20)]

    async def patch(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.patch(
            f"{V2}/users/{user['id']}", json={"firstName": names[i]}, headers=tenant.headers()
        )

    outcomes = burst(live_server, 20, patch)

    assert_statuses(outcomes, {200})
    summary = report(outcomes)
    for o in outcomes:
        assert o.json()["firstName"] == names[o.index], summary
    r = tenant.http.get(f"{V2}/users/{user['id']}", headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["firstName"] in names


def test_concurrent_v2_patches_of_one_group_all_apply(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    group = tenant.group()
    descriptions = [f"description {i}" for i in range(20)]

    async def patch(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.patch(
            f"{V2}/groups/{group['id']}",
            json={"description": descriptions[i]},
            headers=tenant.headers(),
        )

    outcomes = burst(live_server, 20, patch)

    assert_statuses(outcomes, {200})
    summary = report(outcomes)
    for o in outcomes:
        assert o.json()["description"] == descriptions[o.index], summary
    r = tenant.http.get(f"{V2}/groups/{group['id']}", headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["description"] in descriptions


def test_concurrent_membership_sets_of_one_user_end_as_one_of_them(
    live_server: LiveServer,
) -> None:
    tenant = live_server.tenant()
    user = tenant.user()
    groups = [tenant.group()["id"] for _ in range(6)]
    # Overlapping subsets, each in its own order, so writers touching the same membership
    # rows in different orders would deadlock unless the server orders its locks.
    rng = random.Random(10)
    subsets = [rng.sample(groups, rng.randint(2, 5)) for _ in range(20)]
    wanted = [frozenset(s) for s in subsets]

    async def put(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.put(
            f"{V2}/users/{user['id']}/groups",
            json={"groupIds": subsets[i]},
            headers=tenant.headers(),
        )

    outcomes = burst(live_server, 20, put)

    assert_statuses(outcomes, {200})
    summary = report(outcomes)
    for o in outcomes:
        assert {g["id"] for g in o.json()["items"]} == wanted[o.index], summary
    r = tenant.http.get(f"{V2}/users/{user['id']}/groups", headers=tenant.headers())
    assert r.status_code == 200, r.text
    final = frozenset(g["id"] for g in r.json()["items"])
    assert final in wanted, f"memberships {sorted(final)} are none of the sets sent"
    # The groups' side agrees: the user is a member of exactly the final groups, once each.
    for group_id in groups:
        g = tenant.http.get(f"{V2}/groups/{group_id}", headers=tenant.headers())
        assert g.status_code == 200, g.text
        assert g.json()["memberCount"] == (1 if group_id in final else 0), group_id


def test_concurrent_api_v1_logouts_of_one_admin_all_answer_and_each_is_audited(
    live_server: LiveServer,
) -> None:
    """Eight tokens of one admin log out at once: each answers 200 (or 401 if another
    logout revoked it first), never a 5xx; every token is revoked after, and each 200 wrote
    its own admin.signed_out."""
    tenant = live_server.tenant()
    admin = make_admin(tenant)
    tokens = [admin.login(tenant.http) for _ in range(8)]

    async def logout(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.post(LOGOUT, headers={"Authorization": f"Bearer {tokens[i]}"})

    outcomes = burst(live_server, len(tokens), logout)

    assert_statuses(outcomes, {200, 401})
    for token in tokens:
        r = tenant.http.get(USERS, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, r.text
    r = tenant.http.get(
        f"{V2}/audit-events",
        params={"resourceType": "admin", "action": "admin.signed_out", "limit": 100},
        headers=tenant.headers("audit:read"),
    )
    assert r.status_code == 200, r.text
    signed_out = [e for e in r.json()["items"] if e["resourceId"] == str(admin.id)]
    assert len(signed_out) == sum(1 for o in outcomes if o.status == 200) >= 1, report(outcomes)


# ---- concurrent creates of one unique value -----------------------------------------------


def assert_one_created(outcomes: list[Outcome]) -> None:
    assert_statuses(outcomes, {201, 409})
    created = [o for o in outcomes if o.status == 201]
    assert len(created) == 1, report(outcomes)


def test_concurrent_v2_creates_of_one_email_make_one_user(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    email = f"same-{secrets.token_hex(4)}@example.com"
    tenant.headers()  # the token, issued before the burst

    async def create(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.post(
            f"{V2}/users",
            json={"email": email, "firstName": "Same", "lastName": f"Email{i}"},
            headers=tenant.headers(),
        )

    outcomes = burst(live_server, 100, create)

    assert_one_created(outcomes)
    r = tenant.http.get(f"{V2}/users", params={"email": email}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["totalCount"] == 1, r.json()
    everyone = tenant.http.get(f"{V2}/users", params={"limit": 100}, headers=tenant.headers())
    assert everyone.status_code == 200, everyone.text
    assert everyone.json()["totalCount"] == 1, "a conflicting create left a user behind"


def test_concurrent_creates_each_get_their_own_answer(live_server: LiveServer) -> None:
    """Creates arriving together (on SQLite committed together by the one writer, each in a
    savepoint): a refused one (bad value, taken email) gets its own 400 or 409 and takes
    none of its neighbours with it, and each created user is readable as soon as its 201
    is out."""
    tenant = live_server.tenant()
    tag = secrets.token_hex(4)
    tenant.headers()  # the token, issued before the burst

    def email_of(i: int) -> str:
        if i % 8 == 0:
            return f"not-an-email-{i}"
        if i % 8 in (1, 2, 3):
            return f"dup{i % 2}-{tag}@example.com"
        return f"own{i}-{tag}@example.com"

    read_back: dict[int, int] = {}

    async def create(client: httpx.AsyncClient, i: int) -> httpx.Response:
        r = await client.post(
            f"{V2}/users",
            json={"email": email_of(i), "firstName": "Burst", "lastName": f"N{i}"},
            headers=tenant.headers(),
        )
        if r.status_code == 201:
            got = await client.get(f"{V2}/users/{r.json()['id']}", headers=tenant.headers())
            read_back[i] = got.status_code
        return r

    outcomes = burst(live_server, 32, create)

    assert_statuses(outcomes, {201, 400, 409})
    summary = report(outcomes)
    by_status = {o.index: o.status for o in outcomes}
    assert all(by_status[i] == 400 for i in range(0, 32, 8)), summary
    assert all(by_status[i] == 201 for i in range(32) if i % 8 >= 4), summary
    for parity in (0, 1):
        same = [i for i in range(32) if i % 8 in (1, 2, 3) and i % 2 == parity]
        assert sorted(by_status[i] for i in same) == [201] + [409] * (len(same) - 1), summary
    assert read_back == {i: 200 for i, status in by_status.items() if status == 201}
    everyone = tenant.http.get(f"{V2}/users", params={"limit": 100}, headers=tenant.headers())
    assert everyone.status_code == 200, everyone.text
    assert sorted(u["email"] for u in everyone.json()["items"]) == sorted(
        o.json()["email"] for o in outcomes if o.status == 201
    )


def test_concurrent_scim_creates_of_one_username_make_one_user(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    username = f"same-{secrets.token_hex(4)}@example.com"
    tenant.scim_headers()  # the token, issued before the burst

    async def create(client: httpx.AsyncClient, i: int) -> httpx.Response:
        # Only the userName is shared: each request has an email of its own.
        body = {
            "schemas": [USER_SCHEMA],
            "userName": username,
            "name": {"givenName": "Same", "familyName": f"UserName{i}"},
            "emails": [{"value": f"u{i}-{username}", "type": "work", "primary": True}],
            "active": True,
        }
        return await client.post(f"{SCIM}/Users", json=body, headers=tenant.scim_headers())

    outcomes = burst(live_server, 100, create)

    assert_one_created(outcomes)
    r = tenant.http.get(
        f"{SCIM}/Users",
        params={"filter": f'userName eq "{username}"'},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["totalResults"] == 1, r.json()
    everyone = tenant.http.get(f"{SCIM}/Users", headers=tenant.scim_headers())
    assert everyone.status_code == 200, everyone.text
    assert everyone.json()["totalResults"] == 1, "a conflicting create left a user behind"


# ---- no lost update under If-Match --------------------------------------------------------

WORKERS = 16
INCREMENTS = 4  # successful increments per worker
MAX_ATTEMPTS = 400  # per worker: a bound, so a server that never says 200 cannot hang the test


async def _increment_title(
    client: httpx.AsyncClient, tenant: TenantHandle, user_id: str, seen: list[Outcome]
) -> int:
    """Add one to the counter in ``title`` INCREMENTS times, each conditional on the version
    just read; a 412 (or anything else) starts over from a fresh GET. Returns the successes."""
    url = f"{SCIM}/Users/{user_id}"

    async def send(method: str, **kwargs: Any) -> httpx.Response | None:
        try:
            r = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            seen.append(Outcome(len(seen), error=transport_error(exc)))
            return None
        seen.append(Outcome(len(seen), response=r))
        return r

    done = 0
    for _ in range(MAX_ATTEMPTS):
        if done == INCREMENTS:
            break
        current = await send("GET", headers=tenant.scim_headers())
        if current is None or current.status_code != 200:
            continue
        body = current.json()
        r = await send(
            "PATCH",
            json=replace_title(str(int(body["title"]) + 1)),
            headers={**tenant.scim_headers(), "If-Match": body["meta"]["version"]},
        )
        if r is not None and r.status_code == 200:
            done += 1
    return done


def test_scim_if_match_loses_no_update(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    user = tenant.user(title="0")

    async def run() -> tuple[list[int], list[Outcome]]:
        seen: list[Outcome] = []
        async with _client(live_server.base_url, WORKERS) as client:
            done = await asyncio.gather(
                *(_increment_title(client, tenant, user["id"], seen) for _ in range(WORKERS))
            )
        return list(done), seen

    done, seen = asyncio.run(run())

    assert_statuses(seen, {200, 412})
    assert done == [INCREMENTS] * WORKERS, report(seen)
    final = scim_user(tenant, user["id"])
    assert final["title"] == str(WORKERS * INCREMENTS), (
        f"{WORKERS * INCREMENTS} increments answered 200, the counter says {final['title']}\n"
        + report(seen)
    )
