"""Build the nomenclature tables once, cache them under the data directory, reuse them on later starts.

The cache is ``<data dir>/nomenclature/<release>/tables-v<format>.npz``. Building takes a file lock so two
processes starting at once build it only once; the file is written to a temporary name and renamed.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from cordmatch.hla.tables import TABLES_FORMAT, NomenclatureTables
from cordmatch.imgt.build import Progress, build_tables, init_pyard
from cordmatch.imgt.release import RELEASE, active_release
from cordmatch.paths import data_dir

_lock = threading.Lock()
_default: NomenclatureTables | None = None


def cache_dir(base: str | os.PathLike[str] | None = None, release: str = RELEASE) -> Path:
    """Directory holding the cached tables and py-ard's own database for a release."""
    path = data_dir(base) / "nomenclature" / release
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_file(base: str | os.PathLike[str] | None = None, release: str = RELEASE) -> Path:
    return cache_dir(base, release) / f"tables-v{TABLES_FORMAT}.npz"


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
) -> NomenclatureTables:
    """Load the cached tables, building them first (offline, from the shipped release) if needed."""
    target = cache_file(base, release)
    work = cache_dir(base, release)
    # Names outside the tables go to py-ard only when asked for (it takes seconds to start):
    # the tables already hold every name py-ard lists for the release.
    fallback = _PyardFallback(work, release) if os.environ.get("CORDMATCH_PYARD_FALLBACK") == "1" else None
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


def default_nomenclature(progress: Progress | None = None) -> NomenclatureTables:
    """The process-wide tables of the active release (the shipped one unless ``hla update`` chose another),
    built on first use, then cached on disk."""
    global _default
    with _lock:
        if _default is None:
            _default = load_or_build(release=active_release(), progress=progress)
        return _default
