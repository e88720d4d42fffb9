"""The audit log, /admin/audit: the tenant's trail, newest first, filtered, paged by keyset."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Request, Response

from rosterd.api.deps import SearchSession
from rosterd.console.pages import page, router
from rosterd.console.session import SignedInAdmin
from rosterd.repositories.audit import AuditFilter
from rosterd.services import audit as audit_service
from rosterd.services.errors import DomainError, invalid_field

PAGE_SIZE = 50
Short = Annotated[str, Query(max_length=255)]


def _moment(value: str, field: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise invalid_field(field, "give a date and time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/audit")
def audit_page(
    request: Request,
    admin: SignedInAdmin,
    session: SearchSession,
    actor: Short = "",
    action: Short = "",
    resource_type: Short = "",
    resource_id: Short = "",
    since: Short = "",
    until: Short = "",
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    filters = {
        "actor": actor,
        "action": action,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "since": since,
        "until": until,
    }
    try:
        result = audit_service.list_events(
            session,
            admin.actor,
            AuditFilter(
                actor=actor.strip() or None,
                action=action.strip() or None,
                resource_type=resource_type.strip() or None,
                resource_id=resource_id.strip() or None,
                since=_moment(since, "since"),
                until=_moment(until, "until"),
            ),
            cursor=cursor,
            limit=PAGE_SIZE,
        )
    except DomainError as exc:
        return page(
            request, "audit.html", admin, status_code=400, filters=filters, events=[],
            next_cursor=None, problem=str(exc),
        )  # fmt: skip
    return page(
        request,
        "audit.html",
        admin,
        filters=filters,
        events=result.events,
        next_cursor=result.next_cursor,
        problem=None,
    )
