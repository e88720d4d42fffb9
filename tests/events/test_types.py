"""Every audit action the services record has its event type in rosterd.events.types."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from rosterd.events import types as event_types
from rosterd.services import api_keys, clients, scim_tokens, signing_keys

SERVICES = Path(clients.__file__).parent
RESOURCES = {
    "RESOURCE": {clients.RESOURCE, signing_keys.RESOURCE},
    "kind.resource": {api_keys.KIND.resource, scim_tokens.KIND.resource},
}
ACTION = re.compile(
    r"(user|group|role|team|admin|oauth_client|scim_token|api_key|signing_key)\.[a-z_]+"
)


def _recorded_actions() -> set[str]:
    """The action strings of the services: literals shaped like one, and the f-strings
    given to audit.record with each resource name they can take."""
    found: set[str] = set()
    for path in SERVICES.glob("*.py"):
        tree = ast.parse(path.read_text())
        resource = getattr(
            {"clients.py": clients, "signing_keys.py": signing_keys}.get(path.name),
            "RESOURCE",
            None,
        )
        for node in ast.walk(tree):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_text and ACTION.fullmatch(node.value):
                found.add(node.value)
            if isinstance(node, ast.JoinedStr):
                text = ast.unparse(node)
                match = re.fullmatch(r"f'\{(RESOURCE|kind\.resource)\}(\.[a-z_]+)'", text)
                if match:
                    names = {resource} if match[1] == "RESOURCE" else RESOURCES[match[1]]
                    found |= {f"{name}{match[2]}" for name in names if name}
    return found


def test_every_recorded_action_has_its_type() -> None:
    recorded = _recorded_actions()
    # The finder finds what it must (so an empty set cannot pass).
    assert {
        "user.created",
        "user.status_changed",
        "oauth_client.rotated",
        "api_key.revoked",
    } <= recorded
    assert sorted(recorded - set(event_types.TYPES)) == []


def test_types_map_back_to_the_actions_that_make_them() -> None:
    assert event_types.actions_for({"user.deactivated"}) == {
        "user.status_changed",
        "user.expired",
        "user.deactivated",
    }
    assert event_types.actions_for({"group.member.added"}) == {
        "group.member_added",
        "group.members_changed",
        "user.groups_set",
    }
    assert event_types.actions_for({"no.such"}) == frozenset()
