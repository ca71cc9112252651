"""Build the integer nomenclature tables from the release, through py-ard (first use only)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cordmatch.hla.loci import REDUCTION_LEVELS
from cordmatch.hla.names import shape_of
from cordmatch.hla.tables import NomenclatureTables, join_blob
from cordmatch.imgt.release import lay_out_for_pyard, release_dir

Progress = Callable[[str, int, int], None]


def init_pyard(work_dir: Path, release: str) -> Any:
    """Initialise py-ard offline on the shipped release files; its SQLite cache goes to ``work_dir``."""
    url = lay_out_for_pyard(release_dir(release), work_dir / "imgt")
    old = os.environ.get("IMGT_HLA_URL")
    os.environ["IMGT_HLA_URL"] = url
    try:
        import pyard

        # "Latest" makes py-ard skip its online version check; the files are the shipped release.
        return pyard.init("Latest", data_dir=str(work_dir / "pyard"), load_mac=False)
    finally:
        if old is None:
            os.environ.pop("IMGT_HLA_URL", None)
        else:
            os.environ["IMGT_HLA_URL"] = old


def _pyard_names(db_file: Path) -> tuple[list[str], list[str]]:
    """(full WHO alleles, every other name py-ard knows) from its SQLite tables."""
    con = sqlite3.connect(db_file)
    try:
        who = [r[0] for r in con.execute("select allele from who_alleles")]
        extra: list[str] = [r[0] for r in con.execute("select allele from alleles")]
        extra += [r[0] for r in con.execute("select shortnull from shortnulls")]
        extra += [r[0] for r in con.execute("select exp_allele from exp_alleles")]
        extra += [r[0] for r in con.execute("select serology from serology_mapping")]
        extra += [f"{r[0]}:XX" for r in con.execute("select allele_1d from xx_codes")]
        for table in ("g_group", "p_group"):
            extra += [r[0] for r in con.execute(f"select distinct {table[0]} from {table}")]
    finally:
        con.close()
    return who, extra


def build_tables(work_dir: Path, release: str, progress: Progress | None = None) -> NomenclatureTables:
    """Run py-ard over every name of the release and code the answers as integer arrays."""
    ard = init_pyard(work_dir, release)
    db_file = Path(work_dir / "pyard" / "pyard-Latest.sqlite3")
    who, extra = _pyard_names(db_file)

    alleles = list(dict.fromkeys(who))
    allele_index = {a: i for i, a in enumerate(alleles)}
    names: list[str] = list(alleles)
    seen = set(names)
    for n in extra:
        if n and n not in seen:
            seen.add(n)
            names.append(n)

    def redux(name: str, level: str) -> str | None:
        try:
            out = ard.redux(name, level)
        except Exception:  # py-ard raises several exception types for names it cannot reduce
            return None
        return str(out) if out else ""

    # Members (W level) of every name; drop names py-ard cannot expand.
    kept: list[str] = []
    offsets = [0]
    members: list[int] = []
    total = len(names)
    for k, n in enumerate(names):
        if progress and k % 5000 == 0:
            progress("expanding names", k, total)
        if n in allele_index:
            ids = [allele_index[n]]
        else:
            w = redux(n, "W")
            if not w:
                continue
            ids = [allele_index[a] for a in w.split("/") if a in allele_index]
            if not ids:
                continue
        kept.append(n)
        members.extend(ids)
        offsets.append(len(members))

    level_results: dict[str, np.ndarray[Any, np.dtype[np.int32]]] = {}
    level_blobs: dict[str, np.ndarray[Any, np.dtype[np.uint8]]] = {}
    for lv in REDUCTION_LEVELS:
        if lv == "W":
            continue
        texts: dict[str, int] = {}
        res = np.full(len(kept), -1, dtype=np.int32)
        for k, n in enumerate(kept):
            if progress and k % 10000 == 0:
                progress(f"reducing to {lv}", k, len(kept))
            r = redux(n, lv)
            if r is None:
                continue
            res[k] = texts.setdefault(r, len(texts))
        level_results[lv] = res
        level_blobs[lv] = join_blob(list(texts))

    # Per allele: lgx id (allele match), first-field antigen id (antigen match), null flag.
    lgx_names: dict[str, int] = {}
    antigen_names: dict[str, int] = {}
    allele_lgx = np.empty(len(alleles), dtype=np.int32)
    allele_antigen = np.empty(len(alleles), dtype=np.int32)
    allele_null = np.zeros(len(alleles), dtype=np.bool_)
    lgx_res = level_results["lgx"]
    lgx_texts = level_blobs["lgx"].tobytes().decode().split("\n")
    for i, a in enumerate(alleles):
        shape = shape_of(a)
        r = int(lgx_res[i])
        lgx = lgx_texts[r] if r >= 0 else f"{shape.locus}*{':'.join(shape.fields[:2])}{shape.suffix}"
        allele_lgx[i] = lgx_names.setdefault(lgx, len(lgx_names))
        allele_antigen[i] = antigen_names.setdefault(shape.family, len(antigen_names))
        allele_null[i] = shape.suffix == "N"

    return NomenclatureTables(
        release=release,
        alleles=alleles,
        allele_lgx=allele_lgx,
        lgx_names=list(lgx_names),
        allele_antigen=allele_antigen,
        antigen_names=list(antigen_names),
        allele_null=allele_null,
        names=kept,
        member_offsets=np.asarray(offsets, dtype=np.int64),
        members=np.asarray(members, dtype=np.int32),
        level_results=level_results,
        level_blobs=level_blobs,
    )
