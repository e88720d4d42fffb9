"""The webhook deliverer, run in this process with an injected clock: what becomes a
delivery, signatures, retries with backoff, disabling, echo exclusion, several deliverers.

Each module run has a store of its own (per backend), so no other test's webhooks, nor the
suite's live server, take part in what is delivered.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rosterd.api.app import create_app
from rosterd.config import Settings
from rosterd.lifecycle.webhooks import RetryPolicy, WebhookDeliverer
from rosterd.models import WebhookDelivery
from rosterd.runtime import Runtime, open_runtime
from tests.backends import database_url
from tests.factories import V2, TenantHandle, make_tenant
from tests.receiver import Receiver, receiving

HOOKS = f"{V2}/webhooks"
WRITE = ("webhook:read", "webhook:write")


@pytest.fixture(scope="module")
def own(
    backend: str, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Runtime, TestClient]]:
    tmp = tmp_path_factory.mktemp("webhooks")
    with database_url(backend, tmp) as url:
        own_settings = settings.model_copy(
            update={"database_url": url, "data_dir": tmp, "webhook_allow_private_urls": True}
        )
        runtime = open_runtime(own_settings)
        try:
            with TestClient(create_app(runtime)) as http:
                yield runtime, http
        finally:
            runtime.close()


@pytest.fixture
def tenant(own: tuple[Runtime, TestClient]) -> TenantHandle:
    return make_tenant(*own)


@pytest.fixture
def http(own: tuple[Runtime, TestClient]) -> TestClient:
    return own[1]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def deliverer(runtime: Runtime, clock: Clock, **retry: Any) -> WebhookDeliverer:
    return WebhookDeliverer(
        runtime.db,
        runtime.keys.sealer,
        timeout_seconds=5,
        retry=RetryPolicy(**retry),
        allow_private_urls=True,
        clock=clock,
    )


def run_until(work: WebhookDeliverer, sent: int, seconds: float = 60) -> int:
    """Run until ``sent`` deliveries went out. On PostgreSQL the feed holds back the events
    of any transaction still open on the server (other tests' too) until it ends."""
    total = 0
    deadline = time.monotonic() + seconds
    while total < sent:
        assert time.monotonic() < deadline, f"{total} of {sent} sent in {seconds} s"
        total += work.run_once()
        time.sleep(0.05 if total < sent else 0)
    return total


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


def subscribe(http: TestClient, tenant: TenantHandle, url: str, **fields: Any) -> dict[str, Any]:
    r = http.post(HOOKS, json={"url": url, **fields}, headers=tenant.headers(*WRITE))
    assert r.status_code == 201, r.text
    return dict(r.json())


def deliveries(http: TestClient, tenant: TenantHandle, hook_id: str) -> list[dict[str, Any]]:
    r = http.get(f"{HOOKS}/{hook_id}/deliveries", params={"limit": 100}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_events_after_the_subscription_arrive_signed_and_filtered(
    backend: str,
    own: tuple[Runtime, TestClient],
    tenant: TenantHandle,
    clock: Clock,
    receiver: Receiver,
) -> None:
    runtime, http = own
    before = tenant.user()  # before the subscription
    hook = subscribe(http, tenant, receiver.url, eventTypes=["user.created", "user.deleted"])
    users = [tenant.user() for _ in range(3)]
    tenant.group()  # not subscribed to
    r = http.delete(f"{V2}/users/{users[0]['id']}", headers=tenant.headers())
    assert r.status_code == 204
    expected = sorted(
        [("user.created", u["id"]) for u in users] + [("user.deleted", users[0]["id"])]
    )

    def got() -> list[tuple[str, str]]:
        # A subscription starts at the end of the feed as far as it is settled: on
        # PostgreSQL an event a transaction open elsewhere on the server held back is sent
        # too (before's creation); on SQLite never.
        events = receiver.events(hook["secret"])
        if backend == "sqlite":
            assert before["id"] not in {e["subject"] for e in events}
        return sorted((e["type"], e["subject"]) for e in events if e["subject"] != before["id"])

    work = deliverer(runtime, clock)
    try:
        deadline = time.monotonic() + 60
        while got() != expected:  # sent several at once: in any order
            assert time.monotonic() < deadline, got()
            work.run_once()
        assert work.run_once() == 0
    finally:
        work.stop()
    events = [e for e in receiver.events(hook["secret"]) if e["subject"] != before["id"]]
    assert all(e["source"] == f"/tenants/{tenant.slug}" for e in receiver.events(hook["secret"]))
    # The same event the feed serves, by id.
    r = http.get(f"{V2}/events", params={"types": "user.created"}, headers=tenant.headers())
    feed = {e["id"]: e for e in r.json()["events"]}
    assert all(feed[e["id"]] == e for e in events if e["type"] == "user.created")
    # webhook-id is stable per delivery; the log says succeeded with the receiver's code.
    log = deliveries(http, tenant, hook["id"])
    assert {d["status"] for d in log} == {"succeeded"}
    assert {d["responseCode"] for d in log} == {200} and {d["attempts"] for d in log} == {1}
    assert sorted(r.headers["webhook-id"] for r in receiver.received) == sorted(
        f"msg_{uuid.UUID(hook['id']).hex}_{d['id']}" for d in log
    )


def test_a_rotated_secret_signs_what_is_sent_after(
    own: tuple[Runtime, TestClient], tenant: TenantHandle, clock: Clock, receiver: Receiver
) -> None:
    runtime, http = own
    hook = subscribe(http, tenant, receiver.url, eventTypes=["user.created"])
    r = http.post(f"{HOOKS}/{hook['id']}/rotate-secret", headers=tenant.headers(*WRITE))
    new_secret = r.json()["secret"]
    tenant.user()
    work = deliverer(runtime, clock)
    try:
        run_until(work, 1)
    finally:
        work.stop()
    (got,) = receiver.received
    got.verified(new_secret)
    with pytest.raises(Exception, match="signature"):
        got.verified(hook["secret"])


def test_failures_back_off_exponentially_then_the_webhook_is_disabled(
    own: tuple[Runtime, TestClient], tenant: TenantHandle, clock: Clock
) -> None:
    runtime, http = own
    with receiving(status=503) as down:
        hook = subscribe(http, tenant, down.url, eventTypes=["user.created"])
        other = subscribe(http, tenant, "http://127.0.0.1:9/never", eventTypes=["user.updated"])
        tenant.user()
        work = deliverer(runtime, clock, base_seconds=60, max_seconds=3600)
        try:
            assert run_until(work, 1) == 1
            (d,) = deliveries(http, tenant, hook["id"])
            assert d["status"] == "pending" and d["attempts"] == 1 and d["responseCode"] == 503
            waits = []
            last = clock.now
            while True:
                due = datetime.fromisoformat(d["nextAttemptAt"].replace("Z", "+00:00"))
                waits.append((due - last).total_seconds())
                assert work.run_once() == 0  # not due yet
                clock.now = due + timedelta(milliseconds=1)
                last = clock.now
                assert work.run_once() == 1
                (d,) = deliveries(http, tenant, hook["id"])
                if d["status"] != "pending":
                    break
                assert len(waits) < 60
        finally:
            work.stop()
    # Doubling (+/-20% jitter) up to the cap, over about a day, then failed.
    assert 48 <= waits[0] <= 72 and 96 <= waits[1] <= 144 and 192 <= waits[2] <= 288
    assert max(waits) <= 3600 * 1.2
    assert d["status"] == "failed" and d["attempts"] == len(waits) + 1
    assert d["nextAttemptAt"] is None
    spent = clock.now - datetime.fromisoformat(d["createdAt"].replace("Z", "+00:00"))
    # Retried while the next attempt still fell within 24 h of the first.
    assert timedelta(hours=24) - timedelta(seconds=3600 * 1.2) <= spent <= timedelta(hours=24)
    got = http.get(f"{HOOKS}/{hook['id']}", headers=tenant.headers()).json()
    assert got["enabled"] is False and "503" in got["disabledReason"]
    # An event says so, to the other webhooks and in the feed.
    # (On PostgreSQL the feed shows it once the transactions open on the server have ended.)
    params = {"types": "webhook.disabled", "wait": 30}
    for _ in range(4):
        r = http.get(f"{V2}/events", params=params, headers=tenant.headers())
        if r.json()["events"]:
            break
    (event,) = r.json()["events"]
    assert event["subject"] == hook["id"] and event["data"]["resource"]["enabled"] is False
    assert http.get(f"{HOOKS}/{other['id']}", headers=tenant.headers()).json()["enabled"]
    # Enabling it again clears the reason; a retry by hand is sent.
    with receiving() as up:
        body = {"url": up.url, "enabled": True}
        r = http.patch(f"{HOOKS}/{hook['id']}", json=body, headers=tenant.headers(*WRITE))
        assert r.json()["disabledReason"] is None
        r = http.post(
            f"{HOOKS}/{hook['id']}/deliveries/{d['id']}/retry", headers=tenant.headers(*WRITE)
        )
        assert r.status_code == 202
        work = deliverer(runtime, clock)
        try:
            assert work.run_once() == 1
        finally:
            work.stop()
        assert up.types() == ["user.created"]
    (d,) = deliveries(http, tenant, hook["id"])
    assert d["status"] == "succeeded"


def test_a_subscription_can_leave_out_its_own_clients_writes(
    own: tuple[Runtime, TestClient], tenant: TenantHandle, clock: Clock
) -> None:
    runtime, http = own
    mine = tenant.headers("webhook:read", "webhook:write", "user:write")
    with receiving() as echo_free_receiver, receiving() as everything_receiver:
        body = {
            "url": echo_free_receiver.url,
            "eventTypes": ["user.created"],
            "excludeOwnEvents": True,
        }
        echo_free = http.post(HOOKS, json=body, headers=mine).json()
        body.update(url=everything_receiver.url, excludeOwnEvents=False)
        everything = http.post(HOOKS, json=body, headers=mine).json()
        r = http.post(
            f"{V2}/users",
            json={"email": "own@example.com", "firstName": "Own", "lastName": "Writes"},
            headers=mine,
        )
        assert r.status_code == 201, r.text
        own_user = r.json()
        other_user = tenant.user()  # another client of the tenant
        work = deliverer(runtime, clock)
        try:
            run_until(work, 3)
        finally:
            work.stop()
        got = echo_free_receiver.events(echo_free["secret"])
        assert [e["subject"] for e in got] == [other_user["id"]]
        assert got[0]["data"]["actor"] != echo_free["createdBy"]
        got = everything_receiver.events(everything["secret"])
        assert sorted(e["subject"] for e in got) == sorted([own_user["id"], other_user["id"]])
        assert {e["data"]["actor"] for e in got if e["subject"] == own_user["id"]} == {
            everything["createdBy"]
        }
    assert len(deliveries(http, tenant, echo_free["id"])) == 1


def test_deliverers_running_at_once_deliver_each_event_once(
    own: tuple[Runtime, TestClient], tenant: TenantHandle, clock: Clock
) -> None:
    runtime, http = own
    with receiving() as first, receiving() as second:
        hooks = [
            (subscribe(http, tenant, r.url, eventTypes=["user.created"]), r)
            for r in (first, second)
        ]
        users = [tenant.user() for _ in range(40)]
        workers = [deliverer(runtime, clock) for _ in range(4)]
        barrier = threading.Barrier(len(workers))
        sent: list[int] = []

        def run(work: WebhookDeliverer) -> None:
            barrier.wait()
            deadline = time.monotonic() + 60
            while sum(sent) < 80 and time.monotonic() < deadline:
                sent.append(work.run_once())

        threads = [threading.Thread(target=run, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for w in workers:
            w.stop()
        assert sum(sent) == 80
        for hook, received in hooks:
            events = received.events(hook["secret"])
            assert sorted(e["subject"] for e in events) == sorted(u["id"] for u in users)
    with runtime.db.reader() as session:
        rows = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant.id)
        ).all()
        assert len(rows) == 80 and {r.status for r in rows} == {"succeeded"}


def test_a_host_that_turns_private_is_not_sent_to(
    own: tuple[Runtime, TestClient], tenant: TenantHandle, clock: Clock, receiver: Receiver
) -> None:
    runtime, http = own
    hook = subscribe(http, tenant, receiver.url, eventTypes=["user.created"])
    tenant.user()
    work = WebhookDeliverer(runtime.db, runtime.keys.sealer, allow_private_urls=False, clock=clock)
    try:
        run_until(work, 1)
    finally:
        work.stop()
    assert receiver.received == []
    (d,) = deliveries(http, tenant, hook["id"])
    assert d["status"] == "pending" and "not sent" in d["lastError"]
    assert d["responseCode"] is None


def test_the_delivery_log_keeps_finished_deliveries_for_the_retention(
    own: tuple[Runtime, TestClient], tenant: TenantHandle, clock: Clock, receiver: Receiver
) -> None:
    runtime, http = own
    hook = subscribe(http, tenant, receiver.url, eventTypes=["user.created"])
    tenant.user()
    tenant.user()
    work = deliverer(runtime, clock)
    try:
        run_until(work, 2)
        r = http.post(f"{HOOKS}/{hook['id']}/test", headers=tenant.headers(*WRITE))
        pending = r.json()["id"]
        http.patch(f"{HOOKS}/{hook['id']}", json={"enabled": False}, headers=tenant.headers())
        clock.advance(days=29)
        work.purge_log()
        assert len(deliveries(http, tenant, hook["id"])) == 3
        clock.advance(days=2)
        assert work.purge_log() >= 2
    finally:
        work.stop()
    assert [d["id"] for d in deliveries(http, tenant, hook["id"])] == [pending]


def test_a_message_id_is_never_used_again(
    own: tuple[Runtime, TestClient], tenant: TenantHandle, clock: Clock
) -> None:
    """Receivers drop repeats by webhook-id: a webhook made after another was deleted (its
    deliveries with it) must not send ids the first one sent."""
    runtime, http = own
    ids: list[str] = []
    delivery_ids: list[str] = []
    for _ in range(2):
        with receiving() as receiver:
            hook = subscribe(http, tenant, receiver.url, eventTypes=["user.created"])
            tenant.user()
            work = deliverer(runtime, clock)
            try:
                run_until(work, 1)
            finally:
                work.stop()
            (got,) = receiver.received
            ids.append(got.headers["webhook-id"])
            (d,) = deliveries(http, tenant, hook["id"])
            delivery_ids.append(d["id"])
            r = http.delete(f"{HOOKS}/{hook['id']}", headers=tenant.headers(*WRITE))
            assert r.status_code == 204
    assert len(set(ids)) == 2 and len(set(delivery_ids)) == 2


def test_a_batch_stores_each_deliverys_own_outcome(
    own: tuple[Runtime, TestClient], tenant: TenantHandle, clock: Clock
) -> None:
    """Successes and failures sent in one batch: each delivery keeps the answer it got."""
    runtime, http = own
    answers = iter([200, 503] * 3)
    lock = threading.Lock()

    def answer() -> int:
        with lock:
            return next(answers)

    with receiving(status=answer) as receiver:
        hook = subscribe(http, tenant, receiver.url, eventTypes=["user.created"])
        for _ in range(6):
            tenant.user()
        work = WebhookDeliverer(
            runtime.db, runtime.keys.sealer, allow_private_urls=True, concurrency=1, clock=clock
        )
        try:
            assert run_until(work, 6) == 6
        finally:
            work.stop()
    got = deliveries(http, tenant, hook["id"])
    done = [d for d in got if d["status"] == "succeeded"]
    retried = [d for d in got if d["status"] == "pending"]
    assert len(done) == 3 and len(retried) == 3
    assert {(d["responseCode"], d["lastError"], d["nextAttemptAt"]) for d in done} == {
        (200, None, None)
    }
    for d in retried:
        assert d["responseCode"] == 503 and d["lastError"] == "answered HTTP 503"
        assert datetime.fromisoformat(d["nextAttemptAt"].replace("Z", "+00:00")) > clock.now
    assert len(receiver.received) == 3


def test_a_delivery_whose_webhook_is_deleted_while_it_is_sent_is_dropped(
    own: tuple[Runtime, TestClient], tenant: TenantHandle, clock: Clock, receiver: Receiver
) -> None:
    runtime, http = own
    hook = subscribe(http, tenant, receiver.url, eventTypes=["user.created"])
    tenant.user()
    work = deliverer(runtime, clock)
    send = work.send

    def send_then_delete(job: Any) -> Any:
        outcome = send(job)
        r = http.delete(f"{HOOKS}/{hook['id']}", headers=tenant.headers(*WRITE))
        assert r.status_code == 204
        return outcome

    work.send = send_then_delete  # type: ignore[method-assign]
    try:
        assert run_until(work, 1) == 1
    finally:
        work.stop()
    assert len(receiver.received) == 1
    with runtime.db.reader() as session:
        rows = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.webhook_id == uuid.UUID(hook["id"]))
        ).all()
    assert rows == []


def test_the_deliverer_runs_again_at_once_while_it_has_work(
    own: tuple[Runtime, TestClient],
) -> None:
    """After a run that sent something the next starts without the poll's wait (so
    deliveries keep up with a stream of writes); after an idle run it waits the interval."""
    runtime, _ = own
    work = WebhookDeliverer(runtime.db, runtime.keys.sealer, poll_seconds=30)
    runs = iter([3, 0])
    work.run_once = lambda: next(runs)  # type: ignore[method-assign]
    guard = threading.Timer(5, work.stop)
    guard.start()
    try:
        work.tick()
        started = time.monotonic()
        assert work.wait() is True
        assert time.monotonic() - started < 1
        work.tick()
        started = time.monotonic()
        assert work.wait() is False  # waited until the guard stopped it
        assert time.monotonic() - started >= 4
    finally:
        guard.cancel()
        work.stop()
