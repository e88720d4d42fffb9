"""The rosterd benchmark suite (see BENCHMARKS.md).

Builds a tenant through `rosterd import`, serves it with `rosterd serve`, and drives every
scenario with wrk from a separate process, each figure the median of repeated runs and
reported beside a baseline measured in the same run. Writes bench/results/<stamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import secrets
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import events, write_floor
from bench.generate import generate
from rosterd.db.maintenance import extensions_in_public

# The limiter runs (its cost is in every figure) with limits the load never reaches: the
# bench measures what a node can serve, not what one credential is allowed.
UNREACHED_RATE_LIMITS = {
    f"ROSTERD_RATE_LIMIT_{name}": "1000000/second"
    for name in ("PER_CREDENTIAL", "PER_TENANT", "UNAUTHENTICATED_PER_IP", "TOKEN_ENDPOINT")
}
HERE = Path(__file__).parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
POSTGRES_URL = os.environ.get(
    "ROSTERD_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SCIM_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"

# `rosterd serve --workers` as each store is served: SQLite admits one process, a
# PostgreSQL deployment runs a worker per core.
SERVE_WORKERS = {"sqlite": 1, "postgresql": os.cpu_count() or 1}

# Issue 11's targets (SQLite unless said), by scenario and backend.
CPU_TARGET = "server CPU <= 0.15 ms/request"
# SCIM POST's, as multiples of scim2-server's rate (the floor's row measures against it too).
POST_TARGET_FACTOR = {"sqlite": 2.0, "postgresql": 0.5}
TARGETS: dict[str, dict[str, str]] = {
    "import": {"sqlite": "< 15 s for 100k", "postgresql": "< 20 s for 100k"},
    "get": {
        "sqlite": f">= 0.35 of ceiling; {CPU_TARGET}",
        "postgresql": f">= 0.20 of ceiling; {CPU_TARGET}",
    },
    "scim post": {b: f">= {f:g}x reference" for b, f in POST_TARGET_FACTOR.items()},
    "lifecycle": {"sqlite": ">= 200/s", "postgresql": ">= 100/s"},
    "events": {"sqlite": "keeps up (ratio ~1)", "postgresql": "keeps up (ratio ~1)"},
}


def target(scenario: str, backend: str) -> str:
    return TARGETS[scenario][backend]


@dataclass
class Figure:
    scenario: str
    backend: str
    metric: str
    value: float
    baseline_name: str | None = None
    baseline: float | None = None
    target: str = ""
    runs: list[float] = field(default_factory=list)
    note: str = ""
    # Latency rows: the median request's latency beside the p99, to tell the typical request
    # from the tail (queueing behind other clients on one process, pauses).
    p50_ms: float | None = None
    # The server process's CPU (user + system, /proc) per request over the measured runs
    # (median of the runs), and the baseline server's in the same run: on a shared machine
    # wall-clock rates swing 2x between identical runs while CPU per request does not. The
    # bulk load's is the importer's CPU per user (cpu_per says which).
    cpu_ms: float | None = None
    baseline_cpu_ms: float | None = None
    cpu_runs: list[float] = field(default_factory=list)
    cpu_per: str = "request"
    # The lifecycle row: CPU per lifecycle (five requests) beside the per-request figure.
    cpu_ms_per_lifecycle: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]

    @property
    def cpu_ratio(self) -> float | None:
        if self.cpu_ms is None or self.baseline_cpu_ms in (None, 0):
            return None
        return self.cpu_ms / self.baseline_cpu_ms  # type: ignore[operator]


# ---- processes ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited before answering {url}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no answer from {url}")


# How much of a server's log a failed scenario prints (the servers log warnings and up).
LOG_TAIL_BYTES = 20_000


@contextmanager
def server(args: list[str], env: dict[str, str], ready_path: str) -> Iterator[tuple[str, int]]:
    """A server on a free port, its output kept in a temporary file: when the block fails
    (a scenario saw an error response), the end of that log is printed with the error."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [*args, "--port", str(port)],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base + ready_path, proc)
            yield base, proc.pid
        except BaseException:
            log.seek(max(0, log.seek(0, os.SEEK_END) - LOG_TAIL_BYTES))
            tail = log.read().decode(errors="replace")
            print(f"--- the end of the log of {shlex.join(args)} ---\n{tail}", file=sys.stderr)
            raise
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def uvicorn_app(app: str) -> list[str]:
    """The same uvicorn settings `rosterd serve` uses at the bench's log level (defaults, one
    process, and no access log: serve turns it off above INFO)."""
    return [
        str(BIN / "python"),
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def serve_command(backend: str) -> list[str]:
    """`rosterd serve` as the bench runs it on ``backend`` (see ``SERVE_WORKERS``)."""
    workers = str(SERVE_WORKERS[backend])
    return [str(BIN / "rosterd"), "serve", "--host", "127.0.0.1", "--workers", workers]


def rss_mb(pid: int) -> float:
    """The resident set of the largest process of the server (``pid`` or a worker)."""
    sizes = [float("nan")]
    for member in process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        sizes += [int(line.split()[1]) / 1024 for line in status.splitlines() if "VmRSS:" in line]
    return max(sizes[1:], default=sizes[0])


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a server started with workers runs in several)."""
    pids, seen = [pid], 0
    while seen < len(pids):
        current = pids[seen]
        seen += 1
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return pids


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the server (the process and its descendants, every
    thread) has used so far."""
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class ServerCpu:
    """CPU ms per request of a server over one measured stretch: ``with ServerCpu(pid) as
    cpu: ...`` then ``cpu.per(requests)``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.seconds = 0.0

    def __enter__(self) -> ServerCpu:
        self._started = cpu_seconds(self.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = cpu_seconds(self.pid) - self._started

    def per(self, requests: int) -> float:
        return self.seconds * 1000 / max(1, requests)


# ---- wrk ---------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    # No request finished within the run: the latencies are then the run's length, a floor.
    none_completed: bool = False
    requests: int = 0
    # The server's CPU ms per request completed in the run (None when not measured).
    cpu_ms: float | None = None


def wrk(
    url: str,
    *,
    pid: int,
    seconds: int,
    connections: int,
    headers: dict[str, str] | None = None,
    script: Path | None = None,
) -> Load:
    """One wrk run against ``url``, with the CPU the server ``pid`` spent per request."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    if script is not None:
        cmd += ["-s", str(script)]
    with ServerCpu(pid) as cpu:
        out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx responses" in out:
        raise RuntimeError(f"wrk saw error responses from {url}:\n{out}")
    load = parse_wrk(out, seconds)
    return replace(load, cpu_ms=cpu.per(load.requests) if load.requests else None)


