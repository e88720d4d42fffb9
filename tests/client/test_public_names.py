"""Scripts import these names; removing or renaming one breaks them."""

from __future__ import annotations

import subprocess
import sys

import rosterd.client
from rosterd.client import errors


def test_public_names_are_pinned() -> None:
    assert sorted(rosterd.client.__all__) == [
        "APIError",
        "AsyncClient",
        "AuditEvent",
        "AuthError",
        "BadRequest",
        "BulkItem",
        "Client",
        "Conflict",
        "Event",
        "EventPage",
        "Group",
        "GroupMembership",
        "IdleSweep",
        "NotFound",
        "OffboardResult",
        "PermissionDenied",
        "PlannedUser",
        "PreconditionFailed",
        "RateLimited",
        "RetryPolicy",
        "Role",
        "RosterdError",
        "ServerError",
        "Team",
        "TransportError",
        "User",
        "ValidationError",
        "Webhook",
        "WebhookDelivery",
        "errors",
    ]
    for name in rosterd.client.__all__:
        assert hasattr(rosterd.client, name), name


def test_every_error_is_a_rosterd_error() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.RosterdError), name


def test_the_sdk_imports_none_of_the_server() -> None:
    """A script using the SDK loads httpx and pydantic, not FastAPI or SQLAlchemy."""
    code = (
        "import sys, rosterd.client; "
        "print(sorted(m for m in ('fastapi', 'sqlalchemy', 'starlette', 'uvicorn') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
