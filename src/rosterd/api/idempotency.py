"""Idempotency-Key on the POSTs of /integration/v2, /api/v1, the ADMIN users API and user
identities (draft-ietf-httpapi-idempotency-key-header).

Two halves, because a key belongs to a tenant's credential and the credential is known only
once a surface has authenticated the request:

- ``idempotent(authenticate)`` wraps a surface's authentication dependency: once it has the
  Actor, a POST carrying the header claims its key (``rosterd.services.idempotency``) before
  the endpoint runs. A key already answered replays its stored response (``Replay``, turned
  into that response by ``replay_response``); a key used for another request is a 422, one
  whose request still runs a 409, each in the surface's error format.
- ``IdempotencyMiddleware`` holds back the response of a request that claimed its key,
  stores it below 500 before sending it (so a retry the moment it arrives replays it), and
  frees the key on a 5xx or an exception, so a retry runs again.
"""

# No ``from __future__ import annotations``: FastAPI must see the wrapped dependency in
# ``idempotent``'s Annotated parameter, which a string annotation could not name.
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rosterd.models.base import utcnow
from rosterd.runtime import Runtime
from rosterd.services import idempotency
from rosterd.services.context import Actor
from rosterd.services.errors import invalid_field

log = logging.getLogger("rosterd.idempotency")

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# Where the claim a request holds waits for the middleware, in the ASGI scope's state.
CLAIM = "idempotency_claim"
# The response headers a replay repeats; the others (request id, rate-limit fields, length)
# belong to each exchange and are written afresh.
KEPT_HEADERS = frozenset({"content-type", "location", "etag", "last-modified", "content-location"})
_HEADER_BYTES = HEADER.lower().encode()
# Top-level fields of a JSON response left out of what is stored for replays (in the ASGI
# scope's state): ``redact_from_replays``.
REDACT = "idempotency_redact"


def redact_from_replays(request: Request, *fields: str) -> None:
    """Store this response for replays with ``fields`` (top-level keys of its JSON body)
    set to null: a secret shown once is never kept in the store in clear, and a replay
    does not show it again."""
    request.scope.setdefault("state", {})[REDACT] = fields


def _redacted(scope: Scope, body: bytes) -> bytes:
    fields = scope.get("state", {}).get(REDACT)
    if not fields:
        return body
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if isinstance(data, dict):
        data.update({name: None for name in fields if name in data})
    return orjson.dumps(data)


class Replay(Exception):
    """Raised by the claim when the key was answered before: send ``stored`` again."""

    def __init__(self, stored: idempotency.StoredResponse) -> None:
        super().__init__("replay")
        self.stored = stored


async def replay_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replay)
    stored = exc.stored
    response = Response(content=stored.body, status_code=stored.status_code)
    for name, value in stored.headers:
        response.headers[name] = value
    response.headers[REPLAYED] = "true"
    return response


