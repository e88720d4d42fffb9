"""Everything a running rosterd holds: settings, database, secrets, token signer.

``open_runtime`` makes the SQLite file private, migrates the store, and on an empty store
creates the default tenant with a bootstrap admin client and the admin console's first admin
account, whose credentials go to a file.
Signing keys are made per tenant when it first signs (rosterd.auth.tokens).
Only ``rosterd serve`` and ``rosterd migrate`` may create a store: every other command opens
the runtime with ``create=False``, which refuses (``NoStore``) where there is none, instead of
quietly starting a second, empty one beside the server's.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from rosterd.auth.key_seal import KeySealer
from rosterd.auth.scopes import Scope
from rosterd.auth.secrets import SECRET_KEY_FILE, load_or_create_secret_key
from rosterd.auth.tokens import TokenSigner
from rosterd.config import Settings
from rosterd.db.engine import Database, make_database
from rosterd.db.migrate import is_migrated, upgrade
from rosterd.db.point_reads import AsyncpgPointReads
from rosterd.db.work import PooledRunner, Runner, SqliteRunner
from rosterd.key_ring import StoreKeys
from rosterd.lifecycle.last_uses import LastUses
from rosterd.models import ScimToken
from rosterd.private_files import private_sqlite_store, write_private_file
from rosterd.repositories import deferred_indexes
from rosterd.repositories import tenants as tenants_repo
from rosterd.services import admins as admins_service
from rosterd.services import clients as clients_service
from rosterd.services import scim_tokens, signing_keys
from rosterd.services import tenants as tenants_service
from rosterd.services.client_gate import ClientGate, GrantGate
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, NotFound
from rosterd.services.secret_gate import SecretGate

BOOTSTRAP_FILE = "bootstrap-credentials.json"
BOOTSTRAP_ACTOR = "rosterd"
# The first admin account, for the admin console (/admin) and /api/v1 logins.
BOOTSTRAP_ADMIN = "admin"
_POINT_AT_IT = (
    "Run the command where the server runs, or point at the server's store with --data-dir DIR "
    "or --database-url URL (or ROSTERD_DATA_DIR / ROSTERD_DATABASE_URL); `rosterd migrate` "
    "creates a new store."
)


class NoStore(Exception):
    """There is no rosterd store where the settings point, and this start may not make one."""


def describe_store(settings: Settings) -> str:
    """Which store the settings name, for people: the SQLite file, or the URL sans password."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {Path(url.database or '').resolve()}"
    return f"PostgreSQL database {url.render_as_string(hide_password=True)}"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    hmac_key: bytes
    signer: TokenSigner
    keys: StoreKeys
    client_gate: ClientGate
    grant_gate: GrantGate
    scim_gate: SecretGate[ScimToken]
    # Where requests' database work runs (rosterd.db.work).
    work: Runner
    # Credentials' last uses, noted by requests and written by the app's LastUseWriter.
    last_uses: LastUses = field(default_factory=LastUses)
    # Set when this start created the bootstrap admin client: where its credentials are.
    bootstrap_credentials: Path | None = None

    def issuer(self, tenant_slug: str) -> str:
        return f"{self.settings.public_url.rstrip('/')}/tenants/{tenant_slug}"

    def close(self) -> None:
        self.work.close()
        self.db.dispose()

    def rotate_signing_key(self, tenant_id: uuid.UUID, actor: Actor) -> signing_keys.Rotation:
        """Give the tenant a new signing key; this node signs with it at once, the others
        within their refresh interval (or at once, on seeing a token it signed)."""
        new = signing_keys.make(tenant_id, self.keys.sealer)
        with self.db.writer.begin() as session:
            tenant = tenants_repo.get(session, tenant_id)
            if tenant is None:
                raise NotFound("tenant not found")
            rotation = signing_keys.rotate(session, tenant, new, actor, grace=self.keys.grace)
        self.signer.refresh_tenant(tenant_id)
        return rotation


def _bootstrap_default_tenant(runtime: Runtime) -> None:
    try:
        _bootstrap(runtime)
    except (IntegrityError, Conflict):
        # Another node, started on the same empty store at the same moment, made it first:
        # its commit lands either before the slug check (Conflict) or after it (the unique
        # index).
        with runtime.db.reader() as session:
            if tenants_repo.get_by_slug(session, runtime.settings.default_tenant) is None:
                raise


