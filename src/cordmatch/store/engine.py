"""Open a store: resolve the database URL, create the engine, run the migrations.

SQLite: WAL, foreign keys on, every transaction ``BEGIN IMMEDIATE`` (writers serialise; no lost
updates). PostgreSQL: READ COMMITTED + row locks (``SELECT ... FOR UPDATE``) taken by the services.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from cordmatch.errors import CordmatchError, InvalidInputError

DEFAULT_FILE = "cordmatch.sqlite3"

if TYPE_CHECKING:
    from cordmatch.config import Settings


def default_url(settings: Settings | None = None) -> str:
    """The settings' store (``$CORDMATCH_DB``) if set, else the SQLite file ``<data dir>/cordmatch.sqlite3``.

    ``settings``: default :func:`cordmatch.config.current`."""
    from cordmatch.config import current
    from cordmatch.paths import data_dir

    chosen = settings if settings is not None else current()
    if chosen.db:
        return resolve_url(chosen.db)
    return f"sqlite:///{data_dir(chosen.data_dir) / DEFAULT_FILE}"


def resolve_url(url_or_path: str | os.PathLike[str] | None) -> str:
    """A SQLAlchemy URL from a URL, a file path (SQLite) or None (the default)."""
    if url_or_path is None or str(url_or_path) == "":
        return default_url()
    text = str(url_or_path)
    if "://" in text:
        url = make_url(text)
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise InvalidInputError(f"unsupported database {url.get_backend_name()!r}", where="--db")
        if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    path = Path(text).expanduser().resolve()
    return f"sqlite:///{path}"


def _sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for in-memory databases and other engines)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


class Store:
    """An opened store: the engine and transactions on it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        ro = {"cm_readonly": True}
        if engine.dialect.name == "postgresql":
            ro["postgresql_readonly"] = True
        self._read_sessions = sessionmaker(engine.execution_options(**ro), expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction (SQLite: deferred BEGIN, so readers never wait for the write lock)."""
        with self._read_sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def busy_timeout_s() -> float:
    """How long a SQLite writer waits for another's lock before giving up (then the API answers 503), s:
    the settings' ``$CORDMATCH_DB_BUSY_TIMEOUT`` (default 30)."""
    from cordmatch.config import current

    return current().db_busy_timeout_s


def _sqlite_engine(url: str, busy_s: float | None = None, **kw: Any) -> Engine:
    wait = busy_timeout_s() if busy_s is None else busy_s
    engine = create_engine(url, connect_args={"timeout": wait, "check_same_thread": False}, **kw)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
        # statement journals (needed per statement with foreign keys and triggers) in memory: bulk inserts 2-3x
        cur.execute("PRAGMA temp_store=MEMORY")
        if ":memory:" not in url and url != "sqlite://":
            cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("cm_readonly") else "BEGIN IMMEDIATE")

    return engine


def create_store_engine(
    url: str, *, pool_size: int | None = None, echo: bool = False, busy_s: float | None = None
) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, busy_s, echo=echo)
    kw: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
    if pool_size is not None:
        kw.update(pool_size=pool_size, max_overflow=max(10, pool_size // 5))
    return create_engine(url, **kw)


def open_store(
    url_or_path: str | os.PathLike[str] | None = None,
    *,
    migrate: bool = True,
    pool_size: int | None = None,
    echo: bool = False,
    create: bool = True,
    busy_s: float | None = None,
) -> Store:
    """Open the store at ``url_or_path`` (URL, SQLite path, or None = ``$CORDMATCH_DB`` / default file).

    Runs the shipped Alembic migrations to the newest revision unless ``migrate=False``. ``busy_s``: how
    long a SQLite writer waits for the write lock (default ``$CORDMATCH_DB_BUSY_TIMEOUT`` or 30). ``create=False``
    (commands that only read: verify, search) makes a missing SQLite file an error instead of creating it.
    """
    url = resolve_url(url_or_path)
    path = _sqlite_path(url)
    if path is not None:
        if path.is_dir():
            raise CordmatchError(f"--db {path} is a directory, not a database file", where="--db")
        if not path.exists():
            if not create:
                raise CordmatchError(f"no database at {path} (check --db; nothing was created)", where="--db")
            try:
                if "://" not in str(url_or_path or ""):  # a plain file path: make its folder (URLs as given)
                    path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CordmatchError(f"cannot create {path.parent}: {exc.strerror}", where="--db") from None
    engine = create_store_engine(url, pool_size=pool_size, echo=echo, busy_s=busy_s)
    try:
        if migrate:
            from cordmatch.store.migrate import upgrade

            upgrade(engine)
        else:
            with engine.connect():
                pass
    except DBAPIError as exc:  # unreachable server, a file that is no database (/etc/passwd), no permission
        engine.dispose()
        shown = engine.url.render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise CordmatchError(f"cannot open the bank store at {shown}: {reason}", where="--db") from None
    return Store(engine)
