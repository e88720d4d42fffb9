"""The one settings object. Every field is read from a ``ROSTERD_``-prefixed variable."""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rosterd.ratelimit.policy import check_limits, check_storage


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROSTERD_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("var"),
        description="Directory for the embedded SQLite database, the generated secret key and "
        "the bootstrap credentials file. Created on first start, readable by rosterd's user "
        "only (0700); the SQLite file is made 0600, and tightened to 0600 at start if others "
        "may read it.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store. Unset means a SQLite file in data_dir; "
        "set postgresql+psycopg://user@host/db for PostgreSQL.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Server secret used as the HMAC key for stored token hashes and to seal "
        "the tenants' private signing keys at rest. Unset means a random key generated once "
        "into data_dir/secret.key; set it explicitly when several nodes share one database. "
        "Changing it invalidates every stored secret: keys sealed with the old one no longer "
        "sign (signing fails with an error naming the key) until `rosterd keys rotate` "
        "makes new ones.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="External base URL (scheme, host, port) clients reach rosterd at: the issuer "
        "of access tokens and the base of every URL a response carries (SCIM Location and "
        "meta.location, $ref, next-page URLs). The Host header is never used for these. "
        "Unset, `rosterd serve` uses the address it listens on.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="IP addresses or CIDR networks of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto headers are believed (comma-separated or a JSON list). Empty: "
        "forwarded headers are ignored. Other forwarded headers (Forwarded, "
        "X-Forwarded-Host) are always ignored; URLs come from public_url.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body accepted on any path, counted as it arrives (chunked "
        "bodies too); a larger one is answered 413 before any other work. Bulk paths advertise "
        "their own: SCIM /Bulk keeps its 1 MiB maxPayloadSize, /api/v1/users/bulk and "
        "/api/v1/groups/bulk take 4 MiB (or this, when it is larger).",
    )
    login_concurrency: int = Field(
        default=1,
        ge=1,
        le=64,
        description="How many password checks (argon2, about 100 ms of one core each) run at "
        "once in this process; further logins wait their turn without holding a thread. Keep "
        "it below the number of cores so a login flood cannot take every core from the rest "
        "of the API.",
    )
    login_limits_per_account: str = Field(
        default="5/minute;10/10 minutes;20/hour",
        description="Failed /api/v1 logins and admin console sign-ins allowed for one username "
        "from one client address, as `limits` rate strings separated by ';'. Each tier is a "
        "moving window; once any is used up, further attempts are answered 429 with "
        "Retry-After until it frees, so the wait grows as failures pile up. Other addresses "
        "are not affected, and `rosterd admins unlock` lifts it.",
    )
    login_limits_per_address: str = Field(
        default="30/minute;200/hour",
        description="Failed /api/v1 logins and console sign-ins allowed from one client "
        "address (an IPv6 /64) whatever the username, as `limits` rate strings separated by ';'.",
    )
    access_token_ttl_seconds: int = Field(
        default=3600,
        ge=5,
        le=86400,
        description="Lifetime of OAuth access tokens. Down to 5 seconds, so that a client's "
        "handling of expiry (renewing before it, and on a 401) can be tested in seconds.",
    )
    api_v1_token_ttl_seconds: int = Field(
        default=3600,
        ge=60,
        le=86400,
        description="Lifetime of the JWTs POST /api/v1/authentication/login returns.",
    )
    authorization_code_ttl_seconds: int = Field(
        default=60,
        ge=5,
        le=600,
        description="Lifetime of an OAuth authorization code (RFC 6749 recommends at most 10 "
        "minutes); each is usable once.",
    )
    refresh_token_ttl_days: float = Field(
        default=30,
        gt=0,
        le=365,
        description="Lifetime of an OAuth refresh token. Each use rotates it: the new one lives "
        "this long again, and presenting a used one revokes its whole grant.",
    )
    console_idle_minutes: float = Field(
        default=30,
        gt=0,
        le=1440,
        description="The admin console (/admin) signs an admin out after this many minutes "
        "without a request. Fractions are allowed (tests use seconds).",
    )
    console_absolute_hours: float = Field(
        default=12,
        gt=0,
        le=720,
        description="The admin console signs an admin out this many hours after signing in, "
        "however active the session is.",
    )
    idempotency_ttl_seconds: int = Field(
        default=86400,
        ge=60,
        description="How long the response to a POST sent with an Idempotency-Key is kept "
        "for retries with the same key to replay (/integration/v2, /api/v1, /v1/seadminusers, "
        "/user_identities). The scheduler purges expired keys.",
    )
    idempotency_lease_seconds: int = Field(
        default=120,
        ge=1,
        description="How long a request may hold its Idempotency-Key in flight: a retry "
        "meanwhile is answered 409. A request that dies without answering (a crashed process) "
        "frees its key once this has passed. Keep it above the longest request's duration.",
    )
    signing_key_refresh_seconds: float = Field(
        default=30.0,
        gt=0,
        le=60,
        description="How often each node reloads the tenants' token signing keys from the "
        "store, so a key rotated on another node signs here too (at most a minute). A token "
        "signed with a key this node does not know yet makes it look the key up at once. A "
        "retired key keeps verifying for the longest token lifetime plus this interval.",
    )
    opentelemetry: bool = Field(
        default=False,
        description="Let FastAPI record OpenTelemetry spans, metrics and logs for each request "
        "(to the providers the process has configured, e.g. with opentelemetry-instrument). "
        "Off, FastAPI skips its per-request check for configured providers, about a tenth of "
        "a GET by id's CPU.",
    )
    scim_token_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=5,
        description="How long a node remembers what the store said about a SCIM token (its "
        "tenant, revocation and expiry date) before reading it again: a token revoked "
        "through any node is refused on every node within this time (at most 5 s). Expiry "
        "dates are compared with the clock on every request. 0 reads the token on every "
        "request.",
    )
    scheduler_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        le=60,
        description="How often `rosterd serve` looks for lifecycle work that is due "
        "(expiry dates). At most a minute.",
    )
    audit_retention_days: int = Field(
        default=365,
        ge=0,
        description="Days audit events (and so the event feed) are kept. The scheduler of "
        "`rosterd serve` deletes older ones in batches of 500, each in its own transaction, "
        "never in one unbounded DELETE. 0 keeps them forever.",
    )
    oauth_grant_retention_days: int = Field(
        default=7,
        ge=1,
        le=3650,
        description="Days spent OAuth rows are kept before the scheduler of `rosterd serve` "
        "deletes them (in batches of 500, each in its own transaction): grants whose code "
        "expired unredeemed, revoked grants, refresh tokens past their lifetime (used or "
        "not) and every refresh token of a revoked grant; then grants left without refresh "
        "tokens. A used refresh token of a live grant is kept while within its lifetime, so "
        "presenting it again still revokes the grant. At least a day, longer than any "
        "access token lives.",
    )
    import_journal_retention_days: int = Field(
        default=90,
        ge=0,
        description="Days the local import journal remembers an import after its last "
        "batch; the scheduler of `rosterd serve` then forgets the whole import (a re-run "
        "starts again from the first line and finds what it made there). 0 keeps it forever.",
    )
    webhook_allow_private_urls: bool = Field(
        default=False,
        description="Accept webhook URLs whose host is or resolves to a private, loopback, "
        "link-local or otherwise non-public address (10/8, 127/8, 169.254/16, ::1, fc00::/7, "
        "...). Off, such URLs are refused with a 400 when a webhook is created or changed, "
        "and a delivery whose host has come to resolve to one fails instead of being sent. "
        "Turn it on for receivers on the same host or network (and in tests).",
    )
    webhook_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often the webhook deliverer of `rosterd serve` reads the event feed "
        "for new events and sends the deliveries that are due: the most a delivery waits "
        "after its change committed, when the deliverer is idle (after a run that sent "
        "something, the next starts at once).",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=60,
        description="How long one webhook delivery may take (connecting, sending, reading "
        "the answer) before it counts as failed and is retried. A delivery is claimed for "
        "twice this plus 5 s: a node that dies while sending frees it after that time.",
    )
    webhook_concurrency: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Webhook deliveries one node sends at once (each a blocking HTTP call "
        "on a thread of the deliverer, outside any database transaction).",
    )
    webhook_retry_base_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Wait before the first retry of a failed webhook delivery; each further "
        "retry waits twice as long (up to webhook_retry_max_seconds), each wait varied by "
        "+/-20% (jitter) so deliveries failing together do not retry together.",
    )
    webhook_retry_max_seconds: float = Field(
        default=7200.0,
        gt=0,
        description="Longest wait between two attempts of one webhook delivery.",
    )
    webhook_retry_hours: float = Field(
        default=24.0,
        gt=0,
        description="How long a webhook delivery is retried (from when it became due) before "
        "it is marked failed; its webhook is then disabled (enabled: false) and a "
        "webhook.disabled event records it. Enabling the webhook again resumes delivery.",
    )
    webhook_delivery_retention_days: int = Field(
        default=30,
        ge=1,
        description="Days a webhook's delivery log keeps a delivery once it succeeded or "
        "failed; the deliverer deletes older ones in batches of 500. Pending ones are kept.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Worker processes `rosterd serve` starts (`--workers`). More than one "
        "needs PostgreSQL: on SQLite serve refuses, since SQLite admits one writer at a time "
        "and rosterd queues writers inside one process only. The serve process migrates the "
        "store and runs the scheduler once; each worker opens its own connections and shares "
        "the listening socket. Rate limits in memory:// are counted per worker; set "
        "rate_limit_storage to Redis to share them.",
    )
    default_tenant: str = Field(
        default="default", description="Slug of the tenant created on first start."
    )
    search_exact_total_limit: int = Field(
        default=10_000,
        ge=1,
        description="How many matches of a REST v2 user search (`GET /integration/v2/users` "
        "with `query`) are counted exactly. Above it, `totalCount` is an estimate (from a "
        "sample of the tenant's users) and the response says so with "
        "`totalCountIsEstimate: true`: counting a common needle's every match at a million "
        "users costs more than the page. SCIM `totalResults` is always exact.",
    )
    log_level: str = Field(default="info", description="Log level of the server.")
    db_pool_size: int = Field(
        default=24,
        ge=2,
        description="Database connections kept open. PostgreSQL: the pool never opens more "
        "(no overflow: each connection is a server process, and opening and closing them "
        "under load forked one every few requests); it must exceed db_threads, as token "
        "checks, the key ring and the scheduler take connections outside the request threads. "
        "SQLite: the reader connections (plus as many again when all are busy).",
    )
    db_threads: int = Field(
        default=16,
        ge=1,
        description="PostgreSQL: threads running the requests' database work, each request in "
        "its own transaction on one of db_pool_size connections; size it to the concurrency "
        "the server should serve (rosterd.db.work).",
    )
    db_point_read_connections: int = Field(
        default=8,
        ge=1,
        description="PostgreSQL: asyncpg connections (per server process, beside "
        "db_pool_size) for point reads such as a GET by id, which await the database on the "
        "event loop instead of taking one of the db_threads (rosterd.db.point_reads).",
    )
    db_prepare_threshold: int | None = Field(
        default=2,
        ge=0,
        description="PostgreSQL (psycopg): prepare a statement on the server once it has run "
        "this many times on a connection, so the hot ones are parsed and planned once (the "
        "point reads' asyncpg connections prepare each on first use). Unset (empty) to never "
        "prepare on either, as behind a transaction-pooling PgBouncer.",
    )
    db_slow_read_threads: int = Field(
        default=2,
        ge=1,
        description="SQLite: threads for slow reads (searches, large pages). Point reads run on "
        "the event loop (sqlite3 answers them in microseconds) and writes on the one writer "
        "thread; slow reads run here so they cannot stall the loop.",
    )
    db_group_commit_max: int = Field(
        default=64,
        ge=1,
        description="SQLite: most writes the one writer commits together in one transaction, "
        "each in its own savepoint (group commit). Writes arriving while a group runs form "
        "the next group, so a lone write waits for nobody.",
    )
    rate_limit_enabled: bool = Field(
        default=True,
        description="Limit request rates per credential, per tenant, per client IP for failed "
        "authentications and per client on the token endpoint (the other rate_limit_* "
        "settings). Every limited response carries RateLimit and RateLimit-Policy headers; a "
        "refused one is a 429 with Retry-After, in the surface's error format.",
    )
    rate_limit_per_credential: str = Field(
        default="100/second;3000/minute",
        description="Requests one credential (OAuth client, SCIM token, /api/v1 admin, API key) "
        "may make, in the syntax of the limits library: '3000/minute', several joined by ';'. "
        "Okta and Entra ID provision in parallel bursts, and Entra ID does not pace custom "
        "SCIM apps itself (it waits out a 429's Retry-After, but quarantines a job that keeps "
        "being refused): a burst of 100 in a second and 50 a second sustained keep a busy "
        "IdP clear of the limit, while a runaway script is held to a fraction of one node "
        "(a node serves a few hundred requests a second). A tenant may have its own "
        "(rosterd tenants configure --rate-limit-per-credential).",
    )
    rate_limit_per_tenant: str = Field(
        default="200/second;6000/minute",
        description="Requests all credentials of one tenant may make together, so one tenant "
        "cannot take a node from the others: twice one credential's limit, room for two IdP "
        "connections (or an IdP and scripts) at full speed. A tenant may have its own "
        "(rosterd tenants configure --rate-limit-per-tenant).",
    )
    rate_limit_unauthenticated_per_ip: str = Field(
        default="60/minute",
        description="Failed authentications (401: bad, expired or revoked tokens, wrong client "
        "secrets or passwords) one client IP may have; once spent, every request from that "
        "IP that carries credentials is a 429 before any token is checked. One a second "
        "holds a guessing or misconfigured loop to nothing, while a few IdPs behind one "
        "egress address that fail for a while (a revoked token) do not lock each other "
        "out at once. The IP is the peer's, or X-Forwarded-For from trusted_proxies.",
    )
    rate_limit_token_endpoint: str = Field(
        default="60/minute",
        description="Access tokens one OAuth client may be issued (POST "
        "/tenants/{tenant}/connect/token). Tokens live access_token_ttl_seconds, so a "
        "client needs a few an hour; more than one a second is a client asking for a token "
        "per request. Only issued tokens count, so nobody can spend a client's budget "
        "with its client_id and a wrong secret (those count against their IP).",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where the counters live: 'memory://' keeps them in each process (each "
        "node limits on its own); 'redis://host:6379/0' (also rediss://, redis+unix://, "
        "redis+sentinel://, redis+cluster://) shares them, so the limits hold across "
        "nodes. If Redis cannot be reached, requests are served unlimited and the failure "
        "is logged.",
    )
    rate_limit_key_prefix: str = Field(
        default="rosterd",
        min_length=1,
        max_length=100,
        description="Prefix of the counters' keys in a shared storage, so several "
        "deployments (or test runs) can use one Redis without sharing limits.",
    )
    rate_limit_tenant_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="How long a node remembers a tenant's own limits (tenants configure "
        "--rate-limit-*) before reading them again: a change takes effect within this time. "
        "0 reads them on every request.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return (
                json.loads(text)
                if text.startswith("[")
                else [v.strip() for v in text.split(",") if v.strip()]
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from exc
        return value

    @field_validator(
        "rate_limit_per_credential",
        "rate_limit_per_tenant",
        "rate_limit_unauthenticated_per_ip",
        "rate_limit_token_endpoint",
        "login_limits_per_account",
        "login_limits_per_address",
    )
    @classmethod
    def _check_limits(cls, value: str) -> str:
        return check_limits(value)

    @field_validator("rate_limit_storage")
    @classmethod
    def _check_storage(cls, value: str) -> str:
        return check_storage(value)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'rosterd.db').as_posix()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
