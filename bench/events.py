"""Issue 12's event rows: the event feed followed, and webhooks delivered, while 16 clients
write (each creating users through /integration/v2 as fast as it can).

Each figure is the rate at which events reached the consumer, from the writers' start until
the consumer had every event they caused, beside the writers' own rate (the baseline): a
ratio near 1 is a feed or a deliverer that keeps up with the writes.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass

import httpx

WRITERS = 16
CATCH_UP_SECONDS = 120


@dataclass
class Followed:
    events_per_s: float  # events that reached the consumer per second, start to catch-up
    writes_per_s: float
    writes: int
    consumer_requests: int  # feed reads, or deliveries received
    complete: bool  # every written user's event arrived, each once


async def _write(base: str, token: str, seconds: float, created: list[str]) -> None:
    stop = time.monotonic() + seconds

    async def writer(n: int) -> None:
        async with httpx.AsyncClient(
            base_url=base + "/integration/v2",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as c:
            i = 0
            while time.monotonic() < stop:
                i += 1
                email = f"ev-{n}-{i}-{secrets.token_hex(3)}@example.com"
                r = await c.post(
                    "/users", json={"email": email, "firstName": "Ev", "lastName": "Ent"}
                )
                r.raise_for_status()
                created.append(r.json()["id"])

    await asyncio.gather(*(writer(n) for n in range(WRITERS)))


async def _feed_end(c: httpx.AsyncClient) -> str | None:
    """The cursor at the end of the feed now (reading past what is there)."""
    cursor = None
    while True:
        params = {"limit": 1000, **({"after": cursor} if cursor else {})}
        page = (await c.get("/events", params=params)).raise_for_status().json()
        cursor = page["cursor"]
        if not page["hasMore"]:
            return cursor


async def follow_feed(base: str, token: str, seconds: float) -> Followed:
    """One consumer follows the feed (long polls of up to 1000 changes) while 16 write."""
    created: list[str] = []
    seen: list[str] = []
    reads = 0
    async with httpx.AsyncClient(
        base_url=base + "/integration/v2",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    ) as c:
        cursor = await _feed_end(c)
        writing = asyncio.ensure_future(_write(base, token, seconds, created))
        started = time.monotonic()
        deadline = started + seconds + CATCH_UP_SECONDS
        while time.monotonic() < deadline:
            params = {"limit": 1000, "types": "user.created", "wait": 1}
            r = await c.get("/events", params={**params, **({"after": cursor} if cursor else {})})
            reads += 1
            page = r.raise_for_status().json()
            cursor = page["cursor"]
            seen += [e["subject"] for e in page["events"]]
            if writing.done() and len(seen) >= len(created):
                break
        elapsed = time.monotonic() - started
        await writing
    complete = sorted(seen) == sorted(created)
    return Followed(len(seen) / elapsed, len(created) / seconds, len(created), reads, complete)


async def deliver(base: str, token: str, receiver: str, seconds: float) -> Followed:
    """A webhook (user.created) to ``receiver`` while 16 write: deliveries per second."""
    created: list[str] = []
    async with httpx.AsyncClient(
        base_url=base + "/integration/v2",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ) as c:
        r = await c.post(
            "/webhooks", json={"url": f"{receiver}/hook", "eventTypes": ["user.created"]}
        )
        hook_id = r.raise_for_status().json()["id"]
        before = (await c.get(f"{receiver}/count")).json()["distinct"]
        started = time.monotonic()
        await _write(base, token, seconds, created)
        deadline = time.monotonic() + CATCH_UP_SECONDS
        while True:
            counts = (await c.get(f"{receiver}/count")).json()
            got = counts["distinct"] - before
            if got >= len(created) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
        (await c.delete(f"/webhooks/{hook_id}")).raise_for_status()
    complete = got == len(created) and counts["received"] == counts["distinct"]
    return Followed(got / elapsed, len(created) / seconds, len(created), got, complete)
