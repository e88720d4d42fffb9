"""The SDK against httpx.MockTransport: token refresh (before expiry, and once on a 401
however many callers were refused), retries and their waits, Idempotency-Keys, paging and
error mapping."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rosterd.client import (
    AsyncClient,
    AuthError,
    BadRequest,
    Client,
    Conflict,
    NotFound,
    PreconditionFailed,
    RateLimited,
    ServerError,
    TransportError,
    ValidationError,
    _transport,
)
from tests.client.mock_server import BASE, TOKEN_PATH, FakeServer, body, user_json

USERS = "/integration/v2/users"
U1 = user_json(1)["id"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits between tries, recorded instead of slept."""
    slept: list[float] = []

    async def async_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(_transport, "sleep", slept.append)
    monkeypatch.setattr(_transport, "async_sleep", async_sleep)
    return slept


def client_of(server: FakeServer, **kw: Any) -> Client:
    http = httpx.Client(transport=httpx.MockTransport(server.handle))
    return Client(BASE, "acme", client_id="cl", client_secret="s3cret", http_client=http, **kw)


def async_client_of(server: FakeServer, **kw: Any) -> AsyncClient:
    async def handle(request: httpx.Request) -> httpx.Response:
        # Each answer takes a moment, the token endpoint's longer, so concurrent tasks
        # interleave as they would against a server.
        await asyncio.sleep(0.05 if request.url.path == TOKEN_PATH else 0.001)
        return server.handle(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return AsyncClient(BASE, "acme", client_id="cl", client_secret="s3cret", http_client=http, **kw)


def get_user(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=user_json(1), headers={"ETag": 'W/"3"'})


# ---- tokens ------------------------------------------------------------------------------


def test_token_is_fetched_once_then_renewed_before_it_expires() -> None:
    server = FakeServer(routes={f"GET {USERS}/{U1}": get_user}, token_lifetime=300)
    clock = Clock()
    client = client_of(server, clock=clock, token_refresh_margin=60)
    user = client.users.get(U1)
    assert user.etag == 'W/"3"' and user.first_name == "U"
    client.users.get(U1)
    assert server.tokens_issued == 1
    token_request = server.calls(TOKEN_PATH)[0]
    assert b"grant_type=client_credentials" in token_request.content
    clock.now += 300 - 61  # still a minute and more to go: kept
    client.users.get(U1)
    assert server.tokens_issued == 1
    clock.now += 2  # within the margin: renewed before the server would refuse it
    client.users.get(U1)
    assert server.tokens_issued == 2
    assert server.calls(f"{USERS}/{U1}")[-1].headers["Authorization"] == "Bearer tok-2"
    assert not any(
        r.url.path != TOKEN_PATH and r.headers["Authorization"] == "Bearer tok-9"
        for r in server.seen
    )


def test_a_refused_token_is_renewed_and_the_call_tried_once_more() -> None:
    server = FakeServer(routes={f"GET {USERS}/{U1}": get_user})
    client = client_of(server)
    client.users.get(U1)
    server.refused_tokens.add("tok-1")  # revoked, or expired early
    assert client.users.get(U1).id == U1
    assert server.tokens_issued == 2
    calls = server.calls(f"{USERS}/{U1}")
    assert [c.headers["Authorization"] for c in calls] == [
        "Bearer tok-1",
        "Bearer tok-1",
        "Bearer tok-2",
    ]


def test_a_token_refused_again_after_renewal_is_an_auth_error() -> None:
    server = FakeServer(routes={f"GET {USERS}/{U1}": get_user})
    client = client_of(server)
    client.users.get(U1)
    server.refused_tokens.update({"tok-1", "tok-2", "tok-3"})
    with pytest.raises(AuthError) as caught:
        client.users.get(U1)
    assert caught.value.status == 401
    assert server.tokens_issued == 2  # one renewal, not a loop


def test_wrong_client_credentials_are_an_auth_error() -> None:
    def token(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client", "error_description": "no"})

    client = Client(
        BASE,
        "acme",
        client_id="cl",
        client_secret="wrong",
        http_client=httpx.Client(transport=httpx.MockTransport(token)),
    )
    with pytest.raises(AuthError) as caught:
        client.users.get(U1)
    assert caught.value.code == "invalid_client"
    assert "wrong" not in repr(client._tokens.state.credentials)


def _refused_together(server: FakeServer) -> None:
    """Every caller holds tok-1, which the server now refuses; the token endpoint answers
    only once all of them have been refused, so they would all ask if nothing stopped them."""
    server.refused_tokens.add("tok-1")
    server.token_delay = threading.Event()


def test_threads_refused_together_cause_one_token_request() -> None:
    server = FakeServer(routes={f"GET {USERS}/{U1}": get_user})
    client = client_of(server)
    client.users.get(U1)
    _refused_together(server)
    assert server.token_delay is not None
    results: list[str] = []

    def call() -> None:
        results.append(client.users.get(U1).id)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    # Let every thread be refused before the token endpoint answers.
    while (
        sum(
            1 for r in server.calls(f"{USERS}/{U1}") if r.headers["Authorization"] == "Bearer tok-1"
        )
        < 9
    ):
        threading.Event().wait(0.01)
    server.token_delay.set()
    for t in threads:
        t.join()
    assert results == [U1] * 8
    assert server.tokens_issued == 2  # the first token, and one renewal for all eight


def test_tasks_refused_together_cause_one_token_request() -> None:
    server = FakeServer(routes={f"GET {USERS}/{U1}": get_user})

    async def main() -> None:
        async with async_client_of(server) as client:
            await client.users.get(U1)
            server.refused_tokens.add("tok-1")
            users = await asyncio.gather(*(client.users.get(U1) for _ in range(8)))
            assert [u.id for u in users] == [U1] * 8

    asyncio.run(main())
    assert server.tokens_issued == 2
    refused = [
        r for r in server.calls(f"{USERS}/{U1}") if r.headers["Authorization"] == "Bearer tok-1"
    ]
    assert len(refused) == 9


def test_concurrent_first_calls_fetch_one_token() -> None:
    server = FakeServer(routes={f"GET {USERS}/{U1}": get_user})

    async def main() -> None:
        async with async_client_of(server) as client:
            await asyncio.gather(*(client.users.get(U1) for _ in range(5)))

    asyncio.run(main())
    assert server.tokens_issued == 1


def refreshing_async_client_of(server: FakeServer, kept: list[str], **kw: Any) -> AsyncClient:
    """A public client's AsyncClient with the refresh token ``rrt-0``; rotated ones go to
    ``kept``."""
    server.refresh_tokens.add("rrt-0")

    async def handle(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05 if request.url.path == TOKEN_PATH else 0.001)
        return server.handle(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return AsyncClient(
        BASE,
        "acme",
        client_id="cl",
        refresh_token="rrt-0",
        on_refresh_token=kept.append,
        http_client=http,
        **kw,
    )


def _form(request: httpx.Request) -> dict[str, str]:
    return dict(httpx.QueryParams(request.content.decode()))


def test_an_async_client_with_a_refresh_token_rotates_it_and_hands_each_on() -> None:
    server = FakeServer(routes={f"GET {USERS}/{U1}": get_user}, token_lifetime=300)
    clock, kept = Clock(), []

    async def main() -> None:
        async with refreshing_async_client_of(server, kept, clock=clock) as client:
            await client.users.get(U1)
            clock.now += 300  # the access token is due: renewed with the rotated token
            await client.users.get(U1)

    asyncio.run(main())
    forms = [_form(r) for r in server.calls(TOKEN_PATH)]
    assert forms == [
        {"client_id": "cl", "grant_type": "refresh_token", "refresh_token": "rrt-0"},
        {"client_id": "cl", "grant_type": "refresh_token", "refresh_token": "rrt-1"},
    ]
    assert kept == ["rrt-1", "rrt-2"]
    assert server.calls(f"{USERS}/{U1}")[-1].headers["Authorization"] == "Bearer tok-2"


def test_tasks_refused_together_rotate_the_refresh_token_once() -> None:
    server = FakeServer(routes={f"GET {USERS}/{U1}": get_user})
    kept: list[str] = []

    async def main() -> None:
        async with refreshing_async_client_of(server, kept) as client:
            await client.users.get(U1)
            server.refused_tokens.add("tok-1")
            users = await asyncio.gather(*(client.users.get(U1) for _ in range(8)))
            assert [u.id for u in users] == [U1] * 8

    asyncio.run(main())
    # One renewal for all eight: a second would present the spent rrt-1 and be refused.
    assert server.tokens_issued == 2
    assert kept == ["rrt-1", "rrt-2"]
    assert [_form(r)["refresh_token"] for r in server.calls(TOKEN_PATH)] == ["rrt-0", "rrt-1"]


def test_a_refused_refresh_token_is_an_auth_error_and_nothing_is_kept() -> None:
    """The token endpoint's 400 invalid_grant is a sign-in refused (AuthError), not a
    request refused as invalid (BadRequest)."""
    server = FakeServer(routes={f"GET {USERS}/{U1}": get_user})
    kept: list[str] = []

    async def main() -> None:
        async with refreshing_async_client_of(server, kept) as client:
            server.refresh_tokens.clear()  # revoked, or rotated by someone else
            with pytest.raises(AuthError) as refused:
                await client.users.get(U1)
            assert (refused.value.status, refused.value.code) == (400, "invalid_grant")
            assert not isinstance(refused.value, BadRequest)

    asyncio.run(main())
    assert kept == [] and server.calls(f"{USERS}/{U1}") == []


def test_an_async_client_needs_a_secret_or_a_refresh_token() -> None:
    with pytest.raises(ValueError, match="refresh token"):
        AsyncClient(BASE, "acme", client_id="cl")


# ---- retries -----------------------------------------------------------------------------


def scripted(*responses: httpx.Response) -> Iterator[httpx.Response]:
    yield from responses


def test_429_waits_as_retry_after_says_then_succeeds(waits: list[float]) -> None:
    answers = scripted(
        httpx.Response(
            429,
            headers={"Retry-After": "7"},
            json={"error": {"code": "rate_limited", "message": "slow", "details": []}},
        ),
        httpx.Response(429, headers={"RateLimit": '"per-credential";r=0;t=3'}, json={}),
        httpx.Response(503, json={}),
        httpx.Response(200, json=user_json(1)),
    )
    server = FakeServer(routes={f"GET {USERS}/{U1}": lambda r: next(answers)})
    client = client_of(server)
    assert client.users.get(U1).id == U1
    assert waits[:2] == [7.0, 3.0]
    assert 0 <= waits[2] <= 0.5 * 2**2  # no hint: backoff with jitter
    assert len(waits) == 3


def test_retries_are_bounded_and_the_last_answer_raised(waits: list[float]) -> None:
    def always(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429,
            headers={"Retry-After": "2", "X-Request-ID": "req-1"},
            json={"error": {"code": "rate_limited", "message": "slow down", "details": []}},
        )

    server = FakeServer(routes={f"GET {USERS}/{U1}": always})
    client = client_of(server, max_retries=2)
    with pytest.raises(RateLimited) as caught:
        client.users.get(U1)
    assert caught.value.retry_after == 2.0
    assert caught.value.request_id == "req-1"
    assert caught.value.message == "slow down"
    assert len(server.calls(f"{USERS}/{U1}")) == 3
    assert waits == [2.0, 2.0]


def test_a_spent_limit_on_a_success_holds_the_next_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.now += seconds

    monkeypatch.setattr(_transport, "sleep", sleep)
    answers = scripted(
        httpx.Response(200, json=user_json(1), headers={"RateLimit": '"per-credential";r=0;t=2'}),
        httpx.Response(200, json=user_json(1), headers={"RateLimit": '"per-credential";r=9;t=1'}),
        httpx.Response(200, json=user_json(1)),
    )
    server = FakeServer(routes={f"GET {USERS}/{U1}": lambda r: next(answers)})
    client = client_of(server, clock=clock)
    client.users.get(U1)
    assert waits == []
    client.users.get(U1)  # held until the limit resets, rather than sent to be refused
    assert waits == [2.0]
    client.users.get(U1)  # r=9: nothing to wait for
    assert len(waits) == 1


def test_a_wait_longer_than_max_wait_is_raised_not_slept(waits: list[float]) -> None:
    server = FakeServer(
        routes={
            f"GET {USERS}/{U1}": lambda r: httpx.Response(
                429, headers={"Retry-After": "3600"}, json={}
            )
        }
    )
    with pytest.raises(RateLimited) as caught:
        client_of(server).users.get(U1)
    assert caught.value.retry_after == 3600 and waits == []


def test_backoff_grows_and_is_jittered(waits: list[float]) -> None:
    server = FakeServer(routes={f"GET {USERS}/{U1}": lambda r: httpx.Response(503, json={})})
    with pytest.raises(ServerError):
        client_of(server, max_retries=6).users.get(U1)
    assert len(waits) == 6
    assert all(0 <= w <= min(30, 0.5 * 2**i) for i, w in enumerate(waits))
    assert len(set(waits)) > 1


def test_post_retries_reuse_one_idempotency_key(waits: list[float]) -> None:
    answers = scripted(
        httpx.Response(503, json={}),
        httpx.Response(429, headers={"Retry-After": "1"}, json={}),
        httpx.Response(201, json=user_json(2)),
    )
    server = FakeServer(routes={f"POST {USERS}": lambda r: next(answers)})
    client = client_of(server)
    user = client.users.create(email="u2@example.com", first_name="U", last_name="2", title="x")
    assert user.username == "u2"
    posts = server.calls(USERS)
    keys = {p.headers["Idempotency-Key"] for p in posts}
    assert len(posts) == 3 and len(keys) == 1
    assert body(posts[0]) == {
        "email": "u2@example.com",
        "firstName": "U",
        "lastName": "2",
        "title": "x",
    }
    # The next call is another operation: another key.
    answers = scripted(httpx.Response(201, json=user_json(3)))
    client.users.create(email="u3@example.com", first_name="U", last_name="3")
    assert server.calls(USERS)[-1].headers["Idempotency-Key"] not in keys


def test_a_retry_meeting_its_first_try_still_running_waits_for_it(waits: list[float]) -> None:
    answers = scripted(
        error(409, "idempotency_key_in_progress"),
        httpx.Response(201, json=user_json(2), headers={"Idempotent-Replayed": "true"}),
    )
    server = FakeServer(routes={f"POST {USERS}": lambda r: next(answers)})
    user = client_of(server).users.create(email="u2@example.com", first_name="U", last_name="2")
    assert user.username == "u2" and len(waits) == 1
    # Any other 409 is the answer: the user is already there.
    server = FakeServer(routes={f"POST {USERS}": lambda r: error(409, "conflict")})
    with pytest.raises(Conflict):
        client_of(server).users.create(email="u2@example.com", first_name="U", last_name="2")
    assert len(waits) == 1


def test_a_chosen_idempotency_key_is_sent(waits: list[float]) -> None:
    server = FakeServer(routes={f"POST {USERS}": lambda r: httpx.Response(201, json=user_json(2))})
    client_of(server).users.create(
        email="u2@example.com", first_name="U", last_name="2", idempotency_key="import-line-7"
    )
    assert server.calls(USERS)[0].headers["Idempotency-Key"] == "import-line-7"


def test_a_post_without_a_key_is_never_retried(waits: list[float]) -> None:
    server = FakeServer(routes={f"POST {USERS}": lambda r: httpx.Response(503, json={})})
    with pytest.raises(ServerError):
        client_of(server).request("POST", USERS, json={}, idempotent=False)
    posts = server.calls(USERS)
    assert len(posts) == 1 and "Idempotency-Key" not in posts[0].headers
    assert waits == []


def test_lost_connections_are_retried_then_raised(waits: list[float]) -> None:
    failures = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal failures
        failures += 1
        if failures <= 2:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=user_json(1))

    server = FakeServer(routes={f"GET {USERS}/{U1}": flaky})
    assert client_of(server).users.get(U1).id == U1
    assert len(waits) == 2

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    server = FakeServer(routes={f"GET {USERS}/{U1}": down})
    with pytest.raises(TransportError) as caught:
        client_of(server, max_retries=1).users.get(U1)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_async_retries_honour_retry_after(waits: list[float]) -> None:
    answers = scripted(
        httpx.Response(429, headers={"Retry-After": "4"}, json={}),
        httpx.Response(201, json=user_json(2)),
    )
    server = FakeServer(routes={f"POST {USERS}": lambda r: next(answers)})

    async def main() -> None:
        async with async_client_of(server) as client:
            await client.users.create(email="u2@example.com", first_name="U", last_name="2")

    asyncio.run(main())
    posts = server.calls(USERS)
    assert waits == [4.0]
    assert posts[0].headers["Idempotency-Key"] == posts[1].headers["Idempotency-Key"]


# ---- paging ------------------------------------------------------------------------------


def paged_users(total: int) -> Any:
    """GET /users by keyset cursor: the cursor is the index of the last user shown."""

    def handler(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        assert params["sortBy"] == "createdAt" and "offset" not in params
        start = int(params.get("cursor", "0"))
        limit = int(params["limit"])
        items = [user_json(n) for n in range(start + 1, min(total, start + limit) + 1)]
        page: dict[str, Any] = {"items": items, "totalCount": total, "offset": 0, "limit": limit}
        if len(items) == limit:
            page["nextCursor"] = str(start + limit)
        return httpx.Response(200, json=page)

    return handler


def test_list_pages_lazily_by_cursor() -> None:
    server = FakeServer(routes={f"GET {USERS}": paged_users(7)})
    client = client_of(server)
    users = client.users.list(page_size=3, status="active", is_active=True)
    assert server.calls(USERS) == []  # nothing read before the iteration starts
    first = next(users)
    assert first.username == "u1" and len(server.calls(USERS)) == 1
    rest = list(users)
    assert [u.username for u in [first, *rest]] == [f"u{n}" for n in range(1, 8)]
    pages = server.calls(USERS)
    assert [p.url.params.get("cursor") for p in pages] == [None, "3", "6"]
    assert pages[0].url.params["status"] == "active"
    assert pages[0].url.params["isActive"] == "true"


def test_async_list_pages_by_cursor() -> None:
    server = FakeServer(routes={f"GET {USERS}": paged_users(5)})

    async def main() -> list[str]:
        async with async_client_of(server) as client:
            return [u.username async for u in client.users.list(page_size=2)]

    assert asyncio.run(main()) == [f"u{n}" for n in range(1, 6)]
    assert len(server.calls(USERS)) == 3


def test_group_members_page_by_cursor_over_the_user_list() -> None:
    server = FakeServer(routes={f"GET {USERS}": paged_users(3)})
    members = list(client_of(server).groups.members.list("g-1", page_size=2))
    assert [u.username for u in members] == ["u1", "u2", "u3"]
    assert {p.url.params["groupId"] for p in server.calls(USERS)} == {"g-1"}


def test_roles_page_by_offset_until_the_total() -> None:
    def roles(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params.get("offset", 0)), int(request.url.params["limit"])
        items = [
            {
                "id": f"r{n}",
                "name": f"role {n}",
                "permissions": [],
                "isSystem": False,
                "userCount": 0,
                "createdAt": "2026-01-01T00:00:00.000Z",
            }
            for n in range(offset, min(5, offset + limit))
        ]
        return httpx.Response(
            200, json={"items": items, "totalCount": 5, "offset": offset, "limit": limit}
        )

    server = FakeServer(routes={"GET /integration/v2/roles": roles})
    assert [r.id for r in client_of(server).roles.list(page_size=2)] == [f"r{n}" for n in range(5)]
    assert len(server.calls("/integration/v2/roles")) == 3


def test_page_size_is_bounded() -> None:
    with pytest.raises(ValueError, match="page_size"):
        client_of(FakeServer()).users.list(page_size=500)


# ---- errors ------------------------------------------------------------------------------


def error(status: int, code: str, details: list[dict[str, str]] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": {"code": code, "message": f"{code}!", "details": details or []}},
        headers={"X-Request-ID": "rid-1"},
    )


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (error(404, "not_found"), NotFound),
        (error(409, "conflict", [{"field": "email", "message": "taken"}]), Conflict),
        (error(412, "precondition_failed"), PreconditionFailed),
        (error(500, "internal"), ServerError),
    ],
)
def test_error_statuses_map_to_types(response: httpx.Response, kind: type[Exception]) -> None:
    server = FakeServer(routes={f"GET {USERS}/{U1}": lambda r: response})
    with pytest.raises(kind) as caught:
        client_of(server).users.get(U1)
    exc: Any = caught.value
    assert exc.status == response.status_code and exc.request_id == "rid-1"
    assert exc.body == response.json() and exc.code == response.json()["error"]["code"]


def test_a_400_naming_fields_is_a_validation_error_with_them() -> None:
    details = [
        {"field": "email", "message": "not a valid email address"},
        {"field": "firstName", "message": "required"},
    ]
    server = FakeServer(routes={f"POST {USERS}": lambda r: error(400, "invalid", details)})
    with pytest.raises(ValidationError) as caught:
        client_of(server).users.create(email="nope", first_name="", last_name="x")
    assert caught.value.field_errors == {
        "email": "not a valid email address",
        "firstName": "required",
    }
    assert len(server.calls(USERS)) == 1  # a 400 is not retried


def test_create_many_reports_each_item() -> None:
    def create(request: httpx.Request) -> httpx.Response:
        sent = body(request)
        if sent["email"] == "taken@example.com":
            return error(409, "conflict")
        return httpx.Response(201, json=user_json(int(sent["lastName"])))

    server = FakeServer(routes={f"POST {USERS}": create})
    wanted = [
        {"email": "a@example.com", "first_name": "A", "last_name": "1"},
        {"email": "taken@example.com", "first_name": "B", "last_name": "2"},
        {"email": "c@example.com", "first_name": "C", "last_name": "3"},
    ]
    results = client_of(server).users.create_many(wanted, concurrency=2)
    assert [r.index for r in results] == [0, 1, 2]
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, Conflict)
    assert results[2].value is not None and results[2].value.username == "u3"

    async def main() -> list[bool]:
        async with async_client_of(server) as client:
            return [r.ok for r in await client.users.create_many(wanted)]

    assert asyncio.run(main()) == [True, False, True]


