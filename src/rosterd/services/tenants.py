"""Tenants and what every new tenant starts with."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from rosterd.models import Role, Tenant
from rosterd.ratelimit.policy import check_limits
from rosterd.ratelimit.tenant_policies import CREDENTIAL, TENANT
from rosterd.repositories import roles as roles_repo
from rosterd.repositories import tenants as tenants_repo
from rosterd.repositories import users as users_repo
from rosterd.services import audit
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, NotFound, invalid_field

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

SYSTEM_ROLES: tuple[tuple[str, str, list[str]], ...] = (
    ("Admin", "Full control of the tenant.", ["users:*", "groups:*", "roles:*", "teams:*"]),
    ("Manager", "Manages the members of their teams.", ["users:read", "teams:write"]),
    ("User", "A regular member.", ["users:read:self"]),
    ("Viewer", "Read-only access.", ["users:read", "groups:read"]),
)


def create_tenant(session: Session, slug: str, name: str | None = None) -> Tenant:
    if not SLUG_RE.match(slug):
        raise invalid_field("slug", "use 1-63 lowercase letters, digits and inner hyphens")
    if tenants_repo.get_by_slug(session, slug) is not None:
        raise Conflict(f"tenant {slug!r} already exists")
    tenant = tenants_repo.add(session, Tenant(slug=slug, name=name or slug, settings={}))
    for role_name, description, permissions in SYSTEM_ROLES:
        roles_repo.add(
            session,
            Role(
                tenant_id=tenant.id,
                name=role_name,
                description=description,
                permissions=permissions,
                is_system=True,
            ),
        )
    return tenant


def get_tenant_by_slug(session: Session, slug: str) -> Tenant:
    tenant = tenants_repo.get_by_slug(session, slug)
    if tenant is None:
        raise NotFound(f"tenant {slug!r} not found")
    return tenant


SCIM_DELETE_SETTING = "scim_delete"
SCIM_DELETE_MODES = ("delete", "deactivate")


def scim_delete_deactivates(session: Session, tenant_id: uuid.UUID) -> bool:
    """Whether SCIM DELETE deactivates (keeps) users in this tenant rather than removing them."""
    tenant = tenants_repo.get(session, tenant_id)
    return tenant is not None and tenant.settings.get(SCIM_DELETE_SETTING) == "deactivate"


def set_scim_delete(session: Session, tenant: Tenant, mode: str) -> None:
    if mode not in SCIM_DELETE_MODES:
        raise invalid_field("scim_delete", f"use one of {', '.join(SCIM_DELETE_MODES)}")
    tenant.settings = {**tenant.settings, SCIM_DELETE_SETTING: mode}


SSO_ONLY_SETTING = "sso_only"


def sso_only(session: Session, tenant_id: uuid.UUID) -> bool:
    """Whether users sign in only through SSO here, so /api/v1 creates them without passwords."""
    tenant = tenants_repo.get(session, tenant_id)
    return tenant is not None and bool(tenant.settings.get(SSO_ONLY_SETTING))


def set_sso_only(session: Session, tenant: Tenant, value: bool) -> None:
    tenant.settings = {**tenant.settings, SSO_ONLY_SETTING: value}


SHARED_EMAILS_SETTING = "shared_emails"


def shared_emails(session: Session, tenant_id: uuid.UUID) -> bool:
    """Whether users of this tenant may share an email address (their IdP has such users);
    by default an address belongs to one user, and a second is a 409."""
    tenant = tenants_repo.get(session, tenant_id)
    return tenant is not None and emails_shared_in(tenant.settings)


def emails_shared_in(settings: Mapping[str, Any]) -> bool:
    """``shared_emails`` of a tenant whose settings were read already."""
    return bool(settings.get(SHARED_EMAILS_SETTING))


def set_shared_emails(session: Session, tenant: Tenant, value: bool) -> None:
    """Allow or forbid shared addresses. Forbidding them again is refused while users still
    share one, naming the first such address."""
    if not value:
        shared = users_repo.first_shared_email(session, tenant.id)
        if shared is not None:
            raise invalid_field("shared_emails", f"users still share the address {shared!r}")
        users_repo.hold_emails_unique(session, tenant.id)
    tenant.settings = {**tenant.settings, SHARED_EMAILS_SETTING: value}


RATE_LIMITS_SETTING = "rate_limits"
RATE_LIMIT_SCOPES = (CREDENTIAL, TENANT)


def rate_limits(session: Session, tenant_id: uuid.UUID) -> dict[str, str]:
    """The tenant's own rate limits by scope ("credential", "tenant"), in the limits
    library's notation; a scope not here uses the settings' limit."""
    tenant = tenants_repo.get(session, tenant_id)
    own = tenant.settings.get(RATE_LIMITS_SETTING) if tenant is not None else None
    if not isinstance(own, dict):
        return {}
    return {k: v for k, v in own.items() if k in RATE_LIMIT_SCOPES and isinstance(v, str)}


def set_rate_limit(session: Session, tenant: Tenant, scope: str, limit: str | None) -> None:
    """Give the tenant its own limit for ``scope`` ('3000/minute', '50/second;3000/minute'),
    or with None let it use the settings' limit again."""
    if scope not in RATE_LIMIT_SCOPES:
        raise invalid_field("rate_limit", f"use one of {', '.join(RATE_LIMIT_SCOPES)}")
    own = rate_limits(session, tenant.id)
    if limit is None:
        own.pop(scope, None)
    else:
        try:
            own[scope] = check_limits(limit)
        except ValueError as exc:
            raise invalid_field(f"rate_limit_per_{scope}", str(exc)) from exc
    tenant.settings = {**tenant.settings, RATE_LIMITS_SETTING: own}


