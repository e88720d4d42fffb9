"""bench.write_floor: its creates are the product's own rows, so its figure is a create's.

It times nothing that is asserted (CPU figures are only required to be there): what a
reader of its figure relies on is that the statements it runs are the rows a create
writes, users the API then serves with their audit events, and that the store stays
usable after it.
"""

from __future__ import annotations

from bench import write_floor
from rosterd.config import Settings
from tests.factories import V2, TenantHandle


def test_the_floors_creates_are_users_with_audit_events_and_the_store_goes_on(
    settings: Settings, tenant: TenantHandle
) -> None:
    floor = write_floor.measure(settings.database_url, tenant=tenant.slug, creates=40, batch=16)

    assert (floor.creates, floor.batch) == (40, 16)
    assert floor.cpu_ms > 0 and floor.wall_ms > 0 and floor.written_kb > 0
    found = tenant.http.get(
        "/scim/v2/Users",
        params={"filter": 'userName sw "floor-"', "count": 100},
        headers=tenant.scim_headers(),
    ).json()
    assert found["totalResults"] == 40
    assert {u["name"]["familyName"] for u in found["Resources"]} == {"User"}
    created = tenant.http.get(
        f"{V2}/audit-events",
        params={"action": "user.created", "limit": 100},
        headers=tenant.headers("audit:read"),
    ).json()["items"]
    assert {e["resourceId"] for e in created} == {u["id"] for u in found["Resources"]}
    # The numbers it took are the tenant's: the next create is not refused for one of them.
    after = tenant.user()
    assert after["id"] not in {u["id"] for u in found["Resources"]}
