"""The feed's cursor never skips an event a slower transaction committed later."""

from __future__ import annotations

import time
import uuid

import pytest

from rosterd.events import feed
from rosterd.runtime import Runtime
from rosterd.services import audit
from rosterd.services.context import Actor
from rosterd.services.errors import Invalid
from tests.factories import bare_tenant


def _read(runtime: Runtime, actor: Actor, after: feed.Cursor) -> feed.FeedPage:
    with runtime.db.reader() as session:
        return feed.read(session, actor, after, None, 100)


def _subjects(page: feed.FeedPage) -> list[str]:
    return [event["subject"] for event in page.events]


def _read_until(runtime: Runtime, actor: Actor, after: feed.Cursor, n: int) -> list[str]:
    """The subjects of the first ``n`` events after ``after``, read again until they came:
    another transaction open on the server (another test's) may hold them back a moment."""
    subjects: list[str] = []
    deadline = time.monotonic() + 30
    while len(subjects) < n:
        assert time.monotonic() < deadline, subjects
        page = _read(runtime, actor, after)
        subjects += _subjects(page)
        after = page.cursor
        time.sleep(0.05)
    return subjects


def test_an_event_committed_late_by_an_older_transaction_is_not_skipped(
    runtime: Runtime, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite runs one write transaction at a time: ids are in commit order")
    actor = Actor(tenant_id=bare_tenant(runtime), actor="test", surface="test")
    slow = runtime.db.writer()
    try:
        # The slow transaction writes first, so its row gets the smaller id ...
        audit.record(slow, actor, "user.created", "user", "slow")
        # ... and a quick one writes and commits while it is still open.
        with runtime.db.writer.begin() as quick:
            audit.record(quick, actor, "user.created", "user", "quick")

        held = _read(runtime, actor, feed.Cursor())
        # An id-ordered feed would answer "quick" and move past the slow row's id here.
        assert "slow" not in _subjects(held)
        assert "quick" not in _subjects(held), "a row shown before an older one has ended"

        slow.commit()
    finally:
        slow.close()

    assert _read_until(runtime, actor, held.cursor, 2) == ["slow", "quick"]
    assert _read_until(runtime, actor, feed.Cursor(), 2) == ["slow", "quick"]  # re-read


def test_a_rolled_back_transaction_holds_nothing_back(runtime: Runtime) -> None:
    actor = Actor(tenant_id=bare_tenant(runtime), actor="test", surface="test")
    with runtime.db.writer() as gone:
        audit.record(gone, actor, "user.created", "user", "gone")
        gone.rollback()
    with runtime.db.writer.begin() as session:
        audit.record(session, actor, "user.created", "user", "kept")
    assert _read_until(runtime, actor, feed.Cursor(), 1) == ["kept"]


# base64 of "", ".", "1.2.3", "-1.2", "a.b", "1.<beyond a 64-bit integer>"; no base64 at all
@pytest.mark.parametrize(
    "text",
    ["", "Lg", "MS4yLjM", "LTEuMg", "YS5i", "MS45MjIzMzcyMDM2ODU0Nzc1ODA4", "\u00e9", "%%"],
)
def test_cursors_not_from_the_feed_are_refused(text: str) -> None:
    with pytest.raises(Invalid, match="after"):
        feed.Cursor.decode(text)


def test_a_cursor_survives_its_round_trip() -> None:
    cursor = feed.Cursor(tx=2**40 + 7, id=uuid.uuid4().int % 2**62)
    assert feed.Cursor.decode(cursor.encode()) == cursor
    assert feed.Cursor.decode("MS4y") == feed.Cursor(1, 2)