def _bootstrap(runtime: Runtime) -> None:
    admin_password = secrets.token_urlsafe(18)
    with runtime.db.writer.begin() as session:
        if tenants_repo.list_all(session):
            return
        tenant = tenants_service.create_tenant(session, runtime.settings.default_tenant)
        actor = Actor(tenant_id=tenant.id, actor=BOOTSTRAP_ACTOR, surface="bootstrap")
        issued = clients_service.create_client(
            session,
            tenant,
            name="bootstrap admin",
            scopes=[Scope.admin.value],
            hmac_key=runtime.hmac_key,
            actor=actor,
        )
        admins_service.create_admin(
            session, tenant, username=BOOTSTRAP_ADMIN, password=admin_password, actor=actor
        )
        path = runtime.settings.data_dir / BOOTSTRAP_FILE
        write_private_file(
            path,
            json.dumps(
                {
                    "tenant": tenant.slug,
                    "token_url": f"{runtime.issuer(tenant.slug)}/connect/token",
                    "client_id": issued.client.client_id,
                    "client_secret": issued.client_secret,
                    "scopes": issued.client.scopes,
                    "console": {
                        "url": f"{runtime.settings.public_url.rstrip('/')}/admin/",
                        "tenant": tenant.slug,
                        "username": BOOTSTRAP_ADMIN,
                        "password": admin_password,
                    },
                },
                indent=2,
            )
            + "\n",
        )
        runtime.bootstrap_credentials = path


def _check_store_exists(settings: Settings, db: Database) -> None:
    """Raise NoStore unless the settings point at an existing store and its secret key."""
    where = describe_store(settings)
    if settings.is_sqlite:
        database = make_url(settings.resolved_database_url).database
        exists = not database or database == ":memory:" or Path(database).exists()
    else:
        try:
            exists = is_migrated(db.engine)
        except OperationalError as exc:
            raise NoStore(f"cannot reach the {where}: {exc.orig}") from exc
    if not exists:
        raise NoStore(f"no rosterd store at the {where}. {_POINT_AT_IT}")
    key_file = settings.data_dir / SECRET_KEY_FILE
    if not settings.secret_key and not key_file.exists():
        raise NoStore(
            f"the {where} exists, but its secret key does not: no {key_file.resolve()} and "
            "ROSTERD_SECRET_KEY is unset, so the credentials made here would not work on the "
            f"server. {_POINT_AT_IT}"
        )


def _runner(settings: Settings, db: Database) -> Runner:
    if db.is_sqlite:
        return SqliteRunner(
            db.engine,
            db.write_engine,
            slow_read_threads=settings.db_slow_read_threads,
            max_group=settings.db_group_commit_max,
        )
    return PooledRunner(
        settings.db_threads,
        AsyncpgPointReads(
            db.engine,
            size=settings.db_point_read_connections,
            prepare=settings.db_prepare_threshold is not None,
        ),
    )


def restore_deferred_indexes(db: Database) -> None:
    """Build the indexes a bulk load on SQLite set aside and has not built again: it is
    running, or it was killed (rosterd.repositories.deferred_indexes).

    On the writer's connection as it is: a load's own connection already has its large page
    cache (rosterd.repositories.bulk.prepare_load), and a server's one writer connection must
    not keep one for its lifetime.
    """
    if not db.is_sqlite:
        return
    with db.writer.begin() as session:
        deferred_indexes.restore(session.connection())


def open_runtime(settings: Settings, *, bootstrap: bool = True, create: bool = True) -> Runtime:
    """The runtime on the settings' store, migrated; ``create=False`` refuses to make one."""
    database_url = settings.resolved_database_url
    db = make_database(database_url, settings.db_pool_size, settings.db_prepare_threshold)
    try:
        if not create:
            _check_store_exists(settings, db)
        private_sqlite_store(database_url)
        upgrade(db.write_engine)
        if create:
            restore_deferred_indexes(db)
    except BaseException:
        db.dispose()
        raise
    hmac_key = load_or_create_secret_key(settings.secret_key, settings.data_dir)
    keys = StoreKeys(
        db=db,
        sealer=KeySealer(hmac_key),
        grace=signing_keys.grace(
            settings.access_token_ttl_seconds,
            settings.api_v1_token_ttl_seconds,
            refresh_seconds=settings.signing_key_refresh_seconds,
        ),
    )
    runtime = Runtime(
        settings=settings,
        db=db,
        hmac_key=hmac_key,
        signer=TokenSigner(keys, refresh_seconds=settings.signing_key_refresh_seconds),
        keys=keys,
        client_gate=ClientGate(db.reader),
        grant_gate=GrantGate(db.reader),
        scim_gate=SecretGate(
            scim_tokens.KIND, db.reader, hmac_key, settings.scim_token_cache_seconds
        ),
        work=_runner(settings, db),
    )
    if bootstrap:
        _bootstrap_default_tenant(runtime)
    return runtime
