"""Run the Alembic migrations shipped inside the package, programmatically."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x636D_6D69  # advisory lock: one migrator at a time on PostgreSQL


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


_REVISION = re.compile(r"^revision\s*=\s*[\"']([^\"']+)[\"']", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.M)


@cache
def _single_head_from_files() -> str | None:
    """The head revision read from the migration files without importing alembic (a fast path for every
    start; None when it cannot be told for sure, e.g. several heads)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        src = path.read_text(encoding="utf-8")
        rev, down = _REVISION.search(src), _DOWN.search(src)
        if rev is None or down is None:
            return None
        revisions.add(rev.group(1))
        parents.update(re.findall(r"[\"']([^\"']+)[\"']", down.group(1)))
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


def _at_head_fast(engine: Engine) -> bool:
    head = _single_head_from_files()
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:
        return False
    return rows == [head]


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (no-op when already there)."""
    if revision == "head" and _at_head_fast(engine):
        return
    if revision == "head" and current_revision(engine) == head_revision():
        return
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
