"""The request id and the body limit, on a bare ASGI app: the framings a server can deliver.

What the surfaces answer (413 in each one's format, chunked or not, over a real socket) is
in test_http_edges.py; here, the cases a TestClient cannot send: a body without
Content-Length or Transfer-Encoding on HTTP/2, a Content-Length that is not a number.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from rosterd.api.middleware import BodyLimitMiddleware, RequestIdMiddleware

LIMIT = 100


async def _echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body and answers its length, and the request id it was given."""
    body = await Request(scope, receive).body()
    rid = scope.get("state", {}).get("request_id")
    await JSONResponse({"length": len(body), "request_id": rid})(scope, receive, send)


def _too_large(_request: Request, limit: int) -> Response:
    return JSONResponse({"too_large": limit}, status_code=413)


def _call(
    app: Any, *, headers: list[tuple[bytes, bytes]], chunks: list[bytes], http_version: str = "1.1"
) -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {
        "type": "http",
        "http_version": http_version,
        "method": "POST",
        "path": "/anything",
        "headers": headers,
        "query_string": b"",
    }
    pending: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": i + 1 < len(chunks)}
        for i, chunk in enumerate(chunks or [b""])
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


def _limited() -> BodyLimitMiddleware:
    return BodyLimitMiddleware(_echo_length, limit=LIMIT, too_large=_too_large)


@pytest.mark.parametrize(
    ("http_version", "headers"),
    [
        ("2", []),  # HTTP/2 needs no Content-Length: the body is counted as it comes
        ("1.1", [(b"transfer-encoding", b"chunked")]),
        ("1.1", [(b"content-length", b"abc")]),  # not a length: counted, not believed
        ("1.1", [(b"content-length", b"10"), (b"transfer-encoding", b"chunked")]),
    ],
    ids=["http2-no-length", "chunked", "bad-content-length", "chunked-wins"],
)
def test_a_body_without_a_believable_length_is_counted(
    http_version: str, headers: list[tuple[bytes, bytes]]
) -> None:
    chunks = [b"x" * 60, b"x" * 60]  # 120 bytes, over the limit only with the second
    status, _, body = _call(_limited(), headers=headers, chunks=chunks, http_version=http_version)
    assert status == 413 and b'"too_large":100' in body
    # Under the limit, the same framing is read whole.
    status, _, body = _call(_limited(), headers=headers, chunks=[b"x" * 60, b"x" * 30])
    assert status == 200 and b'"length":90' in body


def test_a_content_length_over_the_limit_is_refused_before_the_app_reads() -> None:
    read = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal read
        read = True
        await _echo_length(scope, receive, send)

    limited = BodyLimitMiddleware(app, limit=LIMIT, too_large=_too_large)
    status, _, _ = _call(limited, headers=[(b"content-length", b"101")], chunks=[b"x" * 101])
    assert status == 413 and not read
    status, _, body = _call(limited, headers=[(b"content-length", b"100")], chunks=[b"x" * 100])
    assert status == 200 and b'"length":100' in body


def test_an_http1_request_without_length_or_chunks_has_no_body() -> None:
    status, _, body = _call(_limited(), headers=[], chunks=[])
    assert status == 200 and b'"length":0' in body


def test_a_request_gets_a_fresh_id_unless_it_sends_a_sane_one() -> None:
    app = RequestIdMiddleware(_echo_length)
    ids = set()
    for sent in ([], [(b"x-request-id", b"has spaces")], [(b"x-request-id", b"x" * 65)]):
        _, headers, body = _call(app, headers=sent, chunks=[])
        rid = headers[b"x-request-id"].decode()
        assert re.fullmatch(r"[0-9a-f]{16}", rid), rid
        assert f'"request_id":"{rid}"'.encode() in body  # the app sees the one answered
        ids.add(rid)
    assert len(ids) == 3
    _, headers, _ = _call(app, headers=[(b"x-request-id", b"okta-7:abc.1")], chunks=[])
    assert headers[b"x-request-id"] == b"okta-7:abc.1"
