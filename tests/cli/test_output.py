"""The output contract of the remote commands (rosterd.cli.output): one exit code per kind of
SDK error, the message on stderr without a traceback, and stable --json shapes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from rosterd.cli.output import ExitCode, exit_code_of
from rosterd.client import errors
from tests.cli.remote_harness import RemoteCli, remote_cli
from tests.client.mock_server import body, user_json

__all__ = ["remote_cli"]

USER_ID = user_json(1)["id"]
USERS = "/integration/v2/users"


def _error(status: int, code: str, details: list[dict[str, str]] | None = None) -> httpx.Response:
    envelope = {"error": {"code": code, "message": f"it is {code}", "details": details or []}}
    headers = {"Retry-After": "999", "X-Request-ID": "req-1"} if status == 429 else {}
    return httpx.Response(status, json=envelope, headers=headers)


@pytest.mark.parametrize(
    ("status", "details", "expected"),
    [
        (401, None, ExitCode.AUTH),
        (403, None, ExitCode.AUTH),
        (404, None, ExitCode.NOT_FOUND),
        (409, None, ExitCode.CONFLICT),
        (412, None, ExitCode.CONFLICT),
        (429, None, ExitCode.RATE_LIMITED),
        (400, [{"field": "email", "message": "not an address"}], ExitCode.VALIDATION),
        (422, None, ExitCode.VALIDATION),
        (500, None, ExitCode.ERROR),
    ],
)
def test_each_kind_of_error_ends_with_its_exit_code_and_a_message(
    remote_cli: RemoteCli, status: int, details: Any, expected: ExitCode
) -> None:
    remote_cli.login()
    remote_cli.server.routes[f"GET {USERS}/{USER_ID}"] = lambda r: _error(status, "bad", details)
    result = remote_cli.run("users", "get", USER_ID, "--json")
    assert result.exit_code == expected, (result.stderr, result.exception)
    assert result.stdout == ""
    assert "error:" in result.stderr and "Traceback" not in result.output
    if details:
        assert "email: not an address" in result.stderr


def test_no_answer_is_exit_code_8(remote_cli: RemoteCli) -> None:
    remote_cli.login()

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    remote_cli.server.routes[f"GET {USERS}/{USER_ID}"] = unreachable
    result = remote_cli.run("users", "get", USER_ID)
    assert result.exit_code == ExitCode.UNREACHABLE
    assert "no answer from the server" in result.stderr


def test_every_sdk_error_has_a_code_and_the_specific_ones_win() -> None:
    kw: dict[str, Any] = {"status": 400}
    assert exit_code_of(errors.ValidationError("x", field_errors={}, **kw)) == 7
    assert exit_code_of(errors.APIError("x", **kw)) == ExitCode.ERROR
    assert exit_code_of(errors.ServerError("x", status=503)) == ExitCode.ERROR
    assert exit_code_of(errors.RateLimited("x", retry_after=1, status=429)) == 6


def _pages(request: httpx.Request) -> httpx.Response:
    """Two keyset pages of users: 1 and 2, then 3."""
    if request.url.params.get("cursor") == "c2":
        return httpx.Response(200, json={"items": [user_json(3)], "totalCount": 3})
    page = {"items": [user_json(1), user_json(2)], "totalCount": 3, "nextCursor": "c2"}
    return httpx.Response(200, json=page)


def test_users_list_json_is_items_of_every_page_and_limit_stops_early(
    remote_cli: RemoteCli,
) -> None:
    remote_cli.login()
    remote_cli.server.routes[f"GET {USERS}"] = _pages
    listed = remote_cli.json("users", "list", "--status", "active")
    assert list(listed) == ["items"]
    assert [u["username"] for u in listed["items"]] == ["u1", "u2", "u3"]
    assert listed["items"][0]["firstName"] == "U" and "lastLoginAt" in listed["items"][0]
    asked = remote_cli.server.calls(USERS)
    assert all(r.url.params["status"] == "active" for r in asked)
    assert all(r.url.params["sortBy"] == "createdAt" for r in asked)
    limited = remote_cli.json("users", "list", "--limit", "1")["items"]
    assert [u["username"] for u in limited] == ["u1"]
    table = remote_cli.ok("users", "list").stdout
    assert "u1@example.com" in table and "u3@example.com" in table


def test_single_objects_print_the_object(remote_cli: RemoteCli) -> None:
    remote_cli.login()
    created: list[Any] = []

    def create(request: httpx.Request) -> httpx.Response:
        created.append(body(request))
        return httpx.Response(201, json=user_json(7, title="CTO"), headers={"ETag": 'W/"1"'})

    remote_cli.server.routes[f"POST {USERS}"] = create
    made = remote_cli.json(
        "users", "create", "--email", "u7@example.com", "--first-name", "U", "--last-name", "7",
        "--title", "CTO",
    )  # fmt: skip
    assert made["id"] == user_json(7)["id"] and made["title"] == "CTO"
    assert created == [
        {"email": "u7@example.com", "firstName": "U", "lastName": "7", "title": "CTO"}
    ]
    # POSTs carry an Idempotency-Key (the SDK adds it).
    assert remote_cli.server.calls(USERS)[-1].headers.get("Idempotency-Key")


def test_a_user_is_found_by_email(remote_cli: RemoteCli) -> None:
    remote_cli.login()
    remote_cli.server.routes[f"GET {USERS}"] = lambda r: httpx.Response(
        200, json={"items": [user_json(2)] if r.url.params.get("email") else [], "totalCount": 1}
    )
    remote_cli.server.routes[f"GET {USERS}/{user_json(2)['id']}"] = lambda r: httpx.Response(
        200, json=user_json(2)
    )
    assert remote_cli.json("users", "get", "u2@example.com")["username"] == "u2"
    remote_cli.server.routes[f"GET {USERS}"] = lambda r: httpx.Response(
        200, json={"items": [], "totalCount": 0}
    )
    missing = remote_cli.run("users", "get", "nobody@example.com")
    assert missing.exit_code == ExitCode.NOT_FOUND and "nobody@example.com" in missing.stderr
