"""Claims of Idempotency-Keys raced by threads, each in its own transaction, on both
databases: of requests claiming one key at once exactly one runs, and of retries taking
over one dead claim exactly one does."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta

from rosterd.models.base import utcnow
from rosterd.runtime import Runtime
from rosterd.services import idempotency
from rosterd.services.errors import Conflict
from tests.factories import bare_tenant

REQUEST = idempotency.Request("POST", "/integration/v2/users", "f" * 64)
RACERS = 8


def _race(
    runtime: Runtime, scope: idempotency.Scope, now: datetime
) -> list[idempotency.Claim | idempotency.StoredResponse | Exception]:
    barrier = threading.Barrier(RACERS)
    outcomes: list[idempotency.Claim | idempotency.StoredResponse | Exception] = []
    lock = threading.Lock()

    def claim() -> None:
        barrier.wait()
        try:
            with runtime.db.writer.begin() as session:
                outcome: idempotency.Claim | idempotency.StoredResponse | Exception = (
                    idempotency.claim(
                        session,
                        scope,
                        REQUEST,
                        now=now,
                        ttl=timedelta(days=1),
                        lease=timedelta(minutes=2),
                    )
                )
        except Exception as exc:
            outcome = exc
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=claim) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def _one_claim_and_conflicts(
    outcomes: list[idempotency.Claim | idempotency.StoredResponse | Exception],
) -> None:
    claims = [o for o in outcomes if isinstance(o, idempotency.Claim)]
    others = [o for o in outcomes if not isinstance(o, idempotency.Claim)]
    assert len(outcomes) == RACERS
    assert len(claims) == 1, outcomes
    assert all(isinstance(o, Conflict) for o in others), others


def test_concurrent_claims_of_one_key_admit_one(runtime: Runtime) -> None:
    scope = idempotency.Scope(bare_tenant(runtime), "client:racer", str(uuid.uuid4()))
    _one_claim_and_conflicts(_race(runtime, scope, utcnow()))


def test_concurrent_take_overs_of_a_dead_claim_admit_one(runtime: Runtime) -> None:
    scope = idempotency.Scope(bare_tenant(runtime), "client:racer", str(uuid.uuid4()))
    past = utcnow() - timedelta(minutes=10)
    with runtime.db.writer.begin() as session:
        first = idempotency.claim(
            session, scope, REQUEST, now=past, ttl=timedelta(days=1), lease=timedelta(minutes=2)
        )
    assert isinstance(first, idempotency.Claim)
    # Its lease ended eight minutes ago: the request that held it died.
    _one_claim_and_conflicts(_race(runtime, scope, utcnow()))


def test_a_completed_key_replays_for_everyone(runtime: Runtime) -> None:
    scope = idempotency.Scope(bare_tenant(runtime), "client:racer", str(uuid.uuid4()))
    stored = idempotency.StoredResponse(201, [("content-type", "application/json")], b"{}")
    with runtime.db.writer.begin() as session:
        held = idempotency.claim(
            session,
            scope,
            REQUEST,
            now=utcnow(),
            ttl=timedelta(days=1),
            lease=timedelta(minutes=2),
        )
        assert isinstance(held, idempotency.Claim)
        idempotency.complete(session, held, stored)
    outcomes = _race(runtime, scope, utcnow())
    assert outcomes == [stored] * RACERS
