"""Build the nomenclature tables once, cache them under the data directory, reuse them on later starts.

The cache is ``<data dir>/nomenclature/<release>/tables-v<format>r<build revision>.npz``. Building takes a
file lock so two processes starting at once build it only once; the file is written to a temporary name and
renamed.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cordmatch.hla.tables import TABLES_FORMAT, NomenclatureTables
from cordmatch.imgt.build import BUILD_REVISION, Progress, build_tables
from cordmatch.imgt.pyard_db import init_pyard
from cordmatch.imgt.release import RELEASE, active_release
from cordmatch.paths import data_dir

if TYPE_CHECKING:
    from cordmatch.config import Settings

_lock = threading.Lock()
_loaded: dict[tuple[str, str, bool], NomenclatureTables] = {}


def cache_dir(base: str | os.PathLike[str] | None = None, release: str = RELEASE) -> Path:
    """Directory holding the cached tables and py-ard's own database for a release."""
    path = data_dir(base) / "nomenclature" / release
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_file(base: str | os.PathLike[str] | None = None, release: str = RELEASE) -> Path:
    """The cached tables' file: the coding format and the build revision in its name (a stale file is not read)."""
    return cache_dir(base, release) / f"tables-v{TABLES_FORMAT}r{BUILD_REVISION}.npz"


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class _PyardFallback:
    """Asks py-ard (lazily initialised from the cached database) about names outside the tables."""

    def __init__(self, work_dir: Path, release: str) -> None:
        self.work_dir = work_dir
        self.release = release
        self._ard: Any = None

    def __call__(self, token: str) -> tuple[str, ...] | None:
        if self._ard is None:
            self._ard = init_pyard(self.work_dir, self.release)
        try:
            out = self._ard.redux(token, "W")
        except Exception:  # py-ard signals unknown names with several exception types
            return None
        return tuple(str(out).split("/")) if out else None


def load_or_build(
    base: str | os.PathLike[str] | None = None,
    release: str = RELEASE,
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
    pyard_fallback: bool | None = None,
) -> NomenclatureTables:
    """Load the cached tables, building them first (offline, from the shipped release) if needed.

    ``pyard_fallback``: ask py-ard about names outside the tables (default: the settings',
    ``$CORDMATCH_PYARD_FALLBACK``)."""
    from cordmatch.config import current

    target = cache_file(base, release)
    work = cache_dir(base, release)
    # Names outside the tables go to py-ard only when asked for (it takes seconds to start):
    # the tables already hold every name py-ard lists for the release.
    ask_pyard = current().pyard_fallback if pyard_fallback is None else pyard_fallback
    fallback = _PyardFallback(work, release) if ask_pyard else None
    if not rebuild and target.exists():
        try:
            return _load(target, fallback)
        except (OSError, ValueError, KeyError):
            pass  # stale or damaged cache: rebuild below
    with _file_lock(work / ".build.lock"):
        if not rebuild and target.exists():
            try:
                return _load(target, fallback)
            except (OSError, ValueError, KeyError):
                pass
        tables = build_tables(work, release, progress)
        tmp = target.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(tmp, **tables.to_arrays())  # type: ignore[arg-type]
        os.replace(tmp, target)
        tables.fallback = fallback
        return tables


def _load(path: Path, fallback: _PyardFallback | None) -> NomenclatureTables:
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return NomenclatureTables.from_arrays(arrays, fallback=fallback)


def nomenclature(
    base: str | os.PathLike[str] | None = None,
    release: str | None = None,
    *,
    pyard_fallback: bool | None = None,
    progress: Progress | None = None,
) -> NomenclatureTables:
    """The tables of ``release`` (default: the active one) under the data directory ``base``, loaded once per
    process for each (directory, release, fallback) and shared by everyone asking for the same."""
    from cordmatch.config import current

    chosen = active_release(release, base)
    ask_pyard = current().pyard_fallback if pyard_fallback is None else pyard_fallback
    key = (str(data_dir(base)), chosen, ask_pyard)
    with _lock:
        if key not in _loaded:
            _loaded[key] = load_or_build(base, chosen, progress=progress, pyard_fallback=ask_pyard)
        return _loaded[key]


def settings_nomenclature(settings: Settings, progress: Progress | None = None) -> NomenclatureTables:
    """The tables ``settings`` name (release, data directory, py-ard fallback); one per process."""
    return nomenclature(
        settings.data_dir, settings.hla_release, pyard_fallback=settings.pyard_fallback, progress=progress
    )


def current_tables() -> NomenclatureTables:
    """The tables of the current settings (:func:`cordmatch.config.current`), for code that was handed none:
    a Dask worker (a local cluster's workers get the parent's settings in their environment,
    ``cordmatch.io.cluster.open_client``), a service built without the application's tables."""
    from cordmatch.config import current

    return settings_nomenclature(current())


def default_nomenclature(progress: Progress | None = None) -> NomenclatureTables:
    """The process-wide tables of the active release (the shipped one unless ``hla update`` chose another),
    built on first use, then cached on disk."""
    return nomenclature(progress=progress)
