"""The webhook deliverer inside `rosterd serve`: the event feed, sent to the webhooks.

Each run does two things, each in short transactions of its own:

1. **Fan-out.** For each enabled webhook, lock its row (PostgreSQL: ``SKIP LOCKED``, so a
   webhook another node is on is left to it), read the tenant's event feed past the
   webhook's cursor (rosterd.events.feed, the very reading the feed API serves, which never
   skips an event a slower transaction commits later), add a delivery row per event it
   subscribes to (not its own client's, when it excludes those) and move the cursor, all in
   one transaction. An event therefore becomes its delivery once, and a crash at any point
   loses nothing: what is not yet a committed delivery is still past the committed cursor.
2. **Send.** Claim up to a batch of due deliveries of enabled webhooks (``FOR UPDATE SKIP
   LOCKED``; their next attempt moves past a lease and their attempts count up) and commit
   the claim; send them, signed per Standard Webhooks, over HTTP with timeouts outside any
   transaction, several at once; then record the outcomes (the successes in one statement,
   each failure from its locked row). A node that dies while sending leaves its claims to
   run out, and the deliveries are sent again (at least once).

A run that sent something is followed by the next at once; only an idle deliverer waits its
poll interval, so under a stream of writes the deliveries follow them rather than trailing
by a poll a run.

A failed delivery is tried again after a wait that doubles each time (with jitter), for
``webhook_retry_hours``; then it is marked failed, its webhook disabled and a
``webhook.disabled`` event recorded. One deliverer runs per serve process (with
``--workers N``, in the process that supervises the workers); several nodes share the work
through the row locks. The clock is injected so tests move time instead of sleeping.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson

from rosterd import __version__
from rosterd.auth.key_seal import KeySealer, SealBroken
from rosterd.db.engine import Database
from rosterd.events import feed, webhook_signing, webhook_urls
from rosterd.events.types import WEBHOOK_DISABLED
from rosterd.lifecycle.background import BackgroundLoop
from rosterd.models import WebhookDelivery
from rosterd.models.base import utcnow
from rosterd.repositories import audit as audit_repo
from rosterd.repositories import webhooks as repo
from rosterd.runtime import Runtime
from rosterd.services import audit
from rosterd.services.context import Actor
from rosterd.services.webhooks import new_delivery

# Feed rows read into deliveries per webhook per transaction; deliveries claimed per batch.
FEED_BATCH = 500
SEND_BATCH = 64
# The delivery log's retention runs at most this often, a batch per transaction.
PURGE_EVERY = timedelta(minutes=10)
PURGE_BATCH = 500
ACTOR = "rosterd:webhooks"
SURFACE = "webhooks"


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 5.0
    max_seconds: float = 7200.0
    window: timedelta = timedelta(hours=24)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: doubling, capped, +/-20%."""
        seconds = min(self.base_seconds * 2 ** min(attempts - 1, 40), self.max_seconds)
        return timedelta(seconds=seconds * rng.uniform(0.8, 1.2))


@dataclass(frozen=True)
class _Job:
    delivery_id: int
    webhook_id: uuid.UUID
    tenant_id: uuid.UUID
    url: str
    secret_sealed: bytes
    payload: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def message_id(job: _Job) -> str:
    """The webhook-id header: the same on every attempt of a delivery, and never the same
    for two deliveries (of one store or of another)."""
    return f"msg_{job.webhook_id.hex}_{job.delivery_id}"


