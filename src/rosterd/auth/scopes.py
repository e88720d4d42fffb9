"""OAuth scopes. ``admin`` implies every other scope."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    user_read = "user:read"
    user_write = "user:write"
    group_read = "group:read"
    group_write = "group:write"
    role_read = "role:read"
    role_write = "role:write"
    team_read = "team:read"
    team_write = "team:write"
    audit_read = "audit:read"  # the audit trail and the event feed
    webhook_read = "webhook:read"
    webhook_write = "webhook:write"
    # Offboarding and idle sweeps (rosterd.services.offboarding, rosterd.services.idle_sweeps).
    lifecycle_write = "lifecycle:write"
    admin = "admin"


ALL_SCOPES: tuple[str, ...] = tuple(s.value for s in Scope)


def grants(granted: frozenset[str], needed: Scope) -> bool:
    return needed.value in granted or Scope.admin.value in granted
