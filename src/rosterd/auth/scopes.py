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


# What each scope lets an app do, in words: the consent page lists these.
SCOPE_WORDS: dict[str, str] = {
    Scope.user_read: "see the users of the directory",
    Scope.user_write: "create, change and delete users",
    Scope.group_read: "see groups and their members",
    Scope.group_write: "create, change and delete groups and their members",
    Scope.role_read: "see roles",
    Scope.role_write: "create, change and delete roles",
    Scope.team_read: "see teams",
    Scope.team_write: "create, change and delete teams",
    Scope.audit_read: "read the audit trail and the event feed",
    Scope.webhook_read: "see webhooks and their deliveries",
    Scope.webhook_write: "create, change and delete webhooks",
    Scope.lifecycle_write: "offboard users and run idle-user sweeps",
    Scope.admin: "do everything an administrator can, including managing credentials",
}