class WebhookDeliverer(BackgroundLoop):
    name = "webhooks"

    def __init__(
        self,
        db: Database,
        sealer: KeySealer,
        *,
        poll_seconds: float = 1.0,
        timeout_seconds: float = 10.0,
        concurrency: int = 8,
        retry: RetryPolicy | None = None,
        allow_private_urls: bool = False,
        retention: timedelta = timedelta(days=30),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(poll_seconds)
        self.db = db
        self.sealer = sealer
        self.retry = retry or RetryPolicy()
        self.allow_private = allow_private_urls
        self.clock = clock
        self.retention = retention
        self._purged_at: datetime | None = None
        self._busy = False
        # A claim outlives the longest send; a node dead while sending frees it after this.
        self.lease = timedelta(seconds=2 * timeout_seconds + 5)
        self._rng = random.SystemRandom()
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="rosterd-webhook")
        self._http = httpx.Client(
            timeout=timeout_seconds,
            follow_redirects=False,
            headers={"user-agent": f"rosterd/{__version__} (webhooks)"},
            limits=httpx.Limits(max_connections=concurrency),
        )

    def tick(self) -> None:
        self._busy = False
        self._busy = self.run_once() > 0

    def wait(self) -> bool:
        """The poll interval, or no wait at all after a run that sent something: while events
        keep coming, the next run starts at once and the deliveries follow the writes instead
        of trailing them by a poll each."""
        if self._busy:
            return not self._stop.is_set()
        return super().wait()

    def run_once(self) -> int:
        """Turn new events into deliveries, then send what is due; how many were sent.
        Every ``PURGE_EVERY`` it also deletes the log's deliveries past the retention."""
        self.fan_out()
        sent = self.deliver_due()
        now = self.clock()
        if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
            self._purged_at = now
            self.purge_log()
        return sent

    def purge_log(self) -> int:
        """Delete finished deliveries older than the retention; how many."""
        total = 0
        while True:
            with self.db.writer.begin() as session:
                done = repo.delete_finished_before(
                    session, self.clock() - self.retention, PURGE_BATCH
                )
            total += done
            if done < PURGE_BATCH:
                return total

    # ---- fan-out -------------------------------------------------------------------------

    def fan_out(self) -> int:
        """Deliveries made from the feed for every enabled webhook; how many.

        A webhook whose cursor is at the end of its tenant's settled feed has nothing to
        read: it is passed over without a write transaction (on SQLite, a turn of the one
        writer), so idle webhooks cost one read per tenant a run."""
        with self.db.reader() as session:
            hooks = repo.enabled_positions(session)
            ends = {t: audit_repo.feed_end(session, t) for t in {t for _, t, _ in hooks}}
        total = 0
        for webhook_id, tenant_id, cursor in hooks:
            if cursor >= ends[tenant_id]:
                continue
            more = True
            while more:
                with self.db.writer.begin() as session:
                    made, more = self._fan_out_one(session, webhook_id)
                total += made
        return total

    def _fan_out_one(self, session: Any, webhook_id: uuid.UUID) -> tuple[int, bool]:
        hook = repo.lock_enabled(session, webhook_id)
        if hook is None:
            return 0, False
        wanted = None if hook.event_types is None else frozenset(hook.event_types)
        after = feed.Cursor(hook.cursor_tx, hook.cursor_id)
        # Read before the page: every row up to it is settled, so a page that reads all
        # there is may move the cursor there even past rows of types it does not want.
        end = audit_repo.feed_end(session, hook.tenant_id)
        page = feed.read_tenant(session, hook.tenant_id, after, wanted, FEED_BATCH)
        now = self.clock()
        made = 0
        for event in page.events:
            if hook.exclude_own_events and event["data"].get("actor") == hook.created_by:
                continue
            repo.add_delivery(session, new_delivery(hook, event["id"], event["type"], event, now))
            made += 1
        hook.cursor_tx, hook.cursor_id = (
            (page.cursor.tx, page.cursor.id)
            if page.more
            else max(end, (page.cursor.tx, page.cursor.id))
        )
        return made, page.more

    # ---- sending -------------------------------------------------------------------------

    def deliver_due(self) -> int:
        """Send every delivery due at the clock's time, a claimed batch at a time."""
        total = 0
        while True:
            now = self.clock()
            with self.db.writer.begin() as session:
                jobs = [
                    _Job(d.id, h.id, h.tenant_id, h.url, h.secret_sealed, d.payload)
                    for d, h in repo.claim_due(session, now, now + self.lease, SEND_BATCH)
                ]
            if not jobs:
                return total
            outcomes = list(self._pool.map(self.send, jobs))
            with self.db.writer.begin() as session:
                self._record(session, list(zip(jobs, outcomes, strict=True)))
            total += len(jobs)
            if len(jobs) < SEND_BATCH:
                return total

    def send(self, job: _Job) -> Outcome:
        """One HTTP attempt (no database work here)."""
        refusal = webhook_urls.refusal(job.url, allow_private=self.allow_private)
        if refusal is not None:
            return Outcome(None, f"not sent: {refusal}")
        try:
            secret = webhook_signing.open_secret(
                self.sealer, job.secret_sealed, job.webhook_id, job.tenant_id
            )
        except SealBroken:
            return Outcome(
                None,
                "not sent: the signing secret does not open with this server secret (rotate it)",
            )
        body = orjson.dumps(job.payload).decode()
        headers = webhook_signing.headers(secret, message_id(job), self.clock(), body)
        headers["content-type"] = "application/json"
        try:
            response = self._http.post(job.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= response.status_code < 300:
            return Outcome(response.status_code, None)
        return Outcome(response.status_code, f"answered HTTP {response.status_code}")

    def _record(self, session: Any, sent: list[tuple[_Job, Outcome]]) -> None:
        """Store a batch's outcomes: the successes in one statement, each failure's next
        attempt (or its end) from its row, locked. A delivery whose webhook was deleted
        meanwhile is gone, and nothing is stored for it."""
        repo.mark_succeeded(
            session, {job.delivery_id: outcome.status_code for job, outcome in sent if outcome.ok}
        )
        failed = [(job, outcome) for job, outcome in sent if not outcome.ok]
        if not failed:
            return
        held = repo.deliveries_for_update(session, [job.delivery_id for job, _ in failed])
        for job, outcome in failed:
            delivery = held.get(job.delivery_id)
            if delivery is not None:
                self._record_failure(session, job, delivery, outcome)

    def _record_failure(
        self, session: Any, job: _Job, delivery: WebhookDelivery, outcome: Outcome
    ) -> None:
        now = self.clock()
        delivery.response_code = outcome.status_code
        delivery.last_error = outcome.error
        next_at = now + self.retry.delay(delivery.attempts, self._rng)
        if next_at - delivery.due_since <= self.retry.window:
            delivery.next_attempt_at = next_at
            return
        delivery.status = repo.FAILED
        delivery.next_attempt_at = None
        self._disable(
            session,
            job,
            f"delivery {job.delivery_id} failed after "
            f"{delivery.attempts} attempts: {outcome.error}",
        )

    def _disable(self, session: Any, job: _Job, reason: str) -> None:
        hook = repo.webhook_for_update(session, job.webhook_id)
        if hook is None or not hook.enabled:
            return
        hook.enabled = False
        hook.disabled_reason = reason[:500]
        hook.updated_at = self.clock()
        actor = Actor(tenant_id=hook.tenant_id, actor=ACTOR, surface=SURFACE)
        audit.record(
            session,
            actor,
            WEBHOOK_DISABLED,
            "webhook",
            hook.id,
            before={"url": hook.url, "enabled": True},
            after={"url": hook.url, "enabled": False, "reason": hook.disabled_reason},
        )
        self._log.warning("webhook %s disabled: %s", hook.id, hook.disabled_reason)

    def stop(self) -> None:
        super().stop()
        self._pool.shutdown(wait=True)
        self._http.close()


def webhook_deliverer(runtime: Runtime) -> WebhookDeliverer:
    """The deliverer of `rosterd serve`, as the settings configure it."""
    settings = runtime.settings
    return WebhookDeliverer(
        runtime.db,
        runtime.keys.sealer,
        poll_seconds=settings.webhook_poll_seconds,
        timeout_seconds=settings.webhook_timeout_seconds,
        concurrency=settings.webhook_concurrency,
        retry=RetryPolicy(
            base_seconds=settings.webhook_retry_base_seconds,
            max_seconds=settings.webhook_retry_max_seconds,
            window=timedelta(hours=settings.webhook_retry_hours),
        ),
        allow_private_urls=settings.webhook_allow_private_urls,
        retention=timedelta(days=settings.webhook_delivery_retention_days),
    )
