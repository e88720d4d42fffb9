"""Everything a running rosterd holds: settings, database, secrets, token signer.

``open_runtime`` migrates the store, makes sure a signing key exists, and on an empty store
creates the default tenant with a bootstrap admin client whose credentials go to a file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from rosterd.auth.scopes import Scope
from rosterd.auth.secrets import load_or_create_secret_key
from rosterd.auth.tokens import TokenSigner, generate_private_key_pem
from rosterd.config import Settings
from rosterd.db.engine import Database, make_database
from rosterd.db.migrate import upgrade
from rosterd.models import SigningKey
from rosterd.repositories import credentials as credentials_repo
from rosterd.repositories import tenants as tenants_repo
from rosterd.services import clients as clients_service
from rosterd.services import tenants as tenants_service

BOOTSTRAP_FILE = "bootstrap-credentials.json"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    hmac_key: bytes
    signer: TokenSigner
    # Set when this start created the bootstrap admin client: where its credentials are.
    bootstrap_credentials: Path | None = None

    def issuer(self, tenant_slug: str) -> str:
        return f"{self.settings.public_url.rstrip('/')}/tenants/{tenant_slug}"

    def close(self) -> None:
        self.db.dispose()


def _ensure_signing_key(db: Database) -> TokenSigner:
    with db.writer.begin() as session:
        keys = credentials_repo.signing_keys(session)
        if not keys:
            key = SigningKey(kid=os.urandom(8).hex(), private_key_pem=generate_private_key_pem())
            credentials_repo.add_signing_key(session, key)
            keys = [key]
        return TokenSigner([(k.kid, k.private_key_pem) for k in keys])


def _write_private_file(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)


def _bootstrap_default_tenant(runtime: Runtime) -> None:
    with runtime.db.writer.begin() as session:
        if tenants_repo.list_all(session):
            return
        tenant = tenants_service.create_tenant(session, runtime.settings.default_tenant)
        issued = clients_service.create_client(
            session,
            tenant,
            name="bootstrap admin",
            scopes=[Scope.admin.value],
            hmac_key=runtime.hmac_key,
        )
        path = runtime.settings.data_dir / BOOTSTRAP_FILE
        _write_private_file(
            path,
            json.dumps(
                {
                    "tenant": tenant.slug,
                    "token_url": f"{runtime.issuer(tenant.slug)}/connect/token",
                    "client_id": issued.client.client_id,
                    "client_secret": issued.client_secret,
                    "scopes": issued.client.scopes,
                },
                indent=2,
            )
            + "\n",
        )
        runtime.bootstrap_credentials = path


def open_runtime(settings: Settings, *, bootstrap: bool = True) -> Runtime:
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = make_database(settings.resolved_database_url, settings.db_pool_size)
    upgrade(db.write_engine)
    runtime = Runtime(
        settings=settings,
        db=db,
        hmac_key=load_or_create_secret_key(settings.secret_key, settings.data_dir),
        signer=_ensure_signing_key(db),
    )
    if bootstrap:
        _bootstrap_default_tenant(runtime)
    return runtime