def parse_wrk(out: str, seconds: int) -> Load:
    """The rate and latency percentiles of wrk's ``--latency`` report."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    if requests == 0:
        # wrk then prints 0.00us for every percentile; every request outlasted the run.
        return Load(rps=0.0, p50_ms=seconds * 1000.0, p99_ms=seconds * 1000.0, none_completed=True)

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")

    return Load(rps=rps, p50_ms=pct("50"), p99_ms=pct("99"), requests=requests)


def settle(url: str, quiet_ms: float = 20, timeout: float = 60) -> None:
    """Wait until the server answers ``url`` promptly again.

    When wrk stops, requests it gave up on can still be running in the server; without this
    their tail would land in the next scenario's figures.
    """
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=timeout) as client:
        while time.monotonic() < deadline:
            started = time.monotonic()
            client.get(url)
            if (time.monotonic() - started) * 1000 < quiet_ms:
                return
            time.sleep(0.2)


def median_or_none(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def median_load(runs: int, **kwargs: Any) -> tuple[Load, list[Load]]:
    origin = httpx.URL(kwargs["url"]).copy_with(path="/healthz", query=None)
    loads = []
    for _ in range(runs):
        settle(str(origin))
        loads.append(wrk(**kwargs))
    return (
        Load(
            rps=statistics.median(x.rps for x in loads),
            p50_ms=statistics.median(x.p50_ms for x in loads),
            p99_ms=statistics.median(x.p99_ms for x in loads),
            requests=sum(x.requests for x in loads),
            cpu_ms=median_or_none([x.cpu_ms for x in loads]),
        ),
        loads,
    )


# ---- lifecycle (16 concurrent clients, from this separate process) -----------------------


LIFECYCLE_REQUESTS = 5


async def lifecycles(
    base: str, token: str, group_id: str, seconds: float, clients: int
) -> tuple[float, int]:
    """Lifecycles per second of ``clients`` concurrent clients, and how many completed."""
    headers = {"Authorization": f"Bearer {token}"}
    done = 0
    stop = time.monotonic() + seconds

    async def worker(n: int) -> None:
        nonlocal done
        async with httpx.AsyncClient(
            base_url=base + "/integration/v2", headers=headers, timeout=30
        ) as c:
            i = 0
            while time.monotonic() < stop:
                i += 1
                email = f"life-{n}-{i}-{secrets.token_hex(3)}@example.com"
                r = await c.post(
                    "/users", json={"email": email, "firstName": "Life", "lastName": "Cycle"}
                )
                r.raise_for_status()
                uid = r.json()["id"]
                (await c.patch(f"/users/{uid}", json={"title": "Temp"})).raise_for_status()
                (
                    await c.post(f"/groups/{group_id}/members", json={"userId": uid})
                ).raise_for_status()
                (await c.patch(f"/users/{uid}", json={"isActive": False})).raise_for_status()
                (await c.delete(f"/users/{uid}")).raise_for_status()
                done += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(clients)))
    return done / (time.monotonic() - started), done


# ---- writes while logins flood in ------------------------------------------------------------

FLOOD_CLIENTS = 16


class SourceAddresses:
    """A fresh loopback source address for every flooding request (127.0.0.0/8 is all
    loopback), so no per-address throttle stops the flood: every login is a real password
    check, as from a botnet."""

    def __init__(self) -> None:
        self._n = 0

    def next(self) -> str:
        self._n += 1
        n = self._n
        return f"127.{100 + n // 62_500 % 100}.{n // 250 % 250}.{1 + n % 250}"


async def patch_walls(base: str, token: str, uid: str, seconds: float) -> list[float]:
    """Wall ms of sequential PATCHes of one user by one client, for ``seconds``."""
    walls: list[float] = []
    stop = time.monotonic() + seconds
    async with httpx.AsyncClient(
        base_url=base + "/integration/v2", headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as c:
        while time.monotonic() < stop:
            started = time.perf_counter()
            r = await c.patch(f"/users/{uid}", json={"title": f"t{len(walls) % 7}"})
            r.raise_for_status()
            walls.append((time.perf_counter() - started) * 1000)
    return walls


async def login_flood(base: str, stop: asyncio.Event, addresses: SourceAddresses) -> dict[int, int]:
    """FLOOD_CLIENTS clients posting logins for unknown usernames until ``stop``; answers by
    status."""
    statuses: dict[int, int] = {}

    async def client() -> None:
        while not stop.is_set():
            transport = httpx.AsyncHTTPTransport(local_address=addresses.next())
            async with httpx.AsyncClient(base_url=base, transport=transport, timeout=120) as c:
                r = await c.post(
                    "/api/v1/authentication/login",
                    json={"username": f"nobody-{secrets.token_hex(6)}", "password": "guess"},
                )
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    await asyncio.gather(*(client() for _ in range(FLOOD_CLIENTS)))
    return statuses


async def patches_during_flood(
    base: str, token: str, uid: str, seconds: float, addresses: SourceAddresses
) -> tuple[list[float], dict[int, int]]:
    stop = asyncio.Event()
    flood = asyncio.create_task(login_flood(base, stop, addresses))
    await asyncio.sleep(min(1.0, seconds / 2))  # the flood is under way
    walls = await patch_walls(base, token, uid, seconds)
    stop.set()
    return walls, await flood


def login_flood_figure(
    base: str, pid: int, token: str, uid: str, backend: str, seconds: int, runs: int
) -> Figure:
    """The median v2 PATCH while idle, then while 16 clients flood logins for unknown users,
    alternately in the same run. Its server CPU is per request of either kind."""
    idle: list[float] = []
    flooded: list[float] = []
    idle_cpu: list[float] = []
    flooded_cpu: list[float] = []
    statuses: dict[int, int] = {}
    addresses = SourceAddresses()
    for _ in range(runs):
        settle(f"{base}/healthz")
        with ServerCpu(pid) as cpu:
            walls = asyncio.run(patch_walls(base, token, uid, seconds))
        idle.append(statistics.median(walls))
        idle_cpu.append(cpu.per(len(walls)))
        with ServerCpu(pid) as cpu:
            walls, seen = asyncio.run(patches_during_flood(base, token, uid, seconds, addresses))
        flooded.append(statistics.median(walls))
        flooded_cpu.append(cpu.per(len(walls) + sum(seen.values())))
        for status, count in seen.items():
            statuses[status] = statuses.get(status, 0) + count
    answered = ", ".join(f"{count} x {status}" for status, count in sorted(statuses.items()))
    return Figure(
        "v2 PATCH during a login flood (16 clients)",
        backend,
        "median ms",
        statistics.median(flooded),
        "the same PATCH, idle",
        statistics.median(idle),
        "<= 3x idle",
        flooded,
        f"logins for unknown users from a new address each; answered {answered}; "
        "server CPU per request of either kind",
        cpu_ms=statistics.median(flooded_cpu),
        baseline_cpu_ms=statistics.median(idle_cpu),
        cpu_runs=flooded_cpu,
    )


# ---- SCIM group PATCH: a large group against a small one ----------------------------------

SMALL_GROUP = 10
LARGE_GROUP = 50_000
PATCH_POOL = 100  # users added and removed again, one PATCH each
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def scim_user_ids(client: httpx.Client, wanted: int) -> list[str]:
    ids: list[str] = []
    while len(ids) < wanted:
        page = client.get(
            "/Users",
            params={
                "attributes": "id",
                "count": min(1000, wanted - len(ids)),
                "startIndex": len(ids) + 1,
            },
        ).json()
        if not page.get("Resources"):
            break
        ids += [r["id"] for r in page["Resources"]]
    return ids


def patch_members(client: httpx.Client, group_id: str, op: str, ids: list[str]) -> None:
    for start in range(0, len(ids), 1000):
        body = {
            "schemas": [PATCH_SCHEMA],
            "Operations": [
                {
                    "op": op,
                    "path": "members",
                    "value": [{"value": i} for i in ids[start : start + 1000]],
                }
            ],
        }
        client.patch(f"/Groups/{group_id}", json=body).raise_for_status()


def timed_adds(
    client: httpx.Client, pid: int, group_id: str, pool: list[str]
) -> tuple[float, float]:
    """Median wall ms and mean server CPU ms of PATCHes that each add one member (sequential,
    one client); the members are removed again afterwards, untimed."""
    walls: list[float] = []
    cpu = cpu_seconds(pid)
    for uid in pool:
        body = {
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}],
        }
        started = time.perf_counter()
        client.patch(f"/Groups/{group_id}", json=body).raise_for_status()
        walls.append((time.perf_counter() - started) * 1000)
    cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / len(pool)
    patch_members(client, group_id, "remove", pool)
    return statistics.median(walls), cpu_ms


def group_patch_figures(
    base: str, pid: int, scim: dict[str, str], backend: str, users: int, runs: int
) -> list[Figure]:
    """A SCIM PATCH adding one member to a large group against the same PATCH on a group of
    ten, measured alternately in the same run. The large group has 50,000 members, or half
    the tenant when it is smaller (the smoke run)."""
    large = min(LARGE_GROUP, users // 2)
    pool_size = min(PATCH_POOL, users - large)
    with httpx.Client(base_url=f"{base}/scim/v2", headers=scim, timeout=120) as client:
        ids = scim_user_ids(client, large + pool_size)
        members, pool = ids[:large], ids[large:]
        groups = {}
        for size in (SMALL_GROUP, large):
            groups[size] = client.post(
                "/Groups",
                json={
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": f"bench-{size}-{secrets.token_hex(4)}",
                },
            ).json()["id"]
            patch_members(client, groups[size], "add", members[:size])
        walls: dict[int, list[float]] = {SMALL_GROUP: [], large: []}
        cpus: dict[int, list[float]] = {SMALL_GROUP: [], large: []}
        for _ in range(runs):
            for size, group_id in groups.items():
                wall, cpu = timed_adds(client, pid, group_id, pool)
                walls[size].append(wall)
                cpus[size].append(cpu)
    name = "SCIM PATCH add 1 member, large group"
    cpu: dict[str, Any] = {
        "cpu_ms": statistics.median(cpus[large]),
        "baseline_cpu_ms": statistics.median(cpus[SMALL_GROUP]),
        "cpu_runs": cpus[large],
    }
    target = f"<= 3x the {SMALL_GROUP}-member group"
    note = f"{large:,} members against {SMALL_GROUP}; {pool_size} PATCHes a run, one client"
    return [
        Figure(
            f"{name} (wall)",
            backend,
            "median ms",
            statistics.median(walls[large]),
            f"{SMALL_GROUP}-member group",
            statistics.median(walls[SMALL_GROUP]),
            target,
            walls[large],
            note,
            **cpu,
        ),
        Figure(
            f"{name} (server CPU)",
            backend,
            "CPU ms/request",
            statistics.median(cpus[large]),
            f"{SMALL_GROUP}-member group",
            statistics.median(cpus[SMALL_GROUP]),
            target,
            cpus[large],
            note,
            **cpu,
        ),
    ]


# ---- one backend -------------------------------------------------------------------------


@contextmanager
def store(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{(workdir / 'rosterd.db').as_posix()}"
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    schema = f"rosterd_bench_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        extensions_in_public(conn)
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (
            make_url(POSTGRES_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def rosterd(env: dict[str, str], *args: str, stdin: Path | None = None) -> str:
    with stdin.open() if stdin else open(os.devnull) as fh:
        return subprocess.run(
            [str(BIN / "rosterd"), *args],
            env={**os.environ, **env},
            stdin=fh,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout


def children_cpu_seconds() -> float:
    """User plus system CPU of this process's finished children (the importer)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_of(load: Load, loads: list[Load], baseline: Load) -> dict[str, Any]:
    """A wrk row's server CPU figures: its median, the baseline server's, each run's."""
    return {
        "cpu_ms": load.cpu_ms,
        "baseline_cpu_ms": baseline.cpu_ms,
        "cpu_runs": [x.cpu_ms for x in loads if x.cpu_ms is not None],
    }


