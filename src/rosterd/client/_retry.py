"""When a call is tried again, and how long it waits first.

A call is retried on 429 and 503 answers, on connection errors (no answer at all) and on the
409 that says the same Idempotency-Key's first try is still running, up to
``max_retries`` times, when repeating it cannot do a thing twice: GET, PUT, PATCH and DELETE
always, POST only with an ``Idempotency-Key`` (the SDK adds one to every POST it makes, the
same key on each try, so the server replays the first answer instead of acting again).

The wait is what the server asked for — ``Retry-After`` (seconds or an HTTP date), else the
``t`` (seconds to reset) of an exhausted limit in the ``RateLimit`` field — or else an
exponential backoff with full jitter: a random wait up to ``backoff * 2**attempt`` seconds,
capped at ``max_backoff``, so many clients refused together do not come back together.

A successful answer whose RateLimit field reports a limit spent (``r=0``) holds the next
request of the client until that limit resets, instead of sending it to be refused.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import http_sf
import httpx

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
RETRIED_STATUSES = frozenset({429, 503})
IDEMPOTENCY_HEADER = "Idempotency-Key"
# The 409 the server answers a retry whose first try still runs (it timed out on the
# client's side, say): worth trying again once the first has finished.
IN_PROGRESS = "idempotency_key_in_progress"


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries``: tries after the first (0: never retry). ``backoff``: the first wait's
    bound in seconds, doubled for each retry up to ``max_backoff``. ``max_wait``: the longest
    a server-asked wait is honoured; a longer one is not waited out but raised
    (``RateLimited.retry_after`` says how long)."""

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_wait: float = 120.0

    def may_retry(self, request: httpx.Request) -> bool:
        """Whether repeating ``request`` cannot act twice."""
        return request.method in IDEMPOTENT_METHODS or IDEMPOTENCY_HEADER in request.headers

    def backoff_delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max_backoff, backoff * 2**attempt)]."""
        return random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))  # noqa: S311

    def delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before retry number ``attempt + 1`` of a request that got
        ``response`` (None: no answer), or None when it is not to be retried."""
        if attempt >= self.max_retries:
            return None
        if response is None:
            return self.backoff_delay(attempt)
        if response.status_code not in RETRIED_STATUSES and not _in_progress(response):
            return None
        asked = server_wait(response)
        if asked is None:
            return self.backoff_delay(attempt)
        return asked if asked <= self.max_wait else None


def server_wait(response: httpx.Response) -> float | None:
    """The seconds a response asks the client to wait: Retry-After, else the reset time of
    an exhausted limit in the RateLimit field; None when it says nothing."""
    retry_after = response.headers.get("Retry-After")
    if retry_after is not None:
        seconds = _retry_after(retry_after)
        if seconds is not None:
            return seconds
    return exhausted_wait(response)


def exhausted_wait(response: httpx.Response) -> float | None:
    """Seconds until a limit the RateLimit field reports spent (``r=0``) resets, or None:
    on a successful answer too, where it says the next request would be refused."""
    field = response.headers.get("RateLimit")
    if field is None:
        return None
    try:
        members: Any = http_sf.parse(field.encode(), tltype="list")
    except ValueError:
        return None
    waits = [
        float(params["t"])
        for _, params in members
        if isinstance(params, dict) and params.get("r") == 0 and isinstance(params.get("t"), int)
    ]
    return max(waits) if waits else None


def _in_progress(response: httpx.Response) -> bool:
    if response.status_code != 409:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and error.get("code") == IN_PROGRESS


def _retry_after(value: str) -> float | None:
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
