"""The one settings object. Every field is read from a ``ROSTERD_``-prefixed variable."""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from limits import parse_many
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROSTERD_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("var"),
        description="Directory for the embedded SQLite database, the generated secret key and "
        "the bootstrap credentials file. Created on first start.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store. Unset means a SQLite file in data_dir; "
        "set postgresql+psycopg://user@host/db for PostgreSQL.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Server secret used as the HMAC key for stored token hashes. Unset means a "
        "random key generated once into data_dir/secret.key; set it explicitly when several "
        "nodes share one database.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="External base URL (scheme, host, port) clients reach rosterd at: the issuer "
        "of access tokens and the base of every URL a response carries (SCIM Location and "
        "meta.location, $ref, next-page URLs). The Host header is never used for these.",
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
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate-limit counters live (a `limits` storage URI): memory:// keeps "
        "them in each process; redis://host:6379 shares them between the nodes of a cluster "
        "(needs the async Redis client: pip install 'rosterd[redis]').",
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
        description="Failed /api/v1 logins allowed for one username from one client address, "
        "as `limits` rate strings separated by ';'. Each tier is a moving window; once any is "
        "used up, further attempts are answered 429 with Retry-After until it frees, so the "
        "wait grows as failures pile up. Other addresses are not affected, and "
        "`rosterd admins unlock` lifts it.",
    )
    login_limits_per_address: str = Field(
        default="30/minute;200/hour",
        description="Failed /api/v1 logins allowed from one client address (an IPv6 /64) "
        "whatever the username, as `limits` rate strings separated by ';'.",
    )
    access_token_ttl_seconds: int = Field(
        default=3600, ge=60, le=86400, description="Lifetime of OAuth access tokens."
    )
    api_v1_token_ttl_seconds: int = Field(
        default=3600,
        ge=60,
        le=86400,
        description="Lifetime of the JWTs POST /api/v1/authentication/login returns.",
    )
    scheduler_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        le=60,
        description="How often `rosterd serve` looks for lifecycle work that is due "
        "(expiry dates). At most a minute.",
    )
    default_tenant: str = Field(
        default="default", description="Slug of the tenant created on first start."
    )
    log_level: str = Field(default="info", description="Log level of the server.")
    db_pool_size: int = Field(default=10, ge=1, description="Connections kept per engine.")

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

    @field_validator("login_limits_per_account", "login_limits_per_address")
    @classmethod
    def _check_limits(cls, value: str) -> str:
        parse_many(value)  # a ValueError names the string it could not read
        return value

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
