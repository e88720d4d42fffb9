"""/integration/v2/webhooks: subscriptions, their validation, secrets and delivery log."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rosterd.models import AuditEvent, Webhook
from rosterd.runtime import Runtime
from tests.factories import V2, TenantHandle

HOOKS = f"{V2}/webhooks"


@pytest.fixture
def private_ok(runtime: Runtime) -> Iterator[None]:
    """Receivers on 127.0.0.1 allowed, as ROSTERD_WEBHOOK_ALLOW_PRIVATE_URLS=true does."""
    before = runtime.settings.webhook_allow_private_urls
    runtime.settings.webhook_allow_private_urls = True
    yield
    runtime.settings.webhook_allow_private_urls = before


def _audited(tenant: TenantHandle, action: str) -> list[AuditEvent]:
    with tenant.runtime.db.reader() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.tenant_id == tenant.id, AuditEvent.action == action
                )
            )
        )


def test_create_read_update_delete(
    http: TestClient, tenant: TenantHandle, private_ok: None
) -> None:
    h = tenant.headers("webhook:read", "webhook:write")
    r = http.post(
        HOOKS,
        json={"url": "http://127.0.0.1:9/hook", "eventTypes": ["user.created", "user.deleted"]},
        headers=h,
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["secret"].startswith("whsec_")
    assert made["eventTypes"] == ["user.created", "user.deleted"]
    assert made["enabled"] is True and made["excludeOwnEvents"] is False
    hook_id = made["id"]

    r = http.get(f"{HOOKS}/{hook_id}", headers=h)
    assert r.status_code == 200, r.text
    assert "secret" not in r.json()
    assert r.json()["url"] == "http://127.0.0.1:9/hook"
    r = http.get(HOOKS, headers=h)
    assert [w["id"] for w in r.json()["items"]] == [hook_id]
    assert all("secret" not in w for w in r.json()["items"])

    r = http.patch(f"{HOOKS}/{hook_id}", json={"eventTypes": None, "enabled": False}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["eventTypes"] is None and r.json()["enabled"] is False
    assert "secret" not in r.json()
    r = http.patch(f"{HOOKS}/{hook_id}", json={"excludeOwnEvents": True}, headers=h)
    assert r.json()["eventTypes"] is None and r.json()["excludeOwnEvents"] is True

    r = http.delete(f"{HOOKS}/{hook_id}", headers=h)
    assert r.status_code == 204
    assert http.get(f"{HOOKS}/{hook_id}", headers=h).status_code == 404
    assert http.delete(f"{HOOKS}/{hook_id}", headers=h).status_code == 404
    assert len(_audited(tenant, "webhook.created")) == 1
    assert len(_audited(tenant, "webhook.updated")) == 2
    assert len(_audited(tenant, "webhook.deleted")) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://127.0.0.1/hook"},
        {"url": "not a url"},
        {"url": "http://user:pw@127.0.0.1/hook"},
        {"url": "http://127.0.0.1:99999/hook"},
        {"url": "http://127.0.0.1/hook", "eventTypes": ["user.created", "user.exploded"]},
        {"url": "http://127.0.0.1/hook", "eventTypes": []},
        {"url": "http://127.0.0.1/hook", "eventTypes": "user.created"},
        {"url": "http://127.0.0.1/hook", "enabled": "sometimes"},
        {"url": "http://127.0.0.1/hook", "secret": "whsec_mine"},
        {},
    ],
)
def test_bad_subscriptions_are_400_and_write_nothing(
    http: TestClient, tenant: TenantHandle, private_ok: None, body: dict[str, object]
) -> None:
    h = tenant.headers("webhook:read", "webhook:write")
    r = http.post(HOOKS, json=body, headers=h)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"]
    assert http.get(HOOKS, headers=h).json()["items"] == []
    assert _audited(tenant, "webhook.created") == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
def test_private_loopback_and_link_local_urls_are_refused(
    http: TestClient, tenant: TenantHandle, url: str
) -> None:
    h = tenant.headers("webhook:read", "webhook:write")
    r = http.post(HOOKS, json={"url": url}, headers=h)
    assert r.status_code == 400, r.text
    assert "ROSTERD_WEBHOOK_ALLOW_PRIVATE_URLS" in r.json()["error"]["message"]
    assert http.get(HOOKS, headers=h).json()["items"] == []


def test_a_patch_to_a_private_url_is_refused(
    http: TestClient, tenant: TenantHandle, runtime: Runtime, private_ok: None
) -> None:
    h = tenant.headers("webhook:read", "webhook:write")
    hook_id = http.post(HOOKS, json={"url": "http://127.0.0.1/a"}, headers=h).json()["id"]
    runtime.settings.webhook_allow_private_urls = False
    r = http.patch(f"{HOOKS}/{hook_id}", json={"url": "http://127.0.0.1/b"}, headers=h)
    assert r.status_code == 400, r.text
    r = http.patch(f"{HOOKS}/{hook_id}", json={"eventTypes": ["nope"]}, headers=h)
    assert r.status_code == 400, r.text
    got = http.get(f"{HOOKS}/{hook_id}", headers=h).json()
    assert got["url"] == "http://127.0.0.1/a" and got["eventTypes"] is None


def test_scopes(http: TestClient, tenant: TenantHandle, private_ok: None) -> None:
    r = http.post(HOOKS, json={"url": "http://127.0.0.1/a"}, headers=tenant.headers("webhook:read"))
    assert r.status_code == 403
    r = http.get(HOOKS, headers=tenant.headers("user:read"))
    assert r.status_code == 403
    assert http.get(HOOKS).status_code == 401


def test_the_secret_is_shown_once_sealed_at_rest_and_rotatable(
    http: TestClient, tenant: TenantHandle, private_ok: None
) -> None:
    h = tenant.headers("webhook:read", "webhook:write")
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    r = http.post(HOOKS, json={"url": "http://127.0.0.1/a"}, headers={**h, **key})
    assert r.status_code == 201
    secret, hook_id = r.json()["secret"], r.json()["id"]
    # A replay by the Idempotency-Key makes nothing new and does not show the secret again.
    again = http.post(HOOKS, json={"url": "http://127.0.0.1/a"}, headers={**h, **key})
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == hook_id and again.json()["secret"] is None
    assert len(http.get(HOOKS, headers=h).json()["items"]) == 1

    with tenant.runtime.db.reader() as session:
        stored = session.scalars(select(Webhook).where(Webhook.id == uuid.UUID(hook_id))).one()
        sealed = stored.secret_sealed
    assert secret.encode() not in sealed and secret[6:].encode() not in sealed
    with tenant.runtime.db.reader() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.tenant_id == tenant.id))
        assert all(secret not in str((e.before, e.after)) for e in rows)

    r = http.post(f"{HOOKS}/{hook_id}/rotate-secret", headers=h)
    assert r.status_code == 200, r.text
    rotated = r.json()["secret"]
    assert rotated.startswith("whsec_") and rotated != secret
    assert "secret" not in http.get(f"{HOOKS}/{hook_id}", headers=h).json()
    assert len(_audited(tenant, "webhook.secret_rotated")) == 1


def test_test_retry_and_the_delivery_log(
    http: TestClient, tenant: TenantHandle, private_ok: None
) -> None:
    h = tenant.headers("webhook:read", "webhook:write")
    # Subscribed to a type this test causes none of: a live server another test left running
    # on the suite's store follows this tenant's feed too, and would log a delivery of the
    # webhook's own creation event for an all-types subscription.
    hook_id = http.post(
        HOOKS, json={"url": "http://127.0.0.1/a", "eventTypes": ["user.deleted"]}, headers=h
    ).json()["id"]
    made = [http.post(f"{HOOKS}/{hook_id}/test", headers=h) for _ in range(3)]
    assert all(r.status_code == 202 for r in made), made[0].text
    assert {r.json()["eventType"] for r in made} == {"webhook.test"}
    assert all(r.json()["status"] == "pending" and r.json()["attempts"] == 0 for r in made)

    r = http.get(f"{HOOKS}/{hook_id}/deliveries", params={"limit": 2}, headers=h)
    assert r.status_code == 200, r.text
    first = r.json()
    assert [d["id"] for d in first["items"]] == [made[2].json()["id"], made[1].json()["id"]]
    r = http.get(
        f"{HOOKS}/{hook_id}/deliveries",
        params={"limit": 2, "cursor": first["nextCursor"]},
        headers=h,
    )
    assert [d["id"] for d in r.json()["items"]] == [made[0].json()["id"]]
    assert r.json()["nextCursor"] is None
    r = http.get(f"{HOOKS}/{hook_id}/deliveries", params={"status": "failed"}, headers=h)
    assert r.json()["items"] == []
    for params in ({"status": "bogus"}, {"cursor": "zzz"}, {"limit": 0}):
        r = http.get(f"{HOOKS}/{hook_id}/deliveries", params=params, headers=h)
        assert r.status_code == 400, (params, r.text)

    delivery_id = made[0].json()["id"]
    r = http.post(f"{HOOKS}/{hook_id}/deliveries/{delivery_id}/retry", headers=h)
    assert r.status_code == 202 and r.json()["status"] == "pending"
    assert http.post(f"{HOOKS}/{hook_id}/deliveries/999999999/retry", headers=h).status_code == 404
    other = http.post(HOOKS, json={"url": "http://127.0.0.1/b"}, headers=h).json()["id"]
    r = http.post(f"{HOOKS}/{other}/deliveries/{delivery_id}/retry", headers=h)
    assert r.status_code == 404

    http.patch(f"{HOOKS}/{hook_id}", json={"enabled": False}, headers=h)
    assert http.post(f"{HOOKS}/{hook_id}/test", headers=h).status_code == 409
    # Sending a test and retrying are writes of the API client's: audited.
    assert len(_audited(tenant, "webhook.test_sent")) == 3
    [retried] = _audited(tenant, "webhook.delivery_retried")
    assert retried.after == {"delivery_id": int(delivery_id), "status": "pending"}


def test_tenants_see_only_their_own_webhooks(
    http: TestClient, tenant: TenantHandle, other_tenant: TenantHandle, private_ok: None
) -> None:
    h = tenant.headers("webhook:read", "webhook:write")
    hook_id = http.post(HOOKS, json={"url": "http://127.0.0.1/a"}, headers=h).json()["id"]
    o = other_tenant.headers("webhook:read", "webhook:write")
    assert http.get(f"{HOOKS}/{hook_id}", headers=o).status_code == 404
    assert http.patch(f"{HOOKS}/{hook_id}", json={"enabled": False}, headers=o).status_code == 404
    assert http.delete(f"{HOOKS}/{hook_id}", headers=o).status_code == 404
    assert http.get(f"{HOOKS}/{hook_id}/deliveries", headers=o).status_code == 404
    assert http.get(HOOKS, headers=o).json()["items"] == []


def test_concurrent_writes_to_one_webhook_answer_cleanly(
    http: TestClient, tenant: TenantHandle, private_ok: None
) -> None:
    h = tenant.headers("webhook:read", "webhook:write")
    hook_id = http.post(HOOKS, json={"url": "http://127.0.0.1/a"}, headers=h).json()["id"]

    def write(n: int) -> int:
        if n % 4 == 0:
            return http.post(f"{HOOKS}/{hook_id}/rotate-secret", headers=h).status_code
        if n % 4 == 1:
            return http.post(f"{HOOKS}/{hook_id}/test", headers=h).status_code
        if n == 19:
            return http.delete(f"{HOOKS}/{hook_id}", headers=h).status_code
        body = {"url": f"http://127.0.0.1/{n}", "enabled": True}
        return http.patch(f"{HOOKS}/{hook_id}", json=body, headers=h).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(write, range(20)))
    assert set(codes) <= {200, 202, 204, 404}, codes
    assert codes.count(204) == 1
    assert http.get(f"{HOOKS}/{hook_id}", headers=h).status_code == 404


def test_openapi_documents_the_webhook_api(http: TestClient) -> None:
    doc = http.get("/openapi.json").json()
    ops = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert {
        "createWebhook",
        "listWebhooks",
        "getWebhook",
        "updateWebhook",
        "deleteWebhook",
        "rotateWebhookSecret",
        "testWebhook",
        "listWebhookDeliveries",
        "retryWebhookDelivery",
    } <= ops
    create = doc["paths"][f"{HOOKS}"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in create.get("parameters", []))
