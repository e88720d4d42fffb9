"""When credentials were last used, written beside the requests that used them.

An OAuth client's, SCIM token's or API key's last use is shown to admins to the minute
(``credentials.LAST_USED_GRANULARITY``). A request presenting one only notes it here, in
memory; ``LastUseWriter`` writes what was noted soon after (``gather_seconds``), every
note of the moment in one short transaction of its own. So a request that reads never waits
on a write for it: on SQLite, for the write lock another writer holds; on PostgreSQL, for a
round trip and a commit. A use noted in a process that dies before writing it is lost,
and written again on the credential's next use.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy.orm import Session

from rosterd.db.engine import Database
from rosterd.lifecycle.background import BackgroundLoop
from rosterd.models.base import utcnow
from rosterd.repositories import credentials as credentials_repo
from rosterd.repositories.credentials import Used

Noted = dict[tuple[type[Used], uuid.UUID], datetime]


class LastUses:
    """Last uses noted and not yet written, at most one per credential (the latest)."""

    def __init__(self) -> None:
        self._noted: Noted = {}
        self._guard = threading.Lock()
        # Held while notes are written: ``flush`` returns only once what was noted before
        # it is in the store, whichever thread took it.
        self._writing = threading.Lock()
        # Called after each note: the writer's wake-up.
        self.on_note: Callable[[], None] | None = None

    def note(self, model: type[Used], row_id: uuid.UUID, when: datetime | None = None) -> None:
        """Note a use of the credential ``model`` ``row_id``; no I/O."""
        when = when or utcnow()
        with self._guard:
            held = self._noted.get((model, row_id))
            if held is None or held < when:
                self._noted[(model, row_id)] = when
        if self.on_note is not None:
            self.on_note()

    def pending(self) -> int:
        with self._guard:
            return len(self._noted)

    def flush(self, begin: Callable[[], AbstractContextManager[Session]]) -> int:
        """Write every use noted so far in one transaction from ``begin``; how many. Noted
        again if the transaction fails (and the error raised), so none is dropped."""
        with self._writing:
            with self._guard:
                taken, self._noted = self._noted, {}
            if not taken:
                return 0
            try:
                with begin() as session:
                    for (model, row_id), when in sorted(taken.items(), key=_in_id_order):
                        credentials_repo.touch(session, model, row_id, when)
            except BaseException:
                with self._guard:
                    for key, when in taken.items():
                        if key not in self._noted or self._noted[key] < when:
                            self._noted[key] = when
                raise
            return len(taken)


def _in_id_order(item: tuple[tuple[type[Used], uuid.UUID], datetime]) -> tuple[str, uuid.UUID]:
    """One order for every writer of several rows, so two writers cannot deadlock."""
    (model, row_id), _ = item
    return model.__tablename__, row_id


class LastUseWriter(BackgroundLoop):
    """Writes the process's noted last uses, ``gather_seconds`` after the first of a burst;
    what is left when it stops is written then."""

    name = "last-uses"

    def __init__(
        self, db: Database, uses: LastUses, *, gather_seconds: float = 0.1, poll_seconds: float = 5
    ) -> None:
        super().__init__(poll_seconds)
        self.db = db
        self.uses = uses
        self.gather = gather_seconds

    def run_once(self) -> int:
        return self.uses.flush(self.db.writer.begin)

    def wait(self) -> bool:
        woken = self._wake.wait(self.interval)
        if self._stop.is_set() or (woken and self._stop.wait(self.gather)):
            return False
        self._wake.clear()
        return True

    def tick(self) -> None:
        if self.uses.pending():
            self.run_once()

    def start(self) -> None:
        self.uses.on_note = self._wake.set
        super().start()

    def stop(self) -> None:
        super().stop()
        if self.uses.on_note == self._wake.set:  # not another writer's, started since
            self.uses.on_note = None
        try:
            self.run_once()
        except Exception:
            self._log.exception("last uses not written at shutdown")
