"""Does the time of a failed /api/v1 login tell anything about the account?

Starts `rosterd serve` on a fresh store, makes two admins, and times failed logins of five
kinds, interleaved in random order, from a separate process:

- ``wrong password``: an existing admin, a wrong password;
- ``unknown user``: a username that does not exist;
- ``attacked``: an admin whose logins an attacker has throttled from another address (what
  the old lockout locked), tried with a wrong password from elsewhere;
- ``throttled (known)`` and ``throttled (unknown)``: from the attacker's address, which is
  throttled for that admin and for an unknown username alike (answered 429, no hashing).

Every try but the throttled ones comes from a loopback address of its own (127.0.0.0/8 is
all loopback), so no per-address throttle mixes in, over a connection opened before the
clock starts. The server runs with ROSTERD_LOGIN_LIMITS_PER_ACCOUNT=5/hour so that the
throttled accounts stay throttled for the whole measurement (the default's first tier frees
after a minute). The report gives each kind's median, spread and status codes, and the
Mann-Whitney U p-value of each pair that must not be told apart: a small p-value (< 0.05)
would mean the two kinds' times differ measurably.

    python -m bench.login_timing [--tries 30] [--backend sqlite|postgresql] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from scipy.stats import mannwhitneyu

from bench.run import BIN, HERE, cpu_model, rosterd, server, store

PASSWORD = "correct horse battery staple"  # noqa: S105 (the test admins' password)
ATTACKER = "127.0.0.2"
PAIRS = [
    ("wrong password", "unknown user"),
    ("attacked", "wrong password"),
    ("attacked", "unknown user"),
    ("throttled (known)", "throttled (unknown)"),
]


@dataclass
class Kind:
    name: str
    username: str
    source: str | None  # a fixed source address, or None for a fresh one each try
    ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)


def fresh_sources() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield f"127.1.{n // 250 % 250}.{1 + n % 250}"


def timed_login(base: str, source: str, username: str, password: str) -> tuple[int, float]:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(base_url=base, transport=transport, timeout=60) as client:
        client.get("/healthz")  # the connection is open before the clock starts
        started = time.perf_counter()
        r = client.post(
            "/api/v1/authentication/login", json={"username": username, "password": password}
        )
        return r.status_code, (time.perf_counter() - started) * 1000


def throttle(base: str, username: str) -> None:
    for _ in range(10):
        status, _ = timed_login(base, ATTACKER, username, "attacker's guess")
        if status == 429:
            return
    raise RuntimeError(f"{username} was not throttled from {ATTACKER}")


def measure(base: str, tries: int, seed: int) -> list[Kind]:
    ghost = f"nobody-{random.Random(seed).getrandbits(32):08x}"
    kinds = [
        Kind("wrong password", "target", None),
        Kind("unknown user", f"{ghost}-a", None),
        Kind("attacked", "victim", None),
        Kind("throttled (known)", "victim", ATTACKER),
        Kind("throttled (unknown)", ghost, ATTACKER),
    ]
    throttle(base, "victim")
    throttle(base, ghost)
    order = [k for k in kinds for _ in range(tries)]
    random.Random(seed).shuffle(order)
    sources = fresh_sources()
    for kind in order:
        username = kind.username
        if kind.name == "unknown user":
            username = f"{ghost}-{len(kind.ms)}"  # never the same one twice
        status, ms = timed_login(base, kind.source or next(sources), username, "wrong guess")
        kind.ms.append(ms)
        kind.statuses[status] = kind.statuses.get(status, 0) + 1
    return kinds


def quartiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def report(kinds: list[Kind], backend: str, tries: int) -> dict[str, Any]:
    by_name = {k.name: k for k in kinds}
    return {
        "backend": backend,
        "tries": tries,
        "cpu": cpu_model(),
        "kinds": [
            {
                "kind": k.name,
                "statuses": k.statuses,
                "median_ms": statistics.median(k.ms),
                "q1_ms": quartiles(k.ms)[0],
                "q3_ms": quartiles(k.ms)[1],
                "min_ms": min(k.ms),
                "max_ms": max(k.ms),
            }
            for k in kinds
        ],
        "pairs": [
            {
                "a": a,
                "b": b,
                "p_value": float(
                    mannwhitneyu(by_name[a].ms, by_name[b].ms, alternative="two-sided").pvalue
                ),
            }
            for a, b in PAIRS
        ],
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"{result['tries']} tries of each kind, {result['backend']}, {result['when']}, "
        f"{result['cpu']}.",
        "",
        "| kind | answers | median ms | quartiles ms | min-max ms |",
        "|---|---|---|---|---|",
    ]
    for k in result["kinds"]:
        answers = ", ".join(f"{n} x {s}" for s, n in sorted(k["statuses"].items()))
        lines.append(
            f"| {k['kind']} | {answers} | {k['median_ms']:.1f} | {k['q1_ms']:.1f}-{k['q3_ms']:.1f}"
            f" | {k['min_ms']:.1f}-{k['max_ms']:.1f} |"
        )
    lines += ["", "| pair | Mann-Whitney U p-value (two-sided) |", "|---|---|"]
    for pair in result["pairs"]:
        lines.append(f"| {pair['a']} vs {pair['b']} | {pair['p_value']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tries", type=int, default=30)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON file to write (the Markdown goes beside it); default "
        "bench/results/login-timing-<UTC stamp>-<backend>.json",
    )
    args = parser.parse_args()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or HERE / "results" / f"login-timing-{stamp}-{args.backend}.json"
    with (
        tempfile.TemporaryDirectory(prefix="rosterd-login-") as tmp,
        store(args.backend, Path(tmp)) as url,
    ):
        env = {
            "ROSTERD_DATA_DIR": tmp,
            "ROSTERD_DATABASE_URL": url,
            "ROSTERD_LOG_LEVEL": "warning",
            "ROSTERD_LOGIN_LIMITS_PER_ACCOUNT": "5/hour",
        }
        rosterd(env, "migrate")
        for name in ("target", "victim"):
            stdin = Path(tmp) / "password"
            stdin.write_text(PASSWORD + "\n")
            rosterd(env, "admins", "create", "--tenant", "default", "--username", name, stdin=stdin)
        with server([str(BIN / "rosterd"), "serve", "--host", "127.0.0.1"], env, "/healthz") as (
            base,
            _,
        ):
            kinds = measure(base, args.tries, args.seed)
    result = {"when": stamp, **report(kinds, args.backend, args.tries)}
    print(markdown(result))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(result))
    print(f"written to {out} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
