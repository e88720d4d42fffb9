"""rosterd's Python SDK: ``Client`` (sync) and ``AsyncClient`` over the REST v2 API.

It does what every integration otherwise writes again: OAuth client credentials with the
token renewed before it expires and once (for all concurrent callers) when refused; retries
with backoff and jitter on 429, 503 and lost connections that honour ``Retry-After`` and the
``RateLimit`` field, POSTs included because each carries an ``Idempotency-Key``; listings
that page lazily by keyset cursor; bulk helpers with a result per item; typed models; one
tree of exceptions (``rosterd.client.errors``).

Example::

    from rosterd.client import Client

    with Client("http://127.0.0.1:8080", tenant="acme",
                client_id="cl_…", client_secret="…") as client:
        user = client.users.create(email="ada@example.com", first_name="Ada",
                                   last_name="Lovelace")
        print(client.users.get(user.id).status)
"""

from rosterd.client import errors
from rosterd.client._client import AsyncClient, Client
from rosterd.client._retry import RetryPolicy
from rosterd.client.errors import (
    APIError,
    AuthError,
    BadRequest,
    Conflict,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    RateLimited,
    RosterdError,
    ServerError,
    TransportError,
    ValidationError,
)
from rosterd.client.models import (
    AuditEvent,
    BulkItem,
    Event,
    EventPage,
    Group,
    GroupMembership,
    IdleSweep,
    OffboardResult,
    PlannedUser,
    Role,
    Team,
    User,
    Webhook,
    WebhookDelivery,
)

__all__ = [
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
