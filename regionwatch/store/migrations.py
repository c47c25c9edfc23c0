"""Schema versions of the store, as Alembic revisions shipped inside the package.

The revisions live in ``regionwatch/store/alembic/versions`` (read through
:mod:`importlib.resources`; no ``alembic.ini`` is needed at runtime). :func:`migrate` runs on
every :class:`~regionwatch.store.Store` start and with ``regionwatch db upgrade``: it brings the
database to the newest revision in one transaction, on SQLite and PostgreSQL alike.

A database made before Alembic carries its version in ``schema_version`` (1: initial schema,
2: full-text search). It is stamped with the matching revision (``0001`` or ``0002``) and then
upgraded like any other: nothing is rebuilt, no row is touched. The ``schema_version`` table is
left in place (nothing reads it any more).

Several workers may start at once: on PostgreSQL an advisory lock, taken before the version is
read, lets one of them migrate while the others wait and then find nothing left to do; on SQLite
the write lock taken at ``BEGIN IMMEDIATE`` does the same.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

__all__ = ["LEGACY_REVISIONS", "MIGRATE_LOCK_KEY", "current_revision", "head", "migrate"]

logger = logging.getLogger(__name__)

#: PostgreSQL advisory lock held while the schema is checked and upgraded.
MIGRATE_LOCK_KEY = 727274
#: ``schema_version`` of a store made before Alembic → the revision it corresponds to.
LEGACY_REVISIONS = {1: "0001", 2: "0002"}


@contextmanager
def _scripts() -> Iterator[ScriptDirectory]:
    with resources.as_file(resources.files("regionwatch.store") / "alembic") as path:
        cfg = Config()
        cfg.set_main_option("script_location", str(Path(path)))
        yield ScriptDirectory.from_config(cfg)


def head() -> str:
    """The newest revision shipped with this release."""
    with _scripts() as scripts:
        rev = scripts.get_current_head()
    assert rev is not None
    return rev


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at (None: no Alembic version yet)."""
    return MigrationContext.configure(conn).get_current_revision()


def _legacy_revision(conn: Connection) -> str | None:
    if "schema_version" not in inspect(conn).get_table_names():
        return None
    version = conn.execute(text("SELECT max(version) FROM schema_version")).scalar()
    if not version:
        return None
    rev = LEGACY_REVISIONS.get(int(version))
    if rev is None:
        raise RuntimeError(f"unknown legacy schema_version {version}: upgrade RegionWatch first")
    return rev


def migrate(engine: Engine) -> str:
    """Bring the database to the newest revision; returns it.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be reached or upgraded (the
            transaction is rolled back: the database stays at its revision).
    """
    with engine.begin() as conn, _scripts() as scripts:
        if conn.dialect.name == "postgresql":
            # several workers may start at once: one migrates, the others wait
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATE_LOCK_KEY})")
        target = scripts.get_current_head()
        assert target is not None
        current = current_revision(conn)
        if current == target:
            return target
        if current is None:
            legacy = _legacy_revision(conn)
            if legacy is not None:
                logger.info("store: schema_version of a release before Alembic is %s", legacy)
                MigrationContext.configure(conn).stamp(scripts, legacy)
                current = legacy

        def upgrade(rev: Any, _context: MigrationContext) -> Any:
            return scripts._upgrade_revs(target, rev)

        logger.info("store: upgrading the schema from %s to %s", current or "nothing", target)
        with EnvironmentContext(Config(), scripts, fn=upgrade, destination_rev=target) as env:
            env.configure(connection=conn, render_as_batch=True)
            with env.begin_transaction():
                env.run_migrations()
    return target
