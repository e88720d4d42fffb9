"""The dashboard, /admin/: users by status and by sign-in recency, and recent changes."""

from __future__ import annotations

from fastapi import Request, Response

from rosterd.api.deps import SearchSession
from rosterd.console.pages import page, router
from rosterd.console.session import SignedInAdmin
from rosterd.models.base import utcnow
from rosterd.repositories.audit import AuditFilter
from rosterd.services import audit as audit_service
from rosterd.services import dashboard

RECENT_CHANGES = 10


@router.get("/")
def dashboard_page(request: Request, admin: SignedInAdmin, session: SearchSession) -> Response:
    overview = dashboard.overview(session, admin.actor, utcnow())
    recent = audit_service.list_events(
        session, admin.actor, AuditFilter(), cursor=None, limit=RECENT_CHANGES
    )
    widest = max([1, *(bucket.users for bucket in overview.sign_in_recency)])
    return page(
        request,
        "dashboard.html",
        admin,
        overview=overview,
        widest=widest,
        recent=recent.events,
    )