IDLE_SWEEP_GUARD_SETTING = "idle_sweep_guard"
# An idle sweep touching more than this share of the tenant's active users (in percent), or
# more than this many users, is held until an admin client confirms it.
DEFAULT_IDLE_SWEEP_GUARD = (10.0, 500)


def idle_sweep_guard(session: Session, tenant_id: uuid.UUID) -> tuple[float, int]:
    """The tenant's idle-sweep guard: (percent of active users, users)."""
    tenant = tenants_repo.get(session, tenant_id)
    own = tenant.settings.get(IDLE_SWEEP_GUARD_SETTING) if tenant is not None else None
    percent, users = DEFAULT_IDLE_SWEEP_GUARD
    if isinstance(own, dict):
        percent = float(own.get("percent", percent))
        users = int(own.get("users", users))
    return percent, users


def set_idle_sweep_guard(
    session: Session, tenant: Tenant, *, percent: float | None = None, users: int | None = None
) -> None:
    """Change the share of active users (0-100 percent) or the number of users above which
    an idle sweep is held; what is not given stays."""
    own = dict(tenant.settings.get(IDLE_SWEEP_GUARD_SETTING) or {})
    if percent is not None:
        if not 0 <= percent <= 100:
            raise invalid_field("idle_sweep_guard_percent", "use a percentage from 0 to 100")
        own["percent"] = percent
    if users is not None:
        if users < 0:
            raise invalid_field("idle_sweep_guard_users", "use a number of users, 0 or more")
        own["users"] = users
    tenant.settings = {**tenant.settings, IDLE_SWEEP_GUARD_SETTING: own}


def configure_behaviour(
    session: Session,
    tenant: Tenant,
    actor: Actor,
    *,
    scim_delete: str,
    sso_only: bool,
    shared_emails: bool,
) -> None:
    """Set the tenant's SCIM DELETE behaviour, SSO-only and shared emails together (the
    console's settings form), audited as one change when anything changed."""
    before = dict(tenant.settings)
    set_scim_delete(session, tenant, scim_delete)
    set_sso_only(session, tenant, sso_only)
    if shared_emails != emails_shared_in(tenant.settings):
        set_shared_emails(session, tenant, shared_emails)
    record_settings_change(session, tenant, actor, before)


def record_settings_change(
    session: Session, tenant: Tenant, actor: Actor, before: Mapping[str, Any]
) -> None:
    """Audit what changed in the tenant's settings since ``before`` as one event, with the
    changed settings only (nothing when nothing changed): every surface that configures a
    tenant ends with this."""
    after = tenant.settings
    changed = sorted(key for key in {*before, *after} if before.get(key) != after.get(key))
    if changed:
        audit.record(
            session,
            actor,
            "tenant.settings_changed",
            "tenant",
            tenant.id,
            before={key: before.get(key) for key in changed},
            after={key: after.get(key) for key in changed},
        )