FLOOR_SCENARIO = "SQL floor of a SCIM create (users + audit rows, commits of 16)"


def post_target_rps(backend: str, reference: Load) -> float:
    """The SCIM POST rate the target asks for: a multiple of scim2-server's."""
    return reference.rps * POST_TARGET_FACTOR[backend]


def write_floor_figure(url: str, backend: str, runs: int, target_rps: float) -> Figure:
    """The database's CPU for a create's rows (bench.write_floor), against what a create may
    take at the SCIM POST target: 1000 / that rate, in ms of one core (on SQLite one writer
    commits every create, so its time per create can be no more than that).

    Means, not medians: SQLite's search index merges its segments now and then, in whichever
    run reaches the threshold, so the runs' mean is the cost per create over time."""
    floors = [write_floor.measure(url, creates=3000, batch=16) for _ in range(runs)]
    cpu = statistics.fmean(f.cpu_ms for f in floors)
    wall = statistics.fmean(f.wall_ms for f in floors)
    return Figure(
        FLOOR_SCENARIO,
        backend,
        "CPU ms/create",
        cpu,
        "one core's ms per create at the SCIM POST target",
        1000 / target_rps,
        "below the baseline, or the POST target is out of reach",
        [f.cpu_ms for f in floors],
        note=(
            "means of the runs; the INSERTs straight on the driver, no rosterd code timed"
            + (
                ", with the search index's update of the new users"
                if backend == "sqlite"
                else ", the backend's CPU included"
            )
            + f"; {wall:.3f} ms of wall time (one connection: {1000 / wall:.0f} creates/s) "
            f"and {statistics.fmean(f.written_kb for f in floors):.0f} KB written per create"
        ),
        cpu_ms=cpu,
        cpu_runs=[f.cpu_ms for f in floors],
        cpu_per="create",
    )


