"""/integration/v2/audit-events: the audit trail, read (an extension)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Query, Response
from pydantic import AwareDatetime

from rosterd.api.deps import SearchSession
from rosterd.api.routing import api_router
from rosterd.api.v2.auth import AuditRead
from rosterd.api.v2.paging import MAX_LIMIT, errors
from rosterd.api.v2.schemas import AuditEventList, iso_timestamp
from rosterd.api.wire import Text
from rosterd.events.cloudevents import camel_keys
from rosterd.models import AuditEvent
from rosterd.repositories.audit import AuditFilter
from rosterd.services import audit as audit_service

router = api_router(prefix="/audit-events", tags=["Audit"])


def _wire(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "occurredAt": iso_timestamp(event.occurred_at),
        "actor": event.actor,
        "surface": event.surface,
        "action": event.action,
        "resourceType": event.resource_type,
        "resourceId": event.resource_id,
        "requestId": event.request_id,
        "before": camel_keys(event.before),
        "after": camel_keys(event.after),
    }


@router.get(
    "",
    operation_id="listAuditEvents",
    summary="List audit events (extension)",
    description="Every change made in the token's tenant, through any API or the scheduler, "
    "newest first, with the resource's fields before and after it. Keyset-paged: pass a "
    "page's `nextCursor` as `cursor` for the next, older page; it is absent on the last "
    "page. Needs the `audit:read` scope. Events older than `ROSTERD_AUDIT_RETENTION_DAYS` "
    "are deleted.",
    response_model=AuditEventList,
    responses=errors(400, 401, 403),
)
def list_audit_events(
    actor: AuditRead,
    session: SearchSession,
    resource_type: Annotated[
        Text | None,
        Query(alias="resourceType", max_length=32, description="e.g. user, group, role, team."),
    ] = None,
    resource_id: Annotated[
        Text | None, Query(alias="resourceId", max_length=64, description="The resource's id.")
    ] = None,
    actor_: Annotated[
        Text | None,
        Query(
            alias="actor",
            max_length=255,
            description="Who made the change, e.g. client:<OAuth client id>, scheduler.",
        ),
    ] = None,
    action: Annotated[
        Text | None, Query(max_length=64, description="e.g. user.created, group.member_added.")
    ] = None,
    since: Annotated[
        AwareDatetime | None, Query(description="Events at or after this time (RFC 3339).")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="Events before this time (RFC 3339).")
    ] = None,
    cursor: Annotated[
        Text | None, Query(max_length=64, description="`nextCursor` of the previous page.")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Events per page (at most 100).")
    ] = 50,
) -> Response:
    where = AuditFilter(
        resource_type=resource_type,
        resource_id=resource_id,
        actor=actor_,
        action=action,
        since=since,
        until=until,
    )
    page = audit_service.list_events(session, actor, where, cursor=cursor, limit=limit)
    body: dict[str, Any] = {"items": [_wire(e) for e in page.events]}
    if page.next_cursor is not None:
        body["nextCursor"] = page.next_cursor
    return Response(orjson.dumps(body), media_type="application/json")
