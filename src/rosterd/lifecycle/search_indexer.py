"""The search indexer inside `rosterd serve` on SQLite: keeps users_fts up with users.

User writes only note what changed (rosterd.repositories.search_queue); this thread indexes
it soon after, in batches of at most ``batch`` rows, each in a short transaction of its own
through ``Database.writer``, so it takes its turn on SQLite's one write connection between
the request groups (rosterd.db.work.GroupCommitWriter). Searches are exact whether or not it
has caught up; how far behind it is only decides how many pending rows each search scans.

It wakes when a transaction commits on the write engine in this process, then waits
``gather_seconds`` so the writes of a burst make one batch; it also looks for pending rows
every ``poll_seconds``, for writes by other processes on the store (CLI commands). One runs
per process serving a SQLite store (serve refuses more than one such process); two would
still be correct, each batch being all or nothing under the write lock.

PostgreSQL needs none: it maintains its trigram indexes itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from rosterd.db.engine import Database
from rosterd.lifecycle.background import BackgroundLoop
from rosterd.repositories import search_queue

# Rows a transaction indexes: a few milliseconds of the writer, so a request arriving meanwhile
# waits little; smaller batches cost more per row (about 0.045 ms at 50, 0.02 ms at 256).
BATCH = 256


class SearchIndexer(BackgroundLoop):
    name = "indexer"

    def __init__(
        self,
        db: Database,
        *,
        batch: int = BATCH,
        gather_seconds: float = 0.05,
        poll_seconds: float = 1.0,
    ) -> None:
        super().__init__(poll_seconds)
        self.db = db
        self.batch = batch
        self.gather = gather_seconds
        self._woken = False

    def run_once(self) -> int:
        """Index everything pending now, a batch per transaction; how many rows."""
        total = 0
        while True:
            with self.db.writer.begin() as session:
                done = search_queue.drain(session.connection(), self.batch)
            total += done
            if done < self.batch:
                return total

    def _pending(self) -> bool:
        with self.db.reader() as session:
            return not search_queue.is_empty(session.connection())

    def _committed(self, _conn: Any) -> None:
        """A write committed on the write engine: wake up, unless it was the indexer's own."""
        if not self.in_loop() and not self._wake.is_set():
            self._wake.set()

    def wait(self) -> bool:
        """Until a write commits (then ``gather`` more, so a burst makes one batch) or the
        poll interval passes."""
        self._woken = self._wake.wait(self.interval)
        if self._stop.is_set() or (self._woken and self._stop.wait(self.gather)):
            return False
        self._wake.clear()
        return True

    def tick(self) -> None:
        if self._woken or self._pending():
            self.run_once()

    def start(self) -> None:
        event.listen(self.db.write_engine, "commit", self._committed)
        super().start()

    def stop(self) -> None:
        """Stop, after the batch under way (what is left stays pending, and found)."""
        super().stop()
        if event.contains(self.db.write_engine, "commit", self._committed):
            event.remove(self.db.write_engine, "commit", self._committed)
