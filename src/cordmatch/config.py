"""The settings of a cordmatch process: every ``CORDMATCH_*`` environment variable, read in this one module.

An entry point (the CLI's root command, the server's worker factory) reads them once with
:meth:`Settings.from_env`, options given on its command line winning over the environment, and hands the
frozen :class:`Settings` to :func:`cordmatch.bootstrap.build`. Code below the entry points takes the values
it needs as arguments; the few library defaults that have no caller to ask (the data directory, the default
store, the active IMGT/HLA release) use :func:`current`: the settings the entry point activated with
:func:`using`, else a fresh read of the environment (library use, tests).

Nothing else in cordmatch reads ``os.environ``, except where a third-party library is configured through
its own environment variables (py-ard's ``IMGT_HLA_URL``, glibc's malloc trim threshold of Dask workers).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cordmatch.errors import InvalidInputError

DEFAULT_BUSY_S = 30.0  # seconds a SQLite writer waits for another writer's lock
MAX_BUSY_S = 3600.0
MAX_POOL = 1000
_RELEASE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, the settings field it fills, what it means, its default."""

    name: str
    field: str
    meaning: str
    default: str


#: Every environment variable cordmatch reads (the README's table is checked against this list).
VARIABLES: tuple[Variable, ...] = (
    Variable("CORDMATCH_DATA_DIR", "data_dir", "data directory: nomenclature cache, default store, caches",
             "the platform's user data dir (`~/.local/share/cordmatch`)"),
    Variable("CORDMATCH_DB", "db", "the bank store: SQLAlchemy URL (SQLite or PostgreSQL) or SQLite file",
             "`<data dir>/cordmatch.sqlite3`"),
    Variable("CORDMATCH_DB_BUSY_TIMEOUT", "db_busy_timeout_s",
             "seconds a SQLite writer waits for the write lock (0..3600; then the API answers 503)", "30"),
    Variable("CORDMATCH_DB_POOL", "db_pool", "PostgreSQL connections per server process (1..1000)",
             "SQLAlchemy's (5)"),
    Variable("CORDMATCH_SECRET", "secret", "signs the pages' CSRF tokens; the same for every server process",
             "random per process (`serve --workers N`: one random secret for all)"),
    Variable("CORDMATCH_SECURE_COOKIES", "secure_cookies",
             "`1`: Secure cookies and HSTS (served over HTTPS; `serve --secure-cookies`)", "0"),
    Variable("CORDMATCH_THROTTLE_STORAGE", "throttle_storage",
             "where log-in and token throttle counts live: a `limits` storage URI; `redis://HOST:6379` shares "
             "them between server processes and machines (the `redis` extra: `pip install -e '.[redis]'`)",
             "`memory://`: each server process counts alone"),
    Variable("CORDMATCH_HLA_RELEASE", "hla_release", "IPD-IMGT/HLA release in use (e.g. `3.58.0`)",
             "the one chosen by `hla update`/`hla use`, else the shipped 3.58.0"),
    Variable("CORDMATCH_PYARD_FALLBACK", "pyard_fallback",
             "`1`: ask py-ard about names outside the nomenclature tables (slow start)", "0"),
    Variable("CORDMATCH_AUDIT_KEY", "audit_key", "key signing audit anchors (`audit anchor`, `audit verify`)",
             "none: anchors unsigned (`--key-file` wins)"),
    Variable("CORDMATCH_USER", "user", "acting user of `bank` commands (`--user` wins)", "none"),
    Variable("CORDMATCH_TOKEN", "token", "API token of `bank` commands (`--token` wins)", "none"),
    Variable("CORDMATCH_PASSWORD", "password", "password of the acting user of `bank` commands", "a prompt"),
    Variable("CORDMATCH_NEW_PASSWORD", "new_password", "password of a user added by `bank user add`", "a prompt"),
    Variable("CORDMATCH_TEST_PG", "test_pg", "tests only: PostgreSQL URL of the store tests' second engine",
             "`postgresql+psycopg://postgres@127.0.0.1:5432/test`"),
)  # fmt: skip

_BY_FIELD = {v.field: v for v in VARIABLES}


