"""/scim/v2/Bulk (RFC 7644 §3.7).

The envelope is read by hand rather than with scim2-models' BulkRequest: that type parses
each operation's ``data`` into a resource straight away, but ``bulkId:`` references inside
it must be resolved to the ids of resources created earlier in the same request first.
Each operation then goes through the same functions as the single-resource endpoints, in a
savepoint of its own, so a failed operation changes nothing and the others still apply.

maxPayloadSize is enforced before this module runs, on the bytes as they arrive (chunked
bodies too): ``rosterd.api.app`` gives the body-limit middleware this path's limit.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Body, Request
from scim2_models import SCIMException
from sqlalchemy.orm import Session

from rosterd.api.deps import WriteSession
from rosterd.api.errors import status_for
from rosterd.api.routing import api_router
from rosterd.api.scim import errors as scim_errors
from rosterd.api.scim import groups, users
from rosterd.api.scim.auth import ScimActor
from rosterd.api.scim.discovery import MAX_BULK_OPERATIONS
from rosterd.api.scim.errors import ScimResponse
from rosterd.api.scim.mapping import Document
from rosterd.api.scim.policy import base_url
from rosterd.services.context import Actor
from rosterd.services.errors import DomainError, Invalid, TooLarge

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
_BULK_REF = re.compile(r"^bulkId:(.+)$")
_BULK_SEGMENT = re.compile(r"bulkId:[^/]+")
_PATH = re.compile(r"^/(Users|Groups)(?:/([^/]+))?$")
# Deeper than any SCIM resource (extension -> manager -> value is three levels).
MAX_DATA_DEPTH = 32

router = api_router(tags=["SCIM"])


def _resolve(value: Any, created: dict[str, str], depth: int = 0) -> Any:
    """Replace every ``bulkId:x`` string with the id the operation ``x`` created."""
    if depth > MAX_DATA_DEPTH:
        raise Invalid(f"data nested deeper than {MAX_DATA_DEPTH} levels", code="invalidSyntax")
    if isinstance(value, str):
        match = _BULK_REF.match(value)
        if match:
            if match.group(1) not in created:
                raise Invalid(
                    f"bulkId {match.group(1)!r} is not defined earlier", code="invalidValue"
                )
            return created[match.group(1)]
        return value
    if isinstance(value, list):
        return [_resolve(v, created, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, created, depth + 1) for k, v in value.items()}
    return value


def _run(
    session: Session, actor: Actor, base: str, op: dict[str, Any], created: dict[str, str]
) -> tuple[int, Document | None]:
    method = str(op.get("method", "")).upper()
    raw_path = op.get("path")
    path = (
        _BULK_SEGMENT.sub(lambda m: str(_resolve(m.group(0), created)), raw_path)
        if isinstance(raw_path, str)
        else raw_path
    )
    match = _PATH.match(path) if isinstance(path, str) else None
    if match is None:
        raise Invalid(
            f"path {path!r} is not /Users, /Groups or one of their resources", code="invalidPath"
        )
    module = users if match.group(1) == "Users" else groups
    resource_id = match.group(2)
    data = _resolve(op.get("data"), created)
    version = op.get("version")
    if method == "POST" and resource_id is None:
        if not isinstance(data, dict):
            raise Invalid("POST needs a data object", code="invalidSyntax")
        return 201, module.create(session, actor, base, data)
    if resource_id is None:
        raise Invalid(f"{method} needs a resource path", code="invalidPath")
    if method == "PUT" and isinstance(data, dict):
        return 200, module.replace(session, actor, base, resource_id, data, version)
    if method == "PATCH" and isinstance(data, dict):
        return 200, module.modify(session, actor, base, resource_id, data, version)
    if method == "DELETE":
        module.remove(session, actor, resource_id, version)
        return 204, None
    raise Invalid(f"unsupported bulk operation {method} {path}", code="invalidSyntax")


def _location(base: str, op: dict[str, Any], created: dict[str, str]) -> str | None:
    """The URL of the resource an operation names (RFC 7644 §3.7.3: ``location`` is required
    in every result but a failed POST's), or None when its path names no resource."""
    path = op.get("path")
    if not isinstance(path, str):
        return None
    try:
        path = _BULK_SEGMENT.sub(lambda m: str(_resolve(m.group(0), created)), path)
    except DomainError:
        return None
    match = _PATH.match(path)
    return f"{base}{path}" if match and match.group(2) else None


def _error(exc: Exception) -> tuple[DomainError, int]:
    if isinstance(exc, SCIMException):
        return scim_errors.from_scim_exception(exc)
    assert isinstance(exc, DomainError)
    return exc, status_for(exc)


@router.post("/Bulk", operation_id="scimBulk", summary="Bulk operations")
def bulk(
    request: Request,
    payload: Annotated[dict[str, Any], Body()],
    actor: ScimActor,
    session: WriteSession,
) -> ScimResponse:
    if BULK_REQUEST not in (payload.get("schemas") or []):
        raise Invalid(f"schemas must contain {BULK_REQUEST}", code="invalidSyntax")
    operations = payload.get("Operations")
    if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
        raise Invalid("Operations must be a list of objects", code="invalidSyntax")
    if len(operations) > MAX_BULK_OPERATIONS:
        raise TooLarge(f"more than {MAX_BULK_OPERATIONS} operations (maxOperations)")
    fail_on_errors = payload.get("failOnErrors")
    if fail_on_errors is not None and (not isinstance(fail_on_errors, int) or fail_on_errors < 1):
        raise Invalid("failOnErrors must be a positive integer", code="invalidValue")

    base = base_url(request)
    created: dict[str, str] = {}
    results: list[dict[str, Any]] = []
    failures = 0
    for op in operations:
        entry: dict[str, Any] = {"method": str(op.get("method", "")).upper()}
        if op.get("bulkId"):
            entry["bulkId"] = op["bulkId"]
        location = None if entry["method"] == "POST" else _location(base, op, created)
        if location is not None:
            entry["location"] = location
        try:
            with session.begin_nested():
                status, resource = _run(session, actor, base, op, created)
        except (DomainError, SCIMException) as exc:
            err, status = _error(exc)
            failures += 1
            entry["status"] = str(status)
            entry["response"] = scim_errors.error_body(err, status)
        else:
            entry["status"] = str(status)
            if resource is not None:
                entry["location"] = resource["meta"]["location"]
                entry["version"] = resource["meta"]["version"]
                if op.get("bulkId"):
                    created[str(op["bulkId"])] = resource["id"]
        results.append(entry)
        if fail_on_errors is not None and failures >= fail_on_errors:
            break
    return ScimResponse({"schemas": [BULK_RESPONSE], "Operations": results})
