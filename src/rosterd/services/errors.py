"""Domain errors. Services raise these; each API surface renders them in its own format."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from rosterd.repositories.constraints import violated_unique


@dataclass
class FieldError:
    field: str
    message: str


@dataclass
class DomainError(Exception):
    message: str
    details: list[FieldError] = field(default_factory=list)
    code: str = "error"

    def __str__(self) -> str:
        return self.message


@dataclass
class NotFound(DomainError):
    code: str = "not_found"


@dataclass
class Conflict(DomainError):
    code: str = "conflict"


@dataclass
class Invalid(DomainError):
    code: str = "invalid_request"


@dataclass
class Forbidden(DomainError):
    code: str = "forbidden"


@dataclass
class Unauthenticated(DomainError):
    code: str = "unauthorized"


def invalid_field(name: str, message: str) -> Invalid:
    return Invalid(message=f"{name}: {message}", details=[FieldError(name, message)])


@dataclass
class PreconditionFailed(DomainError):
    """The caller's version (If-Match) is not the current one."""

    code: str = "precondition_failed"


@dataclass
class Unprocessable(DomainError):
    """A well-formed request the server will not act on: an Idempotency-Key already used
    for a different request."""

    code: str = "unprocessable"


def unprocessable_field(name: str, message: str) -> Unprocessable:
    """Values each well-formed that do not go together, or not with the resource as it is
    (a validFrom after the expiry): 422, naming the field."""
    return Unprocessable(message=f"{name}: {message}", details=[FieldError(name, message)])


@dataclass
class TooLarge(DomainError):
    """A request beyond an advertised limit (e.g. SCIM bulk maxOperations)."""

    code: str = "too_large"


@dataclass
class RateLimited(DomainError):
    """Too many requests for a rate limit; the caller may try again after ``retry_after``
    seconds."""

    code: str = "rate_limited"
    retry_after: int = 1


@dataclass
class Unavailable(DomainError):
    """The store cannot serve the request now (busy or unreachable); the caller may try
    again after ``retry_after`` seconds."""

    code: str = "unavailable"
    retry_after: int = 1


# Columns whose uniqueness stands for a domain field of another name.
_KEY_FIELDS = {"username_key": "username", "email_key": "email", "identity": "external_identities"}


def conflict_of(exc: IntegrityError) -> Conflict | None:
    """The conflict a unique index reports when it refused a write the domain's own checks
    let through (a concurrent writer won the race), or None for any other integrity error
    (NOT NULL, foreign key: bugs, not conflicts). The index's last column is the field that
    collided; the others scope it (tenant, group)."""
    violated = violated_unique(exc)
    if violated is None:
        return None
    table, columns = violated
    column = columns[-1] if columns else "id"
    field = _KEY_FIELDS.get(column, column)
    resource = table.removesuffix("s").replace("_", " ")
    return Conflict(
        f"a {resource} with this {field.replace('_', ' ')} was written at the same time",
        [FieldError(field, "taken")],
    )
