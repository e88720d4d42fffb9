"""The event types of the feed, told from the audit action that recorded the change.

ONE table: every audit action (``rosterd.services.audit.record``'s ``action``) and the event
types it can become. Most become one type. Two are told apart further, by
``rosterd.events.cloudevents``:

- a user's status change is typed by where the status went (``STATUS_TYPES``): a consumer
  waiting for ``user.deactivated`` sees it whichever API or the expiry scheduler did it;
- a change of several memberships at once (SCIM PATCH or PUT of a group's members, v2's
  replacement of a user's groups) is one ``group.member.added`` or ``group.member.removed``
  event per member, as a single-member change through the v2 API is.

An action missing here is published under its own name (never dropped); the test of this
module checks every action the services record is listed.
"""

from __future__ import annotations

from collections.abc import Iterable

from rosterd.models import UserStatus

USER_DEACTIVATED = "user.deactivated"
USER_SUSPENDED = "user.suspended"
USER_ACTIVATED = "user.activated"  # pending -> active
USER_REACTIVATED = "user.reactivated"  # inactive or suspended -> active
USER_UPDATED = "user.updated"
MEMBER_ADDED = "group.member.added"
MEMBER_REMOVED = "group.member.removed"
WEBHOOK_DISABLED = "webhook.disabled"

# Where a user's status went -> its event; active is told apart by where it came from.
STATUS_TYPES: dict[UserStatus, str] = {
    UserStatus.inactive: USER_DEACTIVATED,
    UserStatus.suspended: USER_SUSPENDED,
    UserStatus.active: USER_REACTIVATED,
    UserStatus.pending: USER_UPDATED,
}
_STATUS = (USER_DEACTIVATED, USER_SUSPENDED, USER_ACTIVATED, USER_REACTIVATED, USER_UPDATED)
MEMBERSHIPS = (MEMBER_ADDED, MEMBER_REMOVED)  # the types of an action changing several

# audit action -> the event types it becomes (one, or those told apart as said above)
TYPES: dict[str, tuple[str, ...]] = {
    "user.created": ("user.created",),
    "user.updated": (USER_UPDATED,),
    "user.status_changed": _STATUS,
    "user.expired": (USER_DEACTIVATED,),  # by the scheduler, at expiresAt
    "user.activated": (USER_ACTIVATED,),  # by the scheduler, at validFrom
    "user.deleted": ("user.deleted",),
    "user.deactivated": (USER_DEACTIVATED,),  # by offboarding
    "user.signed_in": ("user.signed_in",),
    "user.groups_set": MEMBERSHIPS,
    "group.created": ("group.created",),
    "group.updated": ("group.updated",),
    "group.deleted": ("group.deleted",),
    "group.member_added": (MEMBER_ADDED,),
    "group.member_removed": (MEMBER_REMOVED,),
    "group.member_expired": (MEMBER_REMOVED,),  # by the scheduler, at its expiresAt
    "group.members_changed": MEMBERSHIPS,
    "role.created": ("role.created",),
    "role.updated": ("role.updated",),
    "role.deleted": ("role.deleted",),
    "team.created": ("team.created",),
    "team.updated": ("team.updated",),
    "team.deleted": ("team.deleted",),
    "oauth_client.created": ("oauth_client.created",),
    "oauth_client.rotated": ("oauth_client.rotated",),
    "oauth_client.revoked": ("oauth_client.revoked",),
    "scim_token.created": ("scim_token.created",),
    "scim_token.revoked": ("scim_token.revoked",),
    "api_key.created": ("api_key.created",),
    "api_key.revoked": ("api_key.revoked",),
    "signing_key.rotated": ("signing_key.rotated",),
    "admin.created": ("admin.created",),
    "admin.unlocked": ("admin.unlocked",),
    "admin.password_reset": ("admin.password_reset",),
    "admin.deleted": ("admin.deleted",),
    "admin.sessions_ended": ("admin.sessions_ended",),
    # Sign-ins to the console and /api/v1 (rosterd.services.admin_sign_ins)
    "admin.signed_in": ("admin.signed_in",),
    "admin.sign_in_failed": ("admin.sign_in_failed",),
    "admin.signed_out": ("admin.signed_out",),
    "webhook.created": ("webhook.created",),
    "webhook.updated": ("webhook.updated",),
    "webhook.deleted": ("webhook.deleted",),
    "webhook.secret_rotated": ("webhook.secret_rotated",),
    "webhook.test_sent": ("webhook.test_sent",),
    "webhook.delivery_retried": ("webhook.delivery_retried",),
    # A delivery ran out of retries and its webhook was switched off (rosterd.lifecycle.webhooks)
    WEBHOOK_DISABLED: (WEBHOOK_DISABLED,),
    "idle_sweep.planned": ("idle_sweep.planned",),
    "idle_sweep.applied": ("idle_sweep.applied",),
}

ALL_TYPES: frozenset[str] = frozenset(t for types in TYPES.values() for t in types)


def types_of(action: str) -> tuple[str, ...]:
    return TYPES.get(action, (action,))


def actions_for(types: Iterable[str]) -> frozenset[str]:
    """The audit actions that can become any of ``types``: what the feed asks the store for."""
    wanted = set(types)
    return frozenset(action for action, made in TYPES.items() if wanted.intersection(made))
