"""Adapter: read haplotype frequency sets (CSV + hfx metadata JSON) and cache the haplotype index.

Shipped sets: the NMDP 2007 five-locus sets AFA, API, CAU, HIS (``HEGL_<POP>.csv``); the 100-haplotype
toy subset ``cau.csv`` is available as population ``CAU_TOY``. Users may supply their own set in the
same form (:func:`load_index` with ``sets=[(csv, metadata)]``).

The index is built once per distinct set of files (content checksum) and release, and cached as
``<data dir>/probability/haplotype-index-<release>-<checksum>.npz``.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np

from cordmatch.errors import InvalidInputError, NotFoundError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.paths import data_dir, package_data
from cordmatch.probability.frequencies import (
    FrequencyFileError,
    FrequencyMetadata,
    ParsedFrequencies,
    parse_frequency_lines,
    parse_metadata,
)
from cordmatch.probability.index import INDEX_FORMAT, HaplotypeIndex, UnknownPopulationError, build_index

SHIPPED_DIR_NAME: Final = "haplotype-frequencies-nmdp-2007"
#: Population -> file stem of the shipped sets.
SHIPPED_SETS: Final = {"AFA": "HEGL_AFA", "API": "HEGL_API", "CAU": "HEGL_CAU", "HIS": "HEGL_HIS"}
TOY_SET: Final = ("CAU_TOY", "cau")

_lock = threading.Lock()
_cache: dict[tuple[str, ...], HaplotypeIndex] = {}


def shipped_dir() -> Path:
    return package_data(SHIPPED_DIR_NAME)


def shipped_files(population: str) -> tuple[Path, Path]:
    """(CSV, metadata) of a shipped population; raises UnknownPopulationError."""
    key = population.strip().upper()
    stem = TOY_SET[1] if key == TOY_SET[0] else SHIPPED_SETS.get(key)
    if stem is None:
        known = ", ".join([*SHIPPED_SETS, TOY_SET[0]])
        raise UnknownPopulationError(f"unknown population {population!r}; known: {known}", where=population)
    d = shipped_dir()
    return d / f"{stem}.csv", d / f"{stem}.hfx-metadata.json"


def read_frequency_set(
    csv_path: Path, metadata_path: Path | None = None, *, population: str | None = None
) -> tuple[str, ParsedFrequencies, FrequencyMetadata | None]:
    """Read and validate one set; the population comes from ``population`` or the metadata."""
    meta: FrequencyMetadata | None = None
    if metadata_path is not None:
        meta = parse_metadata(_read(metadata_path), source=metadata_path.name)
    name = population or (meta.population if meta else None)
    if not name:
        raise InvalidInputError(
            "a frequency set needs a population: give metadata (hfx JSON) or a population name", where=str(csv_path)
        )
    text = _read(csv_path)
    parsed = parse_frequency_lines(
        text.splitlines(),
        source=csv_path.name,
        haplotype_field=meta.haplotype_field if meta else None,
        frequency_field=meta.frequency_field if meta else None,
    )
    return name, parsed, meta


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"file not found: {path}", where=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FrequencyFileError(f"cannot read {path}: {exc}", where=str(path)) from None


def _checksum(files: Sequence[tuple[str | None, Path, Path | None]], release: str) -> str:
    h = hashlib.sha256(f"{INDEX_FORMAT}|{release}".encode())
    for pop, csv_path, meta_path in files:
        h.update(f"|{pop}|".encode())
        for p in (csv_path, meta_path):
            if p is not None:
                try:
                    h.update(p.read_bytes())
                except OSError:
                    h.update(str(p).encode())
    return h.hexdigest()[:16]


def load_index(
    sets: Sequence[tuple[Path, Path | None]] | None = None,
    tables: NomenclatureTables | None = None,
    *,
    populations: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    base: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
) -> HaplotypeIndex:
    """The haplotype index of the given sets (default: the four shipped NMDP 2007 sets), cached on disk.

    ``sets`` are (CSV, metadata) paths; ``names`` overrides their population names. ``populations`` picks
    shipped sets by name (``CAU_TOY`` for the toy subset).
    """
    files: list[tuple[str | None, Path, Path | None]] = []
    if sets is None:
        for pop in populations or list(SHIPPED_SETS):
            c, m = shipped_files(pop)
            files.append((pop.strip().upper(), c, m))
    else:
        for i, (c_path, m_path) in enumerate(sets):
            files.append((names[i] if names else None, Path(c_path), Path(m_path) if m_path is not None else None))
    if tables is None:
        raise TypeError("load_index needs the nomenclature tables (cordmatch.bootstrap builds them)")
    checksum = _checksum(files, tables.release)
    key = (checksum, str(base))
    with _lock:
        if key in _cache:
            return _cache[key]
        target = data_dir(base) / "probability" / f"haplotype-index-{tables.release}-{checksum}.npz"
        if use_cache and target.exists():
            try:
                with np.load(target, allow_pickle=False) as npz:
                    index = HaplotypeIndex.from_arrays({k: npz[k] for k in npz.files})
                _cache[key] = index
                return index
            except (OSError, ValueError, KeyError):
                pass  # stale or damaged: rebuild
        parsed = []
        for pop_name, csv_path, meta_path in files:
            name, p, _meta = read_frequency_set(csv_path, meta_path, population=pop_name)
            parsed.append((name.strip().upper(), p))
        index = build_index(parsed, tables, checksum=checksum)
        if use_cache:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".tmp{os.getpid()}.npz")
            np.savez(tmp, **index.to_arrays())  # type: ignore[arg-type]
            os.replace(tmp, target)
        _cache[key] = index
        return index


def default_index(tables: NomenclatureTables) -> HaplotypeIndex:
    """The process-wide index of the four shipped NMDP 2007 sets on ``tables``."""
    return load_index(tables=tables)
