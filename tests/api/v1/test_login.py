"""POST /api/v1/authentication/login cannot be turned against the server or its admins.

- Unknown username, wrong password, and an account someone else is hammering from another
  address: the same status, message and work (one argon2 verification, against a dummy hash
  with the same parameters when the username is unknown).
- Failures are throttled per (username, address) and per address, in tiers, with a
  Retry-After that grows; a throttled attempt is a 429 without any hashing, the same for
  known and unknown usernames, and the admin can still sign in from elsewhere.
- No password is checked while a database connection is held, and a login flood does not
  stall writes.

Each test builds an app of its own (its own throttle counters) and calls it in-process
through httpx's ASGI transport, which sets the client address of every request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from argon2 import PasswordHasher, extract_parameters

from rosterd.models import AdminUser
from rosterd.models.base import utcnow
from rosterd.runtime import Runtime
from rosterd.services import admins as admins_service
from rosterd.services.context import Actor
from tests.api.v1.support import (
    ATTACKER,
    ELSEWHERE,
    LOGIN,
    REFUSED,
    USERS,
    Admin,
    attempt,
    door,
    login,
    make_admin,
    nobody,
    retry_after,
    throttle,
    v1_error,
)
from tests.conftest import LiveServer
from tests.factories import V2, TenantHandle


@dataclasses.dataclass
class Verifications:
    """Every argon2 verification a login runs, with the database connections held then."""

    held: list[int] = dataclasses.field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.held)


@pytest.fixture
def verifications(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Verifications:
    seen = Verifications()
    verify = admins_service.verify_password
    engines = {runtime.db.engine, runtime.db.write_engine}
    lock = threading.Lock()

    def counted(stored_hash: str, password: str) -> bool:
        with lock:
            seen.held.append(sum(e.pool.checkedout() for e in engines))  # type: ignore[attr-defined]
        return verify(stored_hash, password)

    monkeypatch.setattr(admins_service, "verify_password", counted)
    return seen


@pytest.fixture
def admin(tenant: TenantHandle) -> Admin:
    return make_admin(tenant)


# ---- one answer for every failure ------------------------------------------------------------


def test_unknown_wrong_and_attacked_elsewhere_answer_alike(
    runtime: Runtime, tenant: TenantHandle, admin: Admin, verifications: Verifications
) -> None:
    app = door(runtime)
    attacked = make_admin(tenant)
    throttle(app, attacked.username)  # from the attacker's address

    before = verifications.count
    answers = {
        "wrong password": attempt(app, admin.username, "not the password", ELSEWHERE),
        "unknown username": attempt(app, nobody(), "not the password", ELSEWHERE),
        "attacked elsewhere": attempt(app, attacked.username, "not the password", ELSEWHERE),
    }
    for r in answers.values():
        assert v1_error(r, 401) == REFUSED
    bodies = {name: (r.json(), r.headers["www-authenticate"]) for name, r in answers.items()}
    assert len({repr(b) for b in bodies.values()}) == 1, bodies
    # Each cost one password verification: none was skipped.
    assert verifications.count == before + 3


def test_unknown_usernames_verify_against_a_hash_with_the_same_parameters(
    runtime: Runtime, admin: Admin
) -> None:
    with runtime.db.reader() as session:
        row = session.get(AdminUser, admin.id)
        assert row is not None
        stored = row.password_hash
    assert extract_parameters(admins_service.DUMMY_PASSWORD_HASH) == extract_parameters(stored)


# ---- throttling -----------------------------------------------------------------------------


def test_a_throttled_attempt_is_429_alike_for_known_and_unknown_without_hashing(
    runtime: Runtime, admin: Admin, verifications: Verifications
) -> None:
    app = door(runtime)
    ghost = nobody()
    throttle(app, admin.username)
    throttle(app, ghost)
    before = verifications.count

    known = attempt(app, admin.username, "another guess")
    unknown = attempt(app, ghost, "another guess")
    right = attempt(app, admin.username, admin.password)  # even the right password waits
    for r in (known, unknown, right):
        assert 1 <= retry_after(r) <= 60
        assert "too many failed logins" in r.json()["error"]["message"]
        assert "access_token" not in r.text
    # The same answer but for the seconds to wait, which the clock may have moved.
    assert _without_digits(known) == _without_digits(unknown)
    assert verifications.count == before  # no argon2 for a throttled attempt


def _without_digits(r: httpx.Response) -> str:
    return re.sub(r"\d+", "N", r.text)


def test_the_admin_signs_in_from_elsewhere_while_an_attacker_is_throttled(
    runtime: Runtime, admin: Admin
) -> None:
    app = door(runtime)
    throttle(app, admin.username)
    v1_error(attempt(app, admin.username, admin.password), 429)

    r = attempt(app, admin.username, admin.password, ELSEWHERE)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    transport = httpx.ASGITransport(app=app, client=(ELSEWHERE, 40000))

    async def users() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.get(USERS, headers={"Authorization": f"Bearer {token}"})

    assert asyncio.run(users()).status_code == 200
    # The attacker's address is still held back.
    v1_error(attempt(app, admin.username, "wrong guess"), 429)


def test_retry_after_grows_as_failures_pile_up(runtime: Runtime, admin: Admin) -> None:
    app = door(runtime, login_limits_per_account="1 per 3 seconds;2/hour")
    v1_error(attempt(app, admin.username, "wrong guess"), 401)
    assert 1 <= retry_after(attempt(app, admin.username, "wrong guess")) <= 3

    time.sleep(3.2)  # the first tier's window passes; the hour's has one failure left
    v1_error(attempt(app, admin.username, "wrong guess"), 401)
    assert retry_after(attempt(app, admin.username, "wrong guess")) > 3000


def test_a_success_starts_the_count_again(runtime: Runtime, admin: Admin) -> None:
    app = door(runtime)
    for _ in range(4):
        v1_error(attempt(app, admin.username, "wrong guess"), 401)
    assert attempt(app, admin.username, admin.password).status_code == 200
    for _ in range(4):
        v1_error(attempt(app, admin.username, "wrong guess"), 401)
    assert attempt(app, admin.username, admin.password).status_code == 200


def test_the_address_throttle_counts_every_username(runtime: Runtime, admin: Admin) -> None:
    app = door(runtime, login_limits_per_address="3/minute")
    for _ in range(3):
        v1_error(attempt(app, nobody(), "guess"), 401)
    v1_error(attempt(app, nobody(), "guess"), 429)
    v1_error(attempt(app, admin.username, admin.password), 429)
    # Other addresses are not held back.
    v1_error(attempt(app, nobody(), "guess", ELSEWHERE), 401)
    assert attempt(app, admin.username, admin.password, ELSEWHERE).status_code == 200


def test_a_burst_checks_no_more_passwords_than_the_throttle_allows(
    runtime: Runtime, admin: Admin, verifications: Verifications
) -> None:
    app = door(runtime)  # 5 a minute, one password check at a time

    async def burst() -> list[httpx.Response]:
        return list(
            await asyncio.gather(
                *(login(app, admin.username, f"guess {i}", ATTACKER) for i in range(20))
            )
        )

    statuses = sorted(r.status_code for r in asyncio.run(burst()))
    assert statuses == [401] * 5 + [429] * 15
    assert verifications.count == 5


# ---- no hashing inside a transaction --------------------------------------------------------


def test_no_password_is_checked_while_a_connection_is_held(
    runtime: Runtime, admin: Admin, verifications: Verifications
) -> None:
    app = door(runtime)
    assert attempt(app, admin.username, admin.password, ELSEWHERE).status_code == 200
    v1_error(attempt(app, admin.username, "wrong", ELSEWHERE), 401)
    v1_error(attempt(app, nobody(), "wrong", ELSEWHERE), 401)
    assert verifications.held == [0, 0, 0]
    with runtime.db.reader() as session:
        row = session.get(AdminUser, admin.id)
        assert row is not None and row.last_login_at is not None


def test_an_outdated_hash_is_replaced_at_the_next_login(runtime: Runtime, admin: Admin) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    with runtime.db.writer.begin() as session:
        row = session.get(AdminUser, admin.id)
        assert row is not None
        row.password_hash = weak.hash(admin.password)
    app = door(runtime)
    assert attempt(app, admin.username, admin.password, ELSEWHERE).status_code == 200
    with runtime.db.reader() as session:
        row = session.get(AdminUser, admin.id)
        assert row is not None
        stored = row.password_hash
    assert extract_parameters(stored) == extract_parameters(admins_service.DUMMY_PASSWORD_HASH)
    assert attempt(app, admin.username, admin.password, ELSEWHERE).status_code == 200


def test_a_password_changed_during_the_check_fails_the_login(
    runtime: Runtime, tenant: TenantHandle, admin: Admin
) -> None:
    with runtime.db.reader() as session:
        candidate = admins_service.find_for_login(session, admin.username)
    assert candidate is not None
    check = admins_service.check_password(candidate, admin.password)
    assert check.ok
    with runtime.db.writer.begin() as session:
        row = admins_service.get(session, admin.username)
        actor = Actor(tenant_id=tenant.id, actor="test", surface="test")
        admins_service.reset_password(
            session, row, admins_service.new_password_hash("a new password"), actor
        )
    with runtime.db.writer.begin() as session:
        assert admins_service.complete_login(session, candidate, check, utcnow()) is None


def flood_address(n: int) -> str:
    """A loopback source address for the n-th flooding client (127.0.0.0/8 is all loopback),
    so the per-address throttle does not stop the flood: its password checks really run."""
    return f"127.0.10.{1 + n}"


@pytest.mark.live
def test_a_login_flood_does_not_stall_writes(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    user = tenant.user()
    stop = threading.Event()

    def flood(n: int) -> set[int]:
        seen = set()
        transport = httpx.HTTPTransport(local_address=flood_address(n))
        with httpx.Client(base_url=live_server.base_url, transport=transport, timeout=120) as c:
            while not stop.is_set():
                r = c.post(LOGIN, json={"username": nobody(), "password": "guess"})
                seen.add(r.status_code)
        return seen

    with ThreadPoolExecutor(16) as pool:
        floods = [pool.submit(flood, n) for n in range(16)]
        try:
            time.sleep(1)  # the flood is under way
            for n in range(3):
                r = tenant.http.patch(
                    f"{V2}/users/{user['id']}", json={"title": f"t{n}"}, headers=tenant.headers()
                )
                assert r.status_code == 200, r.text
        finally:
            stop.set()
        # The logins were real password checks, refused as such (not throttled).
        assert set().union(*(f.result() for f in floods)) == {401}
