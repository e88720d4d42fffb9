"""Domain errors. Services raise these; each API surface renders them in its own format."""

from __future__ import annotations

from dataclasses import dataclass, field


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
class TooLarge(DomainError):
    """A request beyond an advertised limit (e.g. SCIM bulk maxOperations)."""

    code: str = "too_large"