def run_backend(backend: str, users: int, data: Path, seconds: int, runs: int) -> list[Figure]:
    figures: list[Figure] = []
    with (
        tempfile.TemporaryDirectory(prefix="rosterd-bench-") as tmp,
        store(backend, Path(tmp)) as url,
    ):
        env = {
            "ROSTERD_DATA_DIR": tmp,
            "ROSTERD_DATABASE_URL": url,
            "ROSTERD_LOG_LEVEL": "warning",
            # The webhook row's receiver runs on 127.0.0.1.
            "ROSTERD_WEBHOOK_ALLOW_PRIVATE_URLS": "true",
            **UNREACHED_RATE_LIMITS,
        }
        rosterd(env, "migrate")
        started, cpu_before = time.monotonic(), children_cpu_seconds()
        rosterd(env, "import", "--tenant", "default", str(data))
        load_s = time.monotonic() - started
        import_cpu_ms = (children_cpu_seconds() - cpu_before) * 1000 / users
        figures.append(
            Figure(
                "bulk load (rosterd import)",
                backend,
                "seconds",
                load_s,
                target=f"{target('import', backend)} (ran {users})",
                cpu_ms=import_cpu_ms,
                cpu_runs=[import_cpu_ms],
                cpu_per="user imported",
            )
        )
        creds = json.loads((Path(tmp) / "bootstrap-credentials.json").read_text())
        scim_token = json.loads(
            rosterd(env, "scim-tokens", "create", "--tenant", "default", "--json")
        )["token"]
        api_key = json.loads(rosterd(env, "api-keys", "create", "--tenant", "default", "--json"))[
            "api_key"
        ]

        with (
            server(serve_command(backend), env, "/healthz") as (
                base,
                pid,
            ),
            server(uvicorn_app("bench.ceiling:app"), {}, "/") as (ceiling, ceiling_pid),
        ):
            token = httpx.post(
                f"{base}/tenants/default/connect/token",
                data={"grant_type": "client_credentials"},
                auth=(creds["client_id"], creds["client_secret"]),
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            scim = {"Authorization": f"Bearer {scim_token}"}
            sample = httpx.get(
                f"{base}/integration/v2/users", params={"limit": 1, "sortBy": "email"}, headers=auth
            ).json()["items"][0]
            uid, email, username = sample["id"], sample["email"], sample["username"]

            ceiling_load, _ = median_load(
                runs,
                url=f"{ceiling}/integration/v2/users/{uid}",
                pid=ceiling_pid,
                seconds=seconds,
                connections=16,
            )
            get_load, get_runs = median_load(
                runs,
                url=f"{base}/integration/v2/users/{uid}",
                pid=pid,
                seconds=seconds,
                connections=16,
                headers=auth,
            )
            figures.append(
                Figure(
                    "GET /integration/v2/users/{id}",
                    backend,
                    "requests/s",
                    get_load.rps,
                    "bare Starlette (ceiling)",
                    ceiling_load.rps,
                    target("get", backend),
                    [x.rps for x in get_runs],
                    **cpu_of(get_load, get_runs, ceiling_load),
                )
            )

            def latency(name: str, path: str, headers: dict[str, str], target: str) -> None:
                load, loads = median_load(
                    runs, url=base + path, pid=pid, seconds=seconds, connections=4, headers=headers
                )
                stalled = sum(x.none_completed for x in loads)
                figures.append(
                    Figure(
                        name,
                        backend,
                        "p99 ms",
                        load.p99_ms,
                        "ceiling p99 ms",
                        ceiling_load.p99_ms,
                        target,
                        [x.p99_ms for x in loads],
                        note=(
                            f"{stalled} of {runs} runs finished no request in {seconds} s; "
                            f"they count as {seconds * 1000} ms, a floor"
                            if stalled
                            else ""
                        ),
                        p50_ms=load.p50_ms,
                        **cpu_of(load, loads, ceiling_load),
                    )
                )

            latency(
                "list active, sortBy=name, limit=100",
                "/integration/v2/users?status=active&sortBy=name&limit=100",
                auth,
                "p99 < 50 ms",
            )
            # A common needle (about 5% of users, clustered in names) and a selective one (a
            # fragment of one person's login), as an admin types either.
            for kind, needle in (("common", "rtin"), ("selective", username[1:])):
                co = f'userName co "{needle}"'
                latency(
                    f"search v2 query= ({kind})",
                    f"/integration/v2/users?{httpx.QueryParams({'query': needle})}",
                    auth,
                    "p99 < 50 ms",
                )
                latency(
                    f"search user identities search= ({kind})",
                    f"/user_identities/list?{httpx.QueryParams({'search': needle, 'limit': 100})}",
                    {"Authorization": f"Bearer {api_key}"},
                    "p99 < 50 ms",
                )
                latency(
                    f"search SCIM co ({kind})",
                    f"/scim/v2/Users?{httpx.QueryParams({'filter': co, 'count': 100})}",
                    scim,
                    "p99 < 200 ms" if kind == "common" else "p99 < 50 ms",
                )
            latency(
                "SCIM userName eq",
                f"/scim/v2/Users?filter=userName%20eq%20%22{username}%22",
                scim,
                "p99 < 10 ms",
            )
            latency(
                "SCIM emails[type eq work].value eq",
                f"/scim/v2/Users?filter=emails%5Btype%20eq%20%22work%22%5D.value%20eq%20%22{email}%22",
                scim,
                "p99 < 10 ms",
            )

            post_load, post_runs = median_load(
                runs,
                url=f"{base}/scim/v2/Users",
                pid=pid,
                seconds=seconds,
                connections=16,
                headers=scim,
                script=HERE / "scim_post.lua",
            )
            with server(
                uvicorn_app("bench.reference_scim:app"), {}, "/v2/ServiceProviderConfig"
            ) as (ref, ref_pid):
                ref_load, _ = median_load(
                    runs,
                    url=f"{ref}/v2/Users",
                    pid=ref_pid,
                    seconds=seconds,
                    connections=16,
                    headers=scim,
                    script=HERE / "scim_post.lua",
                )
            figures.append(
                Figure(
                    "SCIM POST /Users",
                    backend,
                    "requests/s",
                    post_load.rps,
                    "scim2-server (same uvicorn)",
                    ref_load.rps,
                    target("scim post", backend),
                    [x.rps for x in post_runs],
                    **cpu_of(post_load, post_runs, ref_load),
                )
            )
            post_target = post_target_rps(backend, ref_load)

            figures += group_patch_figures(base, pid, scim, backend, users, runs)

            group_id = httpx.post(
                f"{base}/integration/v2/groups",
                json={"name": f"bench-{secrets.token_hex(4)}"},
                headers=auth,
            ).json()["id"]
            life: list[float] = []
            life_cpu: list[float] = []  # per lifecycle
            for _ in range(runs):
                with ServerCpu(pid) as cpu:
                    rate, done = asyncio.run(lifecycles(base, token, group_id, seconds, 16))
                life.append(rate)
                life_cpu.append(cpu.per(done))
            per_lifecycle = statistics.median(life_cpu)
            figures.append(
                Figure(
                    "full lifecycle, 16 clients",
                    backend,
                    "lifecycles/s",
                    statistics.median(life),
                    f"ceiling requests/s / {LIFECYCLE_REQUESTS}",
                    ceiling_load.rps / LIFECYCLE_REQUESTS,
                    target("lifecycle", backend),
                    life,
                    f"server CPU {per_lifecycle:.2f} ms per lifecycle of {LIFECYCLE_REQUESTS} "
                    "requests",
                    cpu_ms=per_lifecycle / LIFECYCLE_REQUESTS,
                    baseline_cpu_ms=ceiling_load.cpu_ms,
                    cpu_runs=[c / LIFECYCLE_REQUESTS for c in life_cpu],
                    cpu_ms_per_lifecycle=per_lifecycle,
                )
            )
            with server(uvicorn_app("bench.receiver:app"), {}, "/count") as (receiver, _):
                figures += event_figures(
                    base, pid, token, receiver, backend, seconds, runs, ceiling_load
                )
            figures.append(login_flood_figure(base, pid, token, uid, backend, seconds, runs))
            figures.append(
                Figure(
                    "resident memory after the scenarios",
                    backend,
                    "MB",
                    rss_mb(pid),
                    target=f"< 300 MB at 1M users (ran {users})",
                )
            )
        # With the server stopped: on SQLite its search indexer would otherwise index the
        # floor's users on its own connection, uncounted.
        figures.append(write_floor_figure(url, backend, runs, post_target))
    return figures


# ---- the event feed and webhooks while 16 clients write (issue 12) ------------------------


def event_figures(
    base: str,
    pid: int,
    token: str,
    receiver: str,
    backend: str,
    seconds: int,
    runs: int,
    ceiling: Load,
) -> list[Figure]:
    """Events/s reaching a feed consumer and a webhook receiver beside the writers' rate;
    the server's CPU per request counts the writes and the reads or deliveries."""
    rows = (
        ("event feed followed during 16 writers", "feed reads"),
        ("webhook deliveries during 16 writers", "deliveries"),
    )
    figures = []
    for name, unit in rows:
        rates: list[float] = []
        baselines: list[float] = []
        cpus: list[float] = []
        complete = True
        for _ in range(runs):
            with ServerCpu(pid) as cpu:
                if unit == "feed reads":
                    got = asyncio.run(events.follow_feed(base, token, seconds))
                else:
                    got = asyncio.run(events.deliver(base, token, receiver, seconds))
            rates.append(got.events_per_s)
            baselines.append(got.writes_per_s)
            cpus.append(cpu.per(got.writes + got.consumer_requests))
            complete = complete and got.complete
        figures.append(
            Figure(
                name,
                backend,
                "events/s",
                statistics.median(rates),
                "the writers' users/s",
                statistics.median(baselines),
                target("events", backend),
                rates,
                ("every event arrived once" if complete else "EVENTS MISSING OR REPEATED")
                + f"; CPU per request counts writes and {unit}",
                cpu_ms=statistics.median(cpus),
                baseline_cpu_ms=ceiling.cpu_ms,
                cpu_runs=cpus,
            )
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=5, help="length of one wrk run")
    parser.add_argument("--runs", type=int, default=3, help="repeats; figures are medians")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian: apt-get install wrk); `make bench` installs it")

    cache = HERE / ".cache"
    cache.mkdir(exist_ok=True)
    data = cache / f"tenant-{args.users}-{args.groups}.jsonl"
    if not data.exists():
        with data.open("w") as fh:
            generate(fh, args.users, args.groups, max(1, args.groups // 20), seed=7)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or HERE / "results" / f"{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    for backend in args.backends.split(","):
        figures += run_backend(backend, args.users, data, args.seconds, args.runs)
        # Written after each backend too, so a failure later keeps what was measured.
        write_report(out, stamp, args, figures)
    print(
        f"{'scenario':44} {'backend':10} {'value':>18} {'baseline':>12} {'ratio':>7}  "
        f"{'server CPU ms (baseline, ratio)':40}  target"
    )
    for f in figures:
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else ""
        base = f"{f.baseline:.1f}" if f.baseline is not None else ""
        value = f"{f.value:.1f} {f.metric}"
        print(
            f"{f.scenario:44} {f.backend:10} {value:>18} {base:>12} {ratio:>7}  "
            f"{cpu_text(f):40}  {f.target}"
        )
    print(f"\nwritten to {out} and {out.with_suffix('.md')}")


def write_report(out: Path, stamp: str, args: argparse.Namespace, figures: list[Figure]) -> None:
    report = {
        "when": stamp,
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": cpu_model(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "users": args.users,
        "seconds_per_run": args.seconds,
        "runs": args.runs,
        "figures": [{**asdict(f), "ratio": f.ratio, "cpu_ratio": f.cpu_ratio} for f in figures],
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report, figures))


def markdown(report: dict[str, Any], figures: list[Figure]) -> str:
    """The figures as the Markdown table BENCHMARKS.md quotes."""
    machine = report["machine"]
    lines = [
        f"{report['users']:,} users; {report['runs']} runs of {report['seconds_per_run']} s, "
        f"medians; {report['when']}; {machine['cpus']} x {machine['cpu']}, "
        f"Python {machine['python']}.",
        "",
        "| scenario | backend | value | baseline | ratio | server CPU ms | target | runs | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        base = f"{f.baseline:.1f} ({f.baseline_name})" if f.baseline is not None else ""
        ratio = f"{f.ratio:.3f}" if f.ratio is not None else ""
        runs = ", ".join(f"{r:.1f}" for r in f.runs)
        value = f"{f.value:.1f} {f.metric}"
        if f.p50_ms is not None:
            value += f" (p50 {f.p50_ms:.1f})"
        lines.append(
            f"| {f.scenario} | {f.backend} | {value} | {base} | {ratio} | {cpu_text(f)} "
            f"| {f.target} | {runs} | {f.note} |"
        )
    return "\n".join(lines) + "\n"


def cpu_text(f: Figure) -> str:
    """The row's server CPU: per request (or per user imported), per lifecycle for the
    lifecycle, and the baseline server's with the ratio."""
    if f.cpu_ms is None:
        return ""
    text = f"{f.cpu_ms:.3f}/{f.cpu_per}"
    if f.cpu_ms_per_lifecycle is not None:
        text += f", {f.cpu_ms_per_lifecycle:.2f}/lifecycle"
    if f.baseline_cpu_ms is not None and f.cpu_ratio is not None:
        text += f" (baseline {f.baseline_cpu_ms:.3f}; {f.cpu_ratio:.2f}x)"
    return text


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