def key_of(raw: str | None) -> str | None:
    """The Idempotency-Key a header value names, unquoted (the draft sends it as a
    structured-field string, many clients bare), or None without one; 400 if it is empty,
    too long or not printable ASCII."""
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        raise invalid_field(HEADER, f"must be 1 to {MAX_KEY_LENGTH} printable ASCII characters")
    return key


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests the same request: sha256 of method, path, query and body."""
    digest = hashlib.sha256()
    for part in (method, path, query):
        digest.update(part.encode())
        digest.update(b"\n")
    digest.update(body)
    return digest.hexdigest()


def _claim(
    runtime: Runtime, scope: idempotency.Scope, request: idempotency.Request
) -> idempotency.Claim | idempotency.StoredResponse:
    settings = runtime.settings
    with runtime.db.writer.begin() as session:
        return idempotency.claim(
            session,
            scope,
            request,
            now=utcnow(),
            ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
            lease=timedelta(seconds=settings.idempotency_lease_seconds),
        )


def idempotent(authenticate: Callable[..., Any]) -> Callable[..., Awaitable[Actor]]:
    """A dependency yielding ``authenticate``'s Actor, after a POST with an Idempotency-Key
    has claimed its key (or raised the replay or the refusal its key calls for).

    The header is declared, so the operations that take it say so in /openapi.json;
    ``document`` keeps it on their POSTs only (other methods ignore it)."""

    async def claimed(
        request: Request,
        actor: Annotated[Actor, Depends(authenticate)],
        idempotency_key: Annotated[str | None, Header(alias=HEADER)] = None,
    ) -> Actor:
        state = request.scope.setdefault("state", {})
        if request.method != "POST" or CLAIM in state:
            return actor
        key = key_of(idempotency_key)
        if key is None:
            return actor
        body = await request.body()
        runtime: Runtime = request.app.state.runtime
        outcome = await run_in_threadpool(
            _claim,
            runtime,
            idempotency.Scope(actor.tenant_id, actor.actor, key),
            idempotency.Request(
                request.method,
                request.url.path,
                fingerprint(request.method, request.url.path, request.url.query, body),
            ),
        )
        if isinstance(outcome, idempotency.StoredResponse):
            raise Replay(outcome)
        state[CLAIM] = outcome
        return actor

    return claimed


KEY_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "Makes the request safe to retry (draft-ietf-httpapi-idempotency-key-header): "
    "a unique value per request, e.g. a UUID, 1 to 255 printable ASCII characters. A retry "
    "with the same key and the same request (method, path, query and body) gets the first "
    "response again, with `Idempotent-Replayed: true`, and changes nothing. The same key with a "
    "different request is answered 422, and while the first request is still running 409. "
    "Keys belong to the credential that sent them and are kept "
    "`ROSTERD_IDEMPOTENCY_TTL_SECONDS` (24 hours by default); a response of 500 or above is "
    "not kept, so its retry runs again.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}


REPLAYED_HEADER = {
    "description": "`true` when this is the stored response to an earlier request with the "
    "same Idempotency-Key.",
    "schema": {"type": "string", "enum": ["true"]},
}


IN_PROGRESS = "Conflict, or a request with this Idempotency-Key is still running."
REUSED = "This Idempotency-Key was used for a different request."


def document(schema: dict[str, Any]) -> None:
    """Describe the Idempotency-Key parameter, with its 409 and 422 and the replay header,
    on the POST operations that declare it, and drop it from the other methods' (the
    dependency that declares it serves every method of a surface)."""
    for item in schema.get("paths", {}).values():
        for method, operation in item.items():
            parameters = operation.get("parameters", [])
            kept = [p for p in parameters if not (p["name"] == HEADER and p["in"] == "header")]
            if len(kept) == len(parameters):
                continue
            if method != "post":
                operation["parameters"] = kept
                if not kept:
                    del operation["parameters"]
                continue
            operation["parameters"] = [*kept, dict(KEY_PARAMETER)]
            responses = operation.setdefault("responses", {})
            responses.setdefault("409", {"description": IN_PROGRESS})
            declared = responses.setdefault("422", {"description": REUSED})
            if declared["description"] != REUSED:
                declared["description"] += f" Also: {REUSED[:1].lower()}{REUSED[1:]}"
            for code, answer in responses.items():
                if code.startswith("2"):
                    answer.setdefault("headers", {})[REPLAYED] = REPLAYED_HEADER


class IdempotencyMiddleware:
    """Stores the response of a request that claimed an Idempotency-Key, or frees the key.

    Only a POST carrying the header is looked at; any other request passes straight through.
    """

    def __init__(self, app: ASGIApp, *, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not any(name == _HEADER_BYTES for name, _ in scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []
        settled = False

        def held() -> idempotency.Claim | None:
            claim: idempotency.Claim | None = scope.get("state", {}).get(CLAIM)
            return claim

        async def holding_send(message: Message) -> None:
            nonlocal start, settled
            claim = held()
            if claim is None or settled:
                await send(message)
                return
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            settled = True
            await self._settle(claim, start, _redacted(scope, body))
            await send(start)
            await send({"type": "http.response.body", "body": body})

        try:
            await self.app(scope, receive, holding_send)
        except Exception:
            claim = held()
            if claim is not None and not settled:
                settled = True
                await self._release(claim)
            raise

    async def _settle(self, claim: idempotency.Claim, start: Message, body: bytes) -> None:
        status = int(start["status"])
        if status >= 500:
            await self._release(claim)
            return
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in start.get("headers", [])
            if name.decode("latin-1").lower() in KEPT_HEADERS
        ]
        stored = idempotency.StoredResponse(status, headers, body)
        try:
            await run_in_threadpool(self._write, idempotency.complete, claim, stored)
        except Exception:
            # The client still gets its answer; the key frees itself when its lease ends.
            log.exception("could not store the response of Idempotency-Key %r", claim.scope.key)

    async def _release(self, claim: idempotency.Claim) -> None:
        try:
            await run_in_threadpool(self._write, idempotency.release, claim)
        except Exception:
            log.exception("could not free Idempotency-Key %r", claim.scope.key)

    def _write(self, write: Callable[..., None], *args: Any) -> None:
        with self.runtime.db.writer.begin() as session:
            write(session, *args)
