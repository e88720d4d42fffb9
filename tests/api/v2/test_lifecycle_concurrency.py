"""Concurrent clients of the lifecycle extensions against a real rosterd, on both databases.

An automation retries, and two runners may fire the same step: concurrent applies of one
idle sweep, or offboardings of one user, must act on each user once, and concurrent
sign-ins must leave the latest.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.api.test_concurrency import assert_statuses, burst, report
from tests.api.v2.test_lifecycle import (
    SWEEPS,
    actions,
    created_days_ago,
    get_user,
    groups_of,
    join,
    plan,
    unguarded,
)
from tests.conftest import LiveServer
from tests.factories import V2

pytestmark = pytest.mark.live


def test_concurrent_applies_of_one_plan_act_on_each_user_once(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    unguarded(tenant)
    idle = [tenant.user()["id"] for _ in range(6)]
    for user_id in idle:
        created_days_ago(tenant, user_id, 120)
    sweep = plan(tenant)
    headers = tenant.headers("lifecycle:write")

    async def apply(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.post(f"{SWEEPS}/{sweep['id']}/apply", headers=headers)

    outcomes = burst(live_server, 16, apply)

    assert_statuses(outcomes, {200})
    summary = report(outcomes)
    answers = {(o.json()["state"], str(o.json()["result"])) for o in outcomes}
    assert answers == {("applied", str({"deactivated": 6}))}, summary
    for user_id in idle:
        assert get_user(tenant, user_id)["status"] == "inactive"
        assert actions(tenant, "user", user_id).count("user.deactivated") == 1, user_id
    assert actions(tenant, "idle_sweep", sweep["id"]).count("idle_sweep.applied") == 1


def test_concurrent_offboardings_of_one_user_act_once(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    user = tenant.user()["id"]
    groups = [tenant.group()["id"] for _ in range(3)]
    join(tenant, user, groups)
    headers = tenant.headers("lifecycle:write")

    async def offboard(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.post(f"{V2}/users/{user}/offboard", headers=headers)

    outcomes = burst(live_server, 16, offboard)

    assert_statuses(outcomes, {200})
    summary = report(outcomes)
    assert Counter(o.json()["deactivated"] for o in outcomes) == {True: 1, False: 15}, summary
    removed = Counter(g["id"] for o in outcomes for g in o.json()["groupsRemoved"])
    assert removed == dict.fromkeys(groups, 1), summary
    assert get_user(tenant, user)["status"] == "inactive"
    assert groups_of(tenant, user) == set()
    assert actions(tenant, "user", user).count("user.deactivated") == 1
    for group_id in groups:
        assert actions(tenant, "group", group_id).count("group.member_removed") == 1


def test_concurrent_sign_ins_leave_the_latest(live_server: LiveServer) -> None:
    tenant = live_server.tenant()
    user = tenant.user()["id"]
    start = datetime.now(UTC) - timedelta(days=30)
    moments = [start + timedelta(hours=i) for i in range(24)]
    headers = tenant.headers("user:write")

    async def sign_in(client: httpx.AsyncClient, i: int) -> httpx.Response:
        return await client.post(
            f"{V2}/users/{user}/sign-ins", json={"at": moments[i].isoformat()}, headers=headers
        )

    outcomes = burst(live_server, len(moments), sign_in)

    assert_statuses(outcomes, {200})
    shown = datetime.fromisoformat(get_user(tenant, user)["lastLoginAt"].replace("Z", "+00:00"))
    assert abs(shown - max(moments)) < timedelta(milliseconds=1)
    # Each answer shows its own sign-in or a later one, never an earlier one.
    for o in outcomes:
        answered = datetime.fromisoformat(o.json()["lastLoginAt"].replace("Z", "+00:00"))
        assert answered >= moments[o.index] - timedelta(milliseconds=1), report(outcomes)