def test_if_match_is_sent_and_a_412_raised() -> None:
    server = FakeServer(routes={f"PATCH {USERS}/{U1}": lambda r: error(412, "precondition_failed")})
    with pytest.raises(PreconditionFailed):
        client_of(server).users.update(U1, title="x", if_match='W/"3"')
    sent = server.calls(f"{USERS}/{U1}")[0]
    assert sent.headers["If-Match"] == 'W/"3"' and body(sent) == {"title": "x"}


def test_an_injected_http_client_is_left_open() -> None:
    http = httpx.Client(transport=httpx.MockTransport(FakeServer().handle))
    with Client(BASE, client_id="a", client_secret="b", http_client=http):
        pass
    assert not http.is_closed
    with Client(BASE, client_id="a", client_secret="b") as own:
        pass
    assert own._http.is_closed


def test_authenticate_gets_a_token_once_and_the_next_call_uses_it() -> None:
    server = FakeServer(routes={"GET /integration/v2/users/x": lambda r: httpx.Response(404)})
    with client_of(server) as client:
        client.authenticate()
        client.authenticate()
        assert server.tokens_issued == 1
        with pytest.raises(NotFound):
            client.users.get("x")
    assert server.tokens_issued == 1


def test_authenticate_raises_auth_error_on_refused_credentials() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client"})

    http = httpx.Client(transport=httpx.MockTransport(refuse))
    with (
        Client(BASE, "acme", client_id="cl", client_secret="no", http_client=http) as client,
        pytest.raises(AuthError),
    ):
        client.authenticate()


def test_async_authenticate_gets_a_token() -> None:
    server = FakeServer()

    async def main() -> None:
        async with async_client_of(server) as client:
            await client.authenticate()

    asyncio.run(main())
    assert server.tokens_issued == 1
