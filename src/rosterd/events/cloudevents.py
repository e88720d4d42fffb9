"""Audit rows as CloudEvents 1.0 (JSON format): what the feed and webhooks send.

An event's ``data`` carries the resource as it is after the change (before it, for a
deletion), the names of the fields that changed, and who made the change: the actor (an
OAuth client, SCIM token, admin, the scheduler), the surface it came through and the request
id. Field names are camelCase, as on the REST v2 surface.
"""

from __future__ import annotations

from typing import Any

from rosterd.events import types as event_types
from rosterd.models import AuditEvent, UserStatus

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camel_keys(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """``value`` with its top-level keys in camelCase (the audit rows keep column names)."""
    if value is None:
        return None
    return {camel(key): item for key, item in value.items()}


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """The camelCase names of the fields whose values differ between two snapshots."""
    if before is None or after is None:
        return []
    return sorted(camel(k) for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def _status_type(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    went = UserStatus((after or {}).get("status", UserStatus.pending))
    came = (before or {}).get("status")
    if went == UserStatus.active and came == UserStatus.pending:
        return event_types.USER_ACTIVATED
    return event_types.STATUS_TYPES[went]


def _memberships(row: AuditEvent) -> list[tuple[str, str, str]]:
    """(type, group id, user id) of each membership a row's change made or ended."""
    before, after = row.before or {}, row.after or {}
    if row.action == "user.groups_set":
        had, has = set(before.get("group_ids", ())), set(after.get("group_ids", ()))
        return [(event_types.MEMBER_ADDED, g, row.resource_id) for g in sorted(has - had)] + [
            (event_types.MEMBER_REMOVED, g, row.resource_id) for g in sorted(had - has)
        ]
    return [(event_types.MEMBER_ADDED, row.resource_id, u) for u in after.get("added", ())] + [
        (event_types.MEMBER_REMOVED, row.resource_id, u) for u in before.get("removed", ())
    ]


def _membership_event(
    row: AuditEvent, source: str, id_: str, change: tuple[str, str, str]
) -> dict[str, Any]:
    kind, group_id, user_id = change
    resource = {"groupId": group_id, "userId": user_id}
    data = {"resourceType": "group_membership", "resource": resource}
    return _envelope(row, source, id_, kind, group_id, data)


def _envelope(
    row: AuditEvent, source: str, id_: str, kind: str, subject: str, data: dict[str, Any]
) -> dict[str, Any]:
    data.update(action=row.action, actor=row.actor, surface=row.surface, requestId=row.request_id)
    return {
        "specversion": SPEC_VERSION,
        "id": id_,
        "source": source,
        "type": kind,
        "time": row.occurred_at.isoformat().replace("+00:00", "Z"),
        "subject": subject,
        "datacontenttype": CONTENT_TYPE,
        "data": data,
    }


def events_of(row: AuditEvent, source: str) -> list[dict[str, Any]]:
    """The CloudEvents of one audit row: one, or one per membership for a change of several.

    An event's ``id`` is the row's id (``<row id>.<n>`` for the n-th membership of a row), so
    it is unique within ``source`` and the same each time the feed is read.
    """
    made = event_types.types_of(row.action)
    if made == event_types.MEMBERSHIPS:
        changes = enumerate(_memberships(row))
        return [_membership_event(row, source, f"{row.id}.{n}", c) for n, c in changes]
    if made[0] in event_types.MEMBERSHIPS:
        user_id = (row.after or row.before or {}).get("user_id", "")
        return [_membership_event(row, source, str(row.id), (made[0], row.resource_id, user_id))]
    kind = _status_type(row.before, row.after) if len(made) > 1 else made[0]
    deleted = row.action.endswith(".deleted")
    state = row.before if deleted else (row.after or row.before)
    data: dict[str, Any] = {
        "resourceType": row.resource_type,
        "resource": {"id": row.resource_id, **(camel_keys(state) or {})},
    }
    if deleted and row.after:
        data["details"] = camel_keys(row.after)  # e.g. reassignedTo of a deleted user
    elif row.before is not None and row.after is not None:
        data["changedFields"] = changed_fields(row.before, row.after)
    return [_envelope(row, source, str(row.id), kind, row.resource_id, data)]
