"""The scheduler inside `rosterd serve`: runs due lifecycle work every interval.

It runs in the serve process only, once per node: with ``--workers N`` that is the process
that migrated the store and supervises the workers, which serve requests and run no
background work (rosterd.api.asgi). Several nodes on one PostgreSQL database each run one;
work is claimed with row locks (see repositories.users.due_for_expiry), so each expiry still
happens once. The same goes for the rest of scheduled access (rosterd.services.lifecycle):
pending users whose validFrom came are made active, memberships whose expiry came removed.
Everything it acts on is in the database, so a restart loses nothing.

Background work added later belongs here too, claimed the same way. It also
purges expired Idempotency-Keys, a batch at a time (two nodes purging at once may pick the
same rows; whichever deletes them first does, and the other finds them gone), and folds the
user tallies' per-backend slots into one row each (rosterd.repositories.user_tallies.fold).

It also enforces the audit trail's retention (``audit_retention_days``): old events go in
batches of ``BATCH``, each in a transaction of its own, never one unbounded DELETE, and at
most ``RETENTION_BATCHES`` per tenant per run so a large backlog cannot hold up the rest.
Spent OAuth rows (``oauth_grant_retention_days`` after they were spent: codes that expired
unredeemed, revoked grants, expired refresh tokens; rosterd.services.oauth_grants) and the
local import journal's old imports (``import_journal_retention_days``) go the same way.

The clock is injected so tests can move time instead of sleeping.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from rosterd.db.engine import Database
from rosterd.lifecycle.background import BackgroundLoop
from rosterd.models.base import utcnow
from rosterd.services import audit, idempotency, imports, lifecycle, oauth_grants, users

BATCH = 500
RETENTION_BATCHES = 200


class Scheduler(BackgroundLoop):
    name = "scheduler"

    def __init__(
        self,
        db: Database,
        *,
        interval_seconds: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
        audit_retention_days: int = 0,
        oauth_grant_retention_days: int = 7,
        import_journal_retention_days: int = 0,
    ) -> None:
        super().__init__(interval_seconds)
        self.db = db
        self.clock = clock
        self.audit_retention_days = audit_retention_days
        self.oauth_grant_retention_days = oauth_grant_retention_days
        self.import_journal_retention_days = import_journal_retention_days

    def run_once(self) -> int:
        """Carry out the scheduled access due at the clock's current time: expiries first
        (a user whose validFrom and expiry have both passed ends inactive, never activated),
        then activations, then membership expiries. Returns how many actions."""
        return sum(
            self._in_batches(work)
            for work in (
                lifecycle.expire_due,
                lifecycle.activate_due,
                lifecycle.remove_due_memberships,
            )
        )

    def _in_batches(self, work: Callable[[Session, datetime, int], int]) -> int:
        """``work`` a batch per transaction, until a batch is not full."""
        total = 0
        while True:
            with self.db.writer.begin() as session:
                done = work(session, self.clock(), BATCH)
            total += done
            if done < BATCH:
                return total

    def _per_tenant(self, work: Callable[[Session, uuid.UUID, datetime, int], int]) -> int:
        """``work`` for each tenant, a batch per transaction, until a batch is not full or
        ``RETENTION_BATCHES`` went; returns how many rows it deleted."""
        with self.db.writer.begin() as session:
            tenants = audit.tenant_ids(session)
        total = 0
        for tenant_id in tenants:
            for _ in range(RETENTION_BATCHES):
                with self.db.writer.begin() as session:
                    done = work(session, tenant_id, self.clock(), BATCH)
                total += done
                if done < BATCH:
                    break
        return total

    def purge_audit(self) -> int:
        """Delete the audit events older than the retention; returns how many. 0 days keeps
        them forever."""
        days = self.audit_retention_days
        if days <= 0:
            return 0
        return self._per_tenant(
            lambda session, tenant_id, now, batch: audit.purge(session, tenant_id, now, days, batch)
        )

    def purge_oauth_grants(self) -> int:
        """Delete the OAuth grants and refresh tokens spent longer ago than the retention;
        returns how many rows."""
        grace = timedelta(days=self.oauth_grant_retention_days)
        return self._per_tenant(
            lambda session, tenant_id, now, batch: oauth_grants.purge_spent(
                session, tenant_id, now, grace, batch
            )
        )

    def purge_import_journal(self) -> int:
        """Delete the journal rows of imports done longer ago than the retention; returns
        how many. 0 days keeps them forever."""
        days = self.import_journal_retention_days
        if days <= 0:
            return 0
        return self._per_tenant(
            lambda session, tenant_id, now, batch: imports.forget_old_imports(
                session, tenant_id, now, days, batch
            )
        )

    def purge_idempotency_keys(self) -> int:
        """Delete the Idempotency-Keys expired at the clock's current time, a batch per
        transaction (never one unbounded DELETE); returns how many went."""
        total = 0
        while True:
            with self.db.writer.begin() as session:
                done = idempotency.purge(session, self.clock(), BATCH)
            total += done
            if done < BATCH:
                return total

    def fold_tallies(self) -> int:
        """Gather the user tallies' slots (migration 0023) into one row per tenant and
        status; returns how many tallies changed."""
        with self.db.writer.begin() as session:
            return users.fold_tallies(session)

    def tick(self) -> None:
        done = self.run_once()
        if done:
            self._log.info("carried out %d scheduled access action(s)", done)
        self.fold_tallies()
        purged = self.purge_audit()
        if purged:
            self._log.info("deleted %d audit event(s) past the retention", purged)
        purged = self.purge_idempotency_keys()
        if purged:
            self._log.info("purged %d expired idempotency key(s)", purged)
        purged = self.purge_oauth_grants()
        if purged:
            self._log.info("deleted %d spent OAuth grant(s) and refresh token(s)", purged)
        purged = self.purge_import_journal()
        if purged:
            self._log.info("deleted %d import journal row(s) past the retention", purged)