def _flag(raw: str, name: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInputError(f"${name} must be 1 or 0, got {raw!r}", where=name)


def _number(raw: str, name: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise InvalidInputError(f"${name} must be a number of seconds, got {raw!r}", where=name) from None


def _count(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise InvalidInputError(f"${name} must be a whole number, got {raw!r}", where=name) from None


def _text(raw: str, _name: str) -> str:
    return raw.strip()


#: How each field is read from its variable's text (fields not listed are text).
_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "data_dir": lambda raw, _name: Path(raw).expanduser(),
    "db_busy_timeout_s": _number,
    "db_pool": _count,
    "secure_cookies": _flag,
    "pyard_fallback": _flag,
}


@dataclass(frozen=True)
class Settings:
    """The settings of one process (read once by its entry point). ``None``: not set, the default applies."""

    data_dir: Path | None = None
    db: str | None = None
    db_busy_timeout_s: float = DEFAULT_BUSY_S
    db_pool: int | None = None
    secret: str | None = field(default=None, repr=False)
    secure_cookies: bool = False
    throttle_storage: str | None = None
    hla_release: str | None = None
    pyard_fallback: bool = False
    audit_key: str | None = field(default=None, repr=False)
    user: str | None = None
    token: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    new_password: str | None = field(default=None, repr=False)
    test_pg: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.db_busy_timeout_s <= MAX_BUSY_S:
            name = _BY_FIELD["db_busy_timeout_s"].name
            raise InvalidInputError(f"${name} must be 0..3600 s, got {self.db_busy_timeout_s:g}", where=name)
        if self.db_pool is not None and not 1 <= self.db_pool <= MAX_POOL:
            name = _BY_FIELD["db_pool"].name
            raise InvalidInputError(f"${name} must be 1..{MAX_POOL}, got {self.db_pool}", where=name)
        if self.hla_release is not None and not _RELEASE.fullmatch(self.hla_release):
            name = _BY_FIELD["hla_release"].name
            raise InvalidInputError(f"${name} must be a release number like 3.58.0, got {self.hla_release!r}",
                                    where=name)  # fmt: skip

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """The settings from ``environ`` (default: this process's environment), then ``overrides``.

        Precedence: an override that is not None (a command-line option) > the variable > the default.
        An empty variable counts as unset. A bad value raises InvalidInputError naming the variable.
        """
        env = os.environ if environ is None else environ
        unknown = sorted(set(overrides) - set(_BY_FIELD))
        if unknown:
            raise TypeError(f"unknown settings: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for var in VARIABLES:
            raw = env.get(var.name)
            if raw is not None and raw.strip():
                values[var.field] = _PARSERS.get(var.field, _text)(raw, var.name)
        for name, value in overrides.items():
            if value is not None:
                values[name] = Path(value).expanduser() if name == "data_dir" else value
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (None values are ignored: the current value stays)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_env(self) -> dict[str, str]:
        """The variables that give these settings back through :meth:`from_env` (unset ones left out)."""
        out: dict[str, str] = {}
        for var in VARIABLES:
            value = getattr(self, var.field)
            if value is None or (var.field == "db_busy_timeout_s" and value == DEFAULT_BUSY_S):
                continue
            if isinstance(value, bool):
                if value:
                    out[var.name] = "1"
                continue
            out[var.name] = f"{value:g}" if isinstance(value, float) else str(value)
        return out


def child_environment(settings: Settings) -> dict[str, str]:
    """The environment of a child process that must run with ``settings``: this process's, with them on top.

    ``cordmatch serve --workers N`` starts its uvicorn workers this way (they read it back with
    :meth:`Settings.from_env` in :func:`cordmatch.bootstrap.asgi_app`).
    """
    return {**os.environ, **settings.to_env()}


_active: Settings | None = None


def current() -> Settings:
    """The settings activated by the entry point (:func:`using`), else read now from the environment."""
    return _active if _active is not None else Settings.from_env()


def activate(settings: Settings) -> None:
    """Make ``settings`` the :func:`current` ones for the rest of this process (a server worker)."""
    global _active
    _active = settings


@contextmanager
def using(settings: Settings) -> Iterator[Settings]:
    """Make ``settings`` the process's :func:`current` ones while the block runs (an entry point's run)."""
    global _active
    before = _active
    _active = settings
    try:
        yield settings
    finally:
        _active = before


def env_table() -> str:
    """The README's table of the environment variables (Markdown), made from :data:`VARIABLES`."""
    rows = ["| variable | meaning | default |", "| --- | --- | --- |"]
    rows += [f"| `{v.name}` | {v.meaning} | {v.default} |" for v in VARIABLES]
    return "\n".join(rows)
