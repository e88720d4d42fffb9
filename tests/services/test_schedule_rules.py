"""The rules of scheduled access (rosterd.services.lifecycle), as a table: what a user is
stored with when created, or changed, with a validFrom and an expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rosterd.models import User, UserStatus
from rosterd.services import lifecycle
from rosterd.services.errors import Invalid, Unprocessable

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
PAST, SOON, LATER = NOW - timedelta(days=1), NOW + timedelta(days=1), NOW + timedelta(days=2)
# pending, active, suspended, inactive (N: not active any more)
P, A, S, N = UserStatus.pending, UserStatus.active, UserStatus.suspended, UserStatus.inactive


@pytest.mark.parametrize(
    ("status", "valid_from", "expires_at", "stored"),
    [
        (A, None, None, (A, None, None)),
        (A, SOON, LATER, (P, SOON, LATER)),
        (P, SOON, None, (P, SOON, None)),
        (A, PAST, None, (A, PAST, None)),
        (P, PAST, None, (A, PAST, None)),
        (P, None, None, (P, None, None)),
        # An expiry that came: stored as now, inactive whatever else was asked.
        (A, None, PAST, (N, None, NOW)),
        (A, PAST - timedelta(days=1), PAST, (N, PAST - timedelta(days=1), NOW)),
    ],
)
def test_a_new_user(
    status: UserStatus,
    valid_from: datetime | None,
    expires_at: datetime | None,
    stored: tuple[Any, ...],
) -> None:
    got = lifecycle.new_user_schedule(status, valid_from, expires_at, NOW)
    assert (got["status"], got["valid_from"], got["expires_at"]) == stored


@pytest.mark.parametrize(
    ("status", "valid_from", "expires_at", "error", "field"),
    [
        (A, LATER, SOON, Unprocessable, "valid_from"),
        (A, SOON, SOON, Unprocessable, "valid_from"),
        (N, SOON, None, Unprocessable, "valid_from"),
        (S, SOON, None, Unprocessable, "valid_from"),
        (A, SOON.replace(tzinfo=None), None, Invalid, "valid_from"),
        (A, None, SOON.replace(tzinfo=None), Invalid, "expires_at"),
    ],
)
def test_a_new_user_refused(
    status: UserStatus,
    valid_from: datetime | None,
    expires_at: datetime | None,
    error: type[Exception],
    field: str,
) -> None:
    with pytest.raises(error) as raised:
        lifecycle.new_user_schedule(status, valid_from, expires_at, NOW)
    assert [d.field for d in raised.value.details] == [field]  # type: ignore[attr-defined]


def _user(status: UserStatus, valid_from: datetime | None, expires_at: datetime | None) -> User:
    return User(status=status, valid_from=valid_from, expires_at=expires_at)


@pytest.mark.parametrize(
    ("user", "sent", "stored"),
    [
        # Nothing of the schedule sent: nothing to say.
        ((P, SOON, None), {"title": "x"}, None),
        # A waiting user's start moved, cleared, or come.
        ((P, SOON, None), {"valid_from": LATER}, (P, LATER, None)),
        ((P, SOON, None), {"valid_from": None}, (A, None, None)),
        ((P, SOON, None), {"valid_from": PAST}, (A, PAST, None)),
        # A pending user without a start stays so when nothing is set; gets one, waits.
        ((P, None, None), {"valid_from": None}, (P, None, None)),
        ((P, None, None), {"valid_from": SOON}, (P, SOON, None)),
        # Activated by hand early: its start is now; deactivated early: no start.
        ((P, SOON, None), {"status": A}, (A, NOW, None)),
        ((P, SOON, None), {"status": N}, (N, None, None)),
        ((P, SOON, None), {"status": P}, (P, SOON, None)),
        # A start in the past on an active user is history, kept.
        ((A, None, None), {"valid_from": PAST}, (A, PAST, None)),
        # Expiries: one that came deactivates; lifting one that came reactivates.
        ((A, None, None), {"expires_at": PAST}, (N, None, NOW)),
        ((N, None, PAST), {"expires_at": None}, (A, None, None)),
        ((N, None, PAST), {"expires_at": SOON}, (A, None, SOON)),
        ((N, None, PAST), {"status": A}, (A, None, None)),
        # Deactivated by hand while an expiry was ahead: clearing it does not reactivate.
        ((N, None, SOON), {"expires_at": None}, (N, None, None)),
        ((P, SOON, None), {"expires_at": LATER}, (P, SOON, LATER)),
    ],
)
def test_a_change(
    user: tuple[Any, ...], sent: dict[str, Any], stored: tuple[Any, ...] | None
) -> None:
    got = lifecycle.patched_schedule(_user(*user), sent, NOW)
    if stored is None:
        assert got == {}
    else:
        assert (got["status"], got["valid_from"], got["expires_at"]) == stored


@pytest.mark.parametrize(
    ("user", "sent", "error", "field"),
    [
        ((A, None, None), {"valid_from": SOON}, Unprocessable, "valid_from"),
        ((S, None, None), {"valid_from": SOON}, Unprocessable, "valid_from"),
        ((P, SOON, None), {"status": A, "valid_from": SOON}, Unprocessable, "valid_from"),
        ((P, SOON, None), {"expires_at": SOON}, Unprocessable, "expires_at"),
        ((P, SOON, LATER), {"valid_from": LATER}, Unprocessable, "valid_from"),
        ((P, SOON, None), {"expires_at": PAST}, Unprocessable, "expires_at"),
        ((P, SOON, None), {"valid_from": SOON.replace(tzinfo=None)}, Invalid, "valid_from"),
    ],
)
def test_a_change_refused(
    user: tuple[Any, ...], sent: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as raised:
        lifecycle.patched_schedule(_user(*user), sent, NOW)
    assert [d.field for d in raised.value.details] == [field]  # type: ignore[attr-defined]


def test_a_membership_expiry() -> None:
    assert lifecycle.membership_expiry(None, NOW) is None
    assert lifecycle.membership_expiry(SOON, NOW) == SOON
    for refused, error in (
        (NOW, Unprocessable),
        (PAST, Unprocessable),
        (SOON.replace(tzinfo=None), Invalid),
    ):
        with pytest.raises(error):
            lifecycle.membership_expiry(refused, NOW)
