"""py-ard's own SQLite database: built once per release, then each py-ard instance works on a private copy.

Why private copies: py-ard's initialisation is not read-only on a built database. On IPD-IMGT/HLA releases
before 3.64.0 it never creates its ``antigen_specifities`` table, so every ``pyard.init`` drops and
re-creates ``serology_mapping`` (the drop and create commit at once, the rows only later). Two processes
initialising py-ard on one file at once (the build's worker pool, a test, the look-up fallback) could then
read an empty ``serology_mapping`` and answer ``S`` (serology) reductions with nothing: a wrong table,
silently cached. So the shared database is only ever published whole (built aside, then renamed into
place) and never opened by py-ard itself; every instance copies it first.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from cordmatch.errors import ReferenceDataError
from cordmatch.imgt.release import lay_out_for_pyard, release_dir

#: py-ard's file name for the database of the release it calls "Latest" (the shipped files).
PYARD_DB = "pyard-Latest.sqlite3"
#: Tables cordmatch reads or py-ard's reductions need; a database missing one, or with one empty, is rebuilt.
REQUIRED_TABLES = (
    "alleles",
    "who_alleles",
    "who_group",
    "g_group",
    "p_group",
    "lgx_group",
    "xx_codes",
    "shortnulls",
    "serology_mapping",
    "cwd2",
)
_copies = itertools.count()


def shared_db(work_dir: Path) -> Path:
    """The published database of a release's work directory (built whole, then renamed into place)."""
    return work_dir / "pyard" / PYARD_DB


def db_is_complete(db_file: Path) -> bool:
    """True when ``db_file`` holds every required table with rows (an interrupted build does not)."""
    if not db_file.is_file():
        return False
    try:
        con = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        return all(con.execute(f"select 1 from {t} limit 1").fetchone() is not None for t in REQUIRED_TABLES)
    except sqlite3.Error:
        return False
    finally:
        con.close()


def _private_dir(work_dir: Path) -> Path:
    """A directory of this process's own (``<pid>-<n>``); directories of processes gone are removed."""
    root = work_dir / "pyard-private"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        pid = old.name.split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    path = root / f"{os.getpid()}-{next(_copies)}"
    path.mkdir()
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_pyard(url: str, data_dir: Path) -> Any:
    # py-ard is configured only through its own environment variable (not a cordmatch setting, so not in
    # cordmatch.config): set for the call, then put back
    old = os.environ.get("IMGT_HLA_URL")
    os.environ["IMGT_HLA_URL"] = url
    try:
        import pyard

        # "Latest" makes py-ard skip its online version check; the files are the shipped release. An explicit
        # empty config keeps a user's ~/.pyard rc file from changing the reductions. py-ard prints progress
        # to stdout; keep it off ours (the CLI's JSON goes there).
        with contextlib.redirect_stdout(io.StringIO()):
            return pyard.init("Latest", data_dir=str(data_dir), load_mac=False, config={})
    finally:
        if old is None:
            os.environ.pop("IMGT_HLA_URL", None)
        else:
            os.environ["IMGT_HLA_URL"] = old


def publish_db(work_dir: Path, release: str) -> Path:
    """Build py-ard's database aside and rename it into place, unless a complete one is there already."""
    target = shared_db(work_dir)
    if db_is_complete(target):
        return target
    url = lay_out_for_pyard(release_dir(release), work_dir / "imgt")
    aside = _private_dir(work_dir)
    try:
        _start_pyard(url, aside)
        built = aside / PYARD_DB
        if not db_is_complete(built):
            raise ReferenceDataError(f"py-ard built an incomplete database for release {release}", where=str(aside))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(built, target)
    finally:
        shutil.rmtree(aside, ignore_errors=True)
    return target


def init_pyard(work_dir: Path, release: str) -> Any:
    """A py-ard instance on the shipped release files, on a private copy of the release's database (built
    and published first if missing or incomplete)."""
    shared = publish_db(work_dir, release)
    url = lay_out_for_pyard(release_dir(release), work_dir / "imgt")
    private = _private_dir(work_dir)
    shutil.copyfile(shared, private / PYARD_DB)
    return _start_pyard(url, private)


def redux(ard: Any, name: str, level: str) -> str | None:
    """py-ard's reduction of ``name`` at ``level``; None when py-ard says the name is not valid. Any other
    failure (a database error, say) is raised: it must not become a silently missing answer."""
    from pyard.exceptions import PyArdError

    try:
        out = ard.redux(name, level)
    except PyArdError:
        return None
    return str(out) if out else ""
