"""Reading wrk's report: a run where no request finished must not read as 0 ms."""

from __future__ import annotations

import math

from bench.run import parse_wrk

FINISHED = """\
Running 5s test @ http://127.0.0.1:8080/integration/v2/users
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    25.10ms   10.20ms 180.00ms   90.00%
    Req/Sec   160.00     20.00   200.00     70.00%
  Latency Distribution
     50%   22.50ms
     75%   28.00ms
     90%   35.00ms
     99%    1.20s
  800 requests in 5.00s, 1.20MB read
Requests/sec:    159.80
Transfer/sec:    245.00KB
"""

NONE_FINISHED = """\
Running 5s test @ http://127.0.0.1:8080/integration/v2/users?query=rtin
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     0.00      0.00     0.00      -nan%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  0 requests in 5.00s, 0.00B read
Requests/sec:      0.00
Transfer/sec:       0.00B
"""


def test_percentiles_are_read_in_milliseconds() -> None:
    load = parse_wrk(FINISHED, seconds=5)
    assert (load.rps, load.p50_ms, load.p99_ms) == (159.8, 22.5, 1200.0)
    assert not load.none_completed
    assert load.requests == 800


def test_a_run_where_nothing_finished_counts_as_the_whole_run() -> None:
    load = parse_wrk(NONE_FINISHED, seconds=5)
    assert load.none_completed
    assert (load.rps, load.p99_ms) == (0.0, 5000.0)
    assert not math.isnan(load.p50_ms)
