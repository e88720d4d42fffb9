"""Two scheduler processes on one store, each with the clock injected at the same moment
past the same due rows: every activation, expiry and membership removal happens once.

On PostgreSQL the processes split the rows through row locks (SKIP LOCKED); on SQLite they
take turns at the one write lock. Each is a fresh interpreter (spawn) with connections of its
own, as two `rosterd serve` nodes are.
"""

from __future__ import annotations

import multiprocessing
import secrets
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from rosterd.db.engine import make_database
from rosterd.lifecycle.scheduler import Scheduler
from rosterd.models import AuditEvent
from rosterd.runtime import Runtime
from tests.factories import V2, TenantHandle
from tests.lifecycle.test_scheduled_access import ahead, get_user, members, wire

DUE = 30  # of each kind of action


def run_scheduler(url: str, at: str, go: Any, done: Any) -> None:
    """A scheduler process: wait for ``go``, then run once with its clock at ``at``."""
    db = make_database(url, pool_size=2)
    moment = datetime.fromisoformat(at)
    try:
        go.wait(60)
        done.put(("ok", Scheduler(db, clock=lambda: moment).run_once()))
    except BaseException as exc:  # reported in the test's process
        done.put(("failed", repr(exc)))
    finally:
        db.dispose()


def _post(tenant: TenantHandle, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = tenant.http.post(f"{V2}{path}", json=body, headers=tenant.headers())
    assert r.status_code == 201, r.text
    return dict(r.json())


def _user(tenant: TenantHandle, **fields: Any) -> str:
    n = secrets.token_hex(4)
    body = {"email": f"proc-{n}@example.com", "firstName": "P", "lastName": f"U{n}", **fields}
    return str(_post(tenant, "/users", body)["id"])


def test_two_scheduler_processes_act_once_per_due_row(
    tenant: TenantHandle, runtime: Runtime
) -> None:
    when = ahead(days=400)
    starting = [_user(tenant, validFrom=wire(when)) for _ in range(DUE)]
    ending = [_user(tenant, expiresAt=wire(when)) for _ in range(DUE)]
    groups = [tenant.group()["id"] for _ in range(3)]
    for i, user_id in enumerate(ending):
        _post(
            tenant, f"/groups/{groups[i % 3]}/members", {"userId": user_id, "expiresAt": wire(when)}
        )

    spawn = multiprocessing.get_context("spawn")
    go, done = spawn.Event(), spawn.Queue()
    at = (when + timedelta(seconds=1)).isoformat()
    url = runtime.settings.resolved_database_url
    processes = [spawn.Process(target=run_scheduler, args=(url, at, go, done)) for _ in range(2)]
    for p in processes:
        p.start()
    go.set()
    results = [done.get(timeout=120) for _ in processes]
    for p in processes:
        p.join(timeout=30)
    assert [state for state, _ in results] == ["ok", "ok"], results

    with runtime.db.reader() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.resource_id, AuditEvent.before).where(
                AuditEvent.tenant_id == tenant.id,
                AuditEvent.action.in_(["user.activated", "user.expired", "group.member_expired"]),
            )
        ).all()
    by_action = Counter(action for action, _, _ in rows)
    assert by_action == {"user.activated": DUE, "user.expired": DUE, "group.member_expired": DUE}
    assert sorted(r for a, r, _ in rows if a == "user.activated") == sorted(starting)
    assert sorted(r for a, r, _ in rows if a == "user.expired") == sorted(ending)
    removed = sorted(b["user_id"] for a, _, b in rows if a == "group.member_expired")
    assert removed == sorted(ending)
    assert {get_user(tenant, u)["status"] for u in starting} == {"active"}
    assert {get_user(tenant, u)["status"] for u in ending} == {"inactive"}
    assert all(members(tenant, g) == {} for g in groups)
