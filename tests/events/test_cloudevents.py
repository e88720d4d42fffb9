"""Audit rows become the CloudEvents a consumer expects, whatever API made the change."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from rosterd.events.cloudevents import events_of
from rosterd.models import AuditEvent

SOURCE = "/tenants/acme"


def _row(action: str, resource_type: str = "user", **values: Any) -> AuditEvent:
    return AuditEvent(
        id=41,
        tenant_id=uuid.uuid4(),
        occurred_at=datetime(2026, 11, 27, 12, 0, 0, 500000, tzinfo=UTC),
        actor="scheduler",
        surface="lifecycle",
        action=action,
        resource_type=resource_type,
        resource_id="r1",
        request_id=None,
        **values,
    )


@pytest.mark.parametrize(
    ("action", "came", "went", "kind"),
    [
        ("user.status_changed", "active", "inactive", "user.deactivated"),
        ("user.expired", "active", "inactive", "user.deactivated"),
        ("user.status_changed", "active", "suspended", "user.suspended"),
        ("user.status_changed", "inactive", "active", "user.reactivated"),
        ("user.status_changed", "suspended", "active", "user.reactivated"),
        ("user.status_changed", "pending", "active", "user.activated"),
    ],
)
def test_a_status_change_is_typed_by_where_it_went(
    action: str, came: str, went: str, kind: str
) -> None:
    row = _row(action, before={"status": came, "title": "x"}, after={"status": went, "title": "y"})
    (event,) = events_of(row, SOURCE)
    assert event["type"] == kind
    assert event["data"]["changedFields"] == ["status", "title"]
    assert event["data"]["action"] == action
    assert event["time"] == "2026-11-27T12:00:00.500000Z"


def test_replacing_a_users_groups_is_one_event_per_membership() -> None:
    row = _row(
        "user.groups_set",
        before={"group_ids": ["g1", "g2"]},
        after={"group_ids": ["g2", "g3", "g4"]},
    )
    events = events_of(row, SOURCE)
    assert [(e["type"], e["subject"], e["data"]["resource"]) for e in events] == [
        ("group.member.added", "g3", {"groupId": "g3", "userId": "r1"}),
        ("group.member.added", "g4", {"groupId": "g4", "userId": "r1"}),
        ("group.member.removed", "g1", {"groupId": "g1", "userId": "r1"}),
    ]
    assert [e["id"] for e in events] == ["41.0", "41.1", "41.2"]


def test_a_deletion_carries_the_resource_as_it_was() -> None:
    row = _row(
        "user.deleted",
        before={"first_name": "Ada", "status": "active"},
        after={"reassigned_to": "u2"},
    )
    (event,) = events_of(row, SOURCE)
    assert event["type"] == "user.deleted"
    assert event["data"]["resource"] == {"id": "r1", "firstName": "Ada", "status": "active"}
    assert event["data"]["details"] == {"reassignedTo": "u2"}
    assert "changedFields" not in event["data"]


def test_an_action_without_a_type_keeps_its_name() -> None:
    (event,) = events_of(_row("widget.frobbed", "widget", after={"n": 1}), SOURCE)
    assert event["type"] == "widget.frobbed"
