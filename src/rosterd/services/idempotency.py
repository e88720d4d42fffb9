"""Idempotency keys: whether a POST with an ``Idempotency-Key`` runs, replays the response
of its first run, or is refused (draft-ietf-httpapi-idempotency-key-header).

A request claims its key before it runs. The claim is a row in flight with a lease: the
request that holds it stores its response when it ends below 500 (a retry then replays it)
or gives the key up when it fails, so a retry runs again. A request that dies without
doing either (a crashed process) leaves a claim whose lease runs out, after which a retry
takes the key over instead of being refused until the key expires.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from rosterd.models.idempotency import KeyState
from rosterd.repositories import idempotency as repo
from rosterd.repositories.idempotency import Scope
from rosterd.services.errors import Conflict, Unprocessable

# The codes of its two refusals, for surfaces whose error format names a type per status.
IN_PROGRESS = "idempotency_key_in_progress"
REUSED = "idempotency_key_reused"

__all__ = [
    "IN_PROGRESS",
    "REUSED",
    "Claim",
    "Request",
    "Scope",
    "StoredResponse",
    "claim",
    "complete",
    "purge",
    "release",
]


@dataclass(frozen=True)
class Request:
    """What a claim records of its request: ``fingerprint`` stands for its method, path,
    query and body."""

    method: str
    path: str
    fingerprint: str


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Claim:
    """A key this request holds while it runs."""

    scope: Scope
    owner: uuid.UUID


def in_progress(key: str) -> Conflict:
    return Conflict(
        f"a request with Idempotency-Key {key!r} is still in progress; retry once it has finished",
        code=IN_PROGRESS,
    )


def claim(
    session: Session,
    scope: Scope,
    request: Request,
    *,
    now: datetime,
    ttl: timedelta,
    lease: timedelta,
) -> Claim | StoredResponse:
    """Claim ``scope``'s key for ``request``, or the response to replay instead.

    Raises Unprocessable when the key was used for a different request, Conflict when the
    request that holds it is still running. A dead key (expired but not purged yet, or in
    flight past its lease: its request died) is claimed anew, whatever it was used for."""
    owner = uuid.uuid4()
    values = {
        "method": request.method,
        "path": request.path[:2048],
        "fingerprint": request.fingerprint,
        "state": KeyState.in_flight,
        "owner": owner,
        "lease_until": now + lease,
        "status_code": None,
        "response_headers": None,
        "response_body": None,
        "created_at": now,
        "expires_at": now + ttl,
    }
    if repo.insert_claim(session, scope, values):
        return Claim(scope, owner)
    row = repo.get(session, scope)
    if row is None:
        # Purged between the two statements: the key is free again.
        if repo.insert_claim(session, scope, values):
            return Claim(scope, owner)
        raise in_progress(scope.key)
    dead = row.expires_at <= now or (
        row.state == KeyState.in_flight and row.lease_until is not None and row.lease_until <= now
    )
    if not dead:
        # A live key: the request it was first used for, answered or still running.
        if row.fingerprint != request.fingerprint:
            raise Unprocessable(
                f"Idempotency-Key {scope.key!r} was already used for a different request "
                f"({row.method} {row.path} with another body); use a new key",
                code=REUSED,
            )
        if row.state == KeyState.done:
            return StoredResponse(
                status_code=row.status_code or 200,
                headers=[(name, value) for name, value in row.response_headers or []],
                body=row.response_body or b"",
            )
        raise in_progress(scope.key)
    if repo.take_over(session, scope, row.owner, now, values):
        return Claim(scope, owner)
    raise in_progress(scope.key)


def complete(session: Session, held: Claim, response: StoredResponse) -> None:
    repo.complete(
        session,
        held.scope,
        held.owner,
        response.status_code,
        [[name, value] for name, value in response.headers],
        response.body,
    )


def release(session: Session, held: Claim) -> None:
    repo.release(session, held.scope, held.owner)


def purge(session: Session, now: datetime, limit: int) -> int:
    """Delete up to ``limit`` expired keys; how many went."""
    return repo.purge_expired(session, now, limit)
