"""The in-process counters: windows that end start again, and memory stays bounded."""

from __future__ import annotations

import pytest

from rosterd.ratelimit import counters
from rosterd.ratelimit.counters import InProcessCounters


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(counters.time, "monotonic", clock)
    return clock


def test_a_window_counts_until_it_ends_then_starts_again(clock: Clock) -> None:
    windows = InProcessCounters()
    stage = [("k", 5, 60)]
    assert windows.charge([stage]) == [(1, 60)]
    clock.now += 59.5
    assert windows.charge([stage]) == [(2, 1)]
    assert windows.peek(["k"]) == [(2, 1)]
    clock.now += 0.5
    assert windows.peek(["k"]) == [(0, 0)]
    assert windows.charge([stage]) == [(1, 60)]


def test_a_new_window_resets_in_exactly_its_length_whatever_the_clock(clock: Clock) -> None:
    windows = InProcessCounters()
    for tick in range(1, 2000):
        clock.now = 1000 + tick / 1000  # for many, (now + 60) - now is a hair over 60
        assert windows.charge([[(f"k{tick}", 5, 60)]]) == [(1, 60)]


def test_the_stage_after_a_refusing_one_is_not_counted(clock: Clock) -> None:
    windows = InProcessCounters()
    credential, tenant = [("c", 1, 60)], [("t", 10, 60)]
    assert windows.charge([credential, tenant]) == [(1, 60), (1, 60)]
    assert windows.charge([credential, tenant]) == [(2, 60)]
    assert windows.peek(["t"]) == [(1, 60)]


def test_past_its_bound_the_longest_open_window_goes(clock: Clock) -> None:
    windows = InProcessCounters(maxsize=2)
    for key in ("a", "b", "c"):
        windows.charge([[(key, 5, 60)]])
        clock.now += 1
    assert windows.peek(["a", "b", "c"]) == [(0, 0), (1, 58), (1, 59)]
