"""Webhooks: create (secret shown once), edit, rotate, test, delete; the delivery log and
retrying a failed delivery."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from rosterd.models import AuditEvent, Webhook, WebhookDelivery
from rosterd.runtime import Runtime
from tests.console.conftest import Console, make_admin
from tests.factories import V2, TenantHandle

HOOKS = "/admin/webhooks"


@pytest.fixture
def private_ok(runtime: Runtime) -> Iterator[None]:
    """Receivers on 127.0.0.1 allowed, as ROSTERD_WEBHOOK_ALLOW_PRIVATE_URLS=true does."""
    before = runtime.settings.webhook_allow_private_urls
    runtime.settings.webhook_allow_private_urls = True
    yield
    runtime.settings.webhook_allow_private_urls = before


def _audited(tenant: TenantHandle, action: str) -> list[AuditEvent]:
    with tenant.runtime.db.reader() as session:
        stmt = select(AuditEvent).where(
            AuditEvent.tenant_id == tenant.id, AuditEvent.action == action
        )
        return list(session.scalars(stmt))


def _hooks(tenant: TenantHandle) -> list[Webhook]:
    with tenant.runtime.db.reader() as session:
        return list(session.scalars(select(Webhook).where(Webhook.tenant_id == tenant.id)))


def _secret(html: str) -> str:
    found = re.search(r'id="webhook-secret" value="([^"]+)"', html)
    assert found, "no secret on the page"
    return found.group(1)


def _create(console: Console, url: str = "http://127.0.0.1:9/hook", **form: object) -> str:
    """Create through the console; the new webhook's id (and its page's secret checked)."""
    console.get(HOOKS)
    r = console.post(HOOKS, {"url": url, "enabled": "true", **form})
    assert r.status_code == 201, r.text
    assert _secret(r.text).startswith("whsec_")
    found = re.search(r'href="/admin/webhooks/([0-9a-f-]{36})"', r.text)
    assert found
    return found.group(1)


def test_create_edit_rotate_and_delete(console: Console, private_ok: None) -> None:
    tenant = console.tenant
    console.get(HOOKS)
    r = console.post(
        HOOKS,
        {
            "url": "http://127.0.0.1:9/hook",
            "types": "chosen",
            "event_type": ["user.created", "user.deleted"],
            "enabled": "true",
        },
    )
    assert r.status_code == 201, r.text
    secret = _secret(r.text)
    assert secret.startswith("whsec_")
    [hook] = _hooks(tenant)
    assert hook.event_types == ["user.created", "user.deleted"] and hook.enabled

    # The secret is never shown again: not in the list, not on the webhook's page.
    listed = console.get(HOOKS)
    assert listed.status_code == 200
    assert secret not in listed.text and 'id="webhook-secret"' not in listed.text
    page = console.get(f"{HOOKS}/{hook.id}")
    assert page.status_code == 200
    assert secret not in page.text and "http://127.0.0.1:9/hook" in page.text

    saved = console.post(f"{HOOKS}/{hook.id}", {"url": "http://127.0.0.1:9/other", "types": "all"})
    assert saved.status_code == 303
    [hook] = _hooks(tenant)
    assert (hook.url, hook.event_types, hook.enabled) == ("http://127.0.0.1:9/other", None, False)

    rotated = console.post(f"{HOOKS}/{hook.id}/rotate")
    assert rotated.status_code == 200
    new_secret = _secret(rotated.text)
    assert new_secret != secret
    assert new_secret not in console.get(f"{HOOKS}/{hook.id}").text

    gone = console.post(f"{HOOKS}/{hook.id}/delete")
    assert gone.status_code == 303 and gone.headers["location"].startswith(HOOKS)
    assert _hooks(tenant) == []
    assert console.get(f"{HOOKS}/{hook.id}").status_code == 404

    actor = f"admin:{console.username}"
    for action in ("webhook.created", "webhook.updated", "webhook.secret_rotated",
                   "webhook.deleted"):  # fmt: skip
        [event] = _audited(tenant, action)
        assert (event.surface, event.actor) == ("console", actor), action
        assert "whsec_" not in str(event.after) + str(event.before)


def test_the_api_never_shows_a_secret_made_in_the_console(
    console: Console, http: TestClient, private_ok: None
) -> None:
    hook_id = _create(console)
    r = http.get(f"{V2}/webhooks/{hook_id}", headers=console.tenant.headers("webhook:read"))
    assert r.status_code == 200 and "secret" not in r.json()


@pytest.mark.parametrize(
    "form",
    [
        {"url": "not a url"},
        {"url": "ftp://127.0.0.1/hook"},
        {"url": "http://user:pw@127.0.0.1/hook"},
        {"url": ""},
        {"url": "http://127.0.0.1/hook", "types": "chosen"},
        {"url": "http://127.0.0.1/hook", "types": "chosen", "event_type": ["user.exploded"]},
    ],
)
def test_bad_webhooks_are_refused_and_write_nothing(
    console: Console, private_ok: None, form: dict[str, object]
) -> None:
    console.get(HOOKS)
    r = console.post(HOOKS, form)
    assert r.status_code == 400, r.text
    assert 'class="problem" role="alert"' in r.text
    assert 'id="webhook-secret"' not in r.text
    assert _hooks(console.tenant) == []
    assert _audited(console.tenant, "webhook.created") == []


def test_a_private_receiver_is_refused_unless_the_server_allows_it(console: Console) -> None:
    console.get(HOOKS)
    r = console.post(HOOKS, {"url": "http://127.0.0.1:8080/hook"})
    assert r.status_code == 400
    assert "ROSTERD_WEBHOOK_ALLOW_PRIVATE_URLS" in r.text
    assert _hooks(console.tenant) == []


def test_a_bad_edit_is_refused_and_changes_nothing(console: Console, private_ok: None) -> None:
    hook_id = _create(console)
    console.get(f"{HOOKS}/{hook_id}")
    r = console.post(f"{HOOKS}/{hook_id}", {"url": "gopher://127.0.0.1/x", "enabled": "true"})
    assert r.status_code == 400
    assert "gopher://127.0.0.1/x" in r.text  # the form as it was typed, to correct
    r = console.post(f"{HOOKS}/{hook_id}", {"url": "http://127.0.0.1/x", "types": "chosen"})
    assert r.status_code == 400 and "at least one type" in r.text
    [hook] = _hooks(console.tenant)
    assert (hook.url, hook.event_types, hook.enabled) == ("http://127.0.0.1:9/hook", None, True)
    assert _audited(console.tenant, "webhook.updated") == []


def test_test_events_the_delivery_log_and_retry(console: Console, private_ok: None) -> None:
    tenant = console.tenant
    hook_id = _create(console, types="chosen", event_type=["user.deleted"])
    console.get(f"{HOOKS}/{hook_id}")
    for _ in range(52):
        r = console.post(f"{HOOKS}/{hook_id}/test")
        assert r.status_code == 303
    page = console.get(f"{HOOKS}/{hook_id}").text
    assert page.count("<td>webhook.test ") == 50
    found = re.search(r'rel="next" href="([^"]+)"', page)
    assert found
    older = console.get(found.group(1).replace("&amp;", "&").split("#")[0]).text
    assert older.count("<td>webhook.test ") == 2 and 'rel="next"' not in older
    assert "Retry" not in page  # only a failed delivery is offered a retry
    [first, *_] = _audited(tenant, "webhook.test_sent")
    assert first.surface == "console"

    with tenant.runtime.db.writer.begin() as session:
        delivery_id = session.scalar(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.webhook_id == uuid.UUID(hook_id))
            .order_by(WebhookDelivery.id.desc())
            .limit(1)
        )
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(status="failed", attempts=7, response_code=503)
        )
    failed = console.get(f"{HOOKS}/{hook_id}", params={"status": "failed"}).text
    assert failed.count("<td>webhook.test ") == 1 and "503" in failed
    retry = f"{HOOKS}/{hook_id}/deliveries/{delivery_id}/retry"
    assert f'action="{retry}"' in failed
    assert console.post(retry).status_code == 303
    assert (
        "<td>webhook.test "
        not in console.get(f"{HOOKS}/{hook_id}", params={"status": "failed"}).text
    )
    [retried] = _audited(tenant, "webhook.delivery_retried")
    assert (retried.surface, retried.after) == ("console", {"delivery_id": delivery_id,
                                                            "status": "pending"})  # fmt: skip
    assert console.post(f"{HOOKS}/{hook_id}/deliveries/999999999/retry").status_code == 404
    assert console.get(f"{HOOKS}/{hook_id}", params={"cursor": "zzz"}).status_code == 400

    # A disabled webhook is sent nothing: the test is refused, and the page says why.
    console.post(f"{HOOKS}/{hook_id}", {"url": "http://127.0.0.1:9/hook", "types": "all"})
    r = console.post(f"{HOOKS}/{hook_id}/test")
    assert "disabled" in console.get(r.headers["location"]).text


def test_posts_without_the_csrf_token_are_refused(console: Console, private_ok: None) -> None:
    r = console.http.post(HOOKS, data={"url": "http://127.0.0.1/a"}, follow_redirects=False)
    assert r.status_code == 403
    assert _hooks(console.tenant) == []
    hook_id = _create(console)
    for action in ("", "/delete", "/rotate", "/test"):
        r = console.http.post(
            f"{HOOKS}/{hook_id}{action}", data={"url": "http://127.0.0.1/b"}, follow_redirects=False
        )
        assert r.status_code == 403, action
    [hook] = _hooks(console.tenant)
    assert hook.url == "http://127.0.0.1:9/hook"
    assert _audited(console.tenant, "webhook.secret_rotated") == []


def test_another_tenants_webhook_answers_404(
    console: Console, other_tenant: TenantHandle, http: TestClient, private_ok: None
) -> None:
    r = http.post(
        f"{V2}/webhooks",
        json={"url": "http://127.0.0.1/theirs"},
        headers=other_tenant.headers("webhook:write"),
    )
    assert r.status_code == 201, r.text
    theirs = f"{HOOKS}/{r.json()['id']}"
    assert console.get(theirs).status_code == 404
    console.get(HOOKS)
    for action in ("/delete", "/rotate", "/test", "/deliveries/1/retry"):
        assert console.post(f"{theirs}{action}").status_code == 404, action
    assert console.post(theirs, {"url": "http://127.0.0.1/mine"}).status_code == 404
    assert "theirs" not in console.get(HOOKS).text
    with other_tenant.runtime.db.reader() as session:
        hook = session.scalar(select(Webhook).where(Webhook.tenant_id == other_tenant.id))
        assert hook is not None and hook.url == "http://127.0.0.1/theirs"


def test_two_admins_editing_one_webhook_at_once_both_answer_cleanly(
    console: Console, runtime: Runtime, http: TestClient, private_ok: None
) -> None:
    hook_id = _create(console)
    other = Console(TestClient(http.app), console.tenant, make_admin(runtime, console.tenant.slug))
    assert other.sign_in().status_code == 303
    other.get(HOOKS)
    urls = {c.username: f"http://127.0.0.1:9/{c.username}" for c in (console, other)}

    def save(c: Console) -> int:
        r = c.post(f"{HOOKS}/{hook_id}", {"url": urls[c.username], "enabled": "true"})
        return r.status_code

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(save, [console, other] * 3))
    assert answers == [303] * 6
    [hook] = _hooks(console.tenant)
    assert hook.url in urls.values()
