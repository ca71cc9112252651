"""Build the integer nomenclature tables from the release, through py-ard (first use only).

Reductions of every allele name py-ard knows (full WHO names, truncated names, short nulls) are asked of
py-ard itself, in parallel worker processes. Group-like tokens (G and P groups, serology, XX codes) are
stored by their members; their reductions are the ordered union of the members' reductions.
"""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from cordmatch.hla.loci import REDUCTION_LEVELS
from cordmatch.hla.names import shape_of
from cordmatch.hla.tables import NomenclatureTables, join_blob
from cordmatch.imgt.release import lay_out_for_pyard, release_dir

Progress = Callable[[str, int, int], None]
STORED_LEVELS = tuple(lv for lv in REDUCTION_LEVELS if lv != "W")


def init_pyard(work_dir: Path, release: str) -> Any:
    """Initialise py-ard offline on the shipped release files; its SQLite cache goes to ``work_dir``."""
    url = lay_out_for_pyard(release_dir(release), work_dir / "imgt")
    old = os.environ.get("IMGT_HLA_URL")
    os.environ["IMGT_HLA_URL"] = url
    try:
        import pyard

        # "Latest" makes py-ard skip its online version check; the files are the shipped release.
        # py-ard prints progress to stdout; keep it off ours (the CLI's JSON goes there).
        with contextlib.redirect_stdout(io.StringIO()):
            return pyard.init("Latest", data_dir=str(work_dir / "pyard"), load_mac=False)
    finally:
        if old is None:
            os.environ.pop("IMGT_HLA_URL", None)
        else:
            os.environ["IMGT_HLA_URL"] = old


def _redux(ard: Any, name: str, level: str) -> str | None:
    try:
        out = ard.redux(name, level)
    except Exception:  # py-ard raises several exception types for names it cannot reduce
        return None
    return str(out) if out else ""


_worker_ard: Any = None


def _worker_init(work_dir: str, release: str) -> None:
    global _worker_ard
    _worker_ard = init_pyard(Path(work_dir), release)


def _worker_reduce(names: list[str]) -> list[list[str | None]]:
    return [[_redux(_worker_ard, n, lv) for lv in STORED_LEVELS] for n in names]


def _read_pyard_db(db_file: Path) -> dict[str, list[tuple[str, str]]]:
    con = sqlite3.connect(db_file)
    try:
        q = {
            "who": "select allele, '' from who_alleles",
            "alleles": "select allele, '' from alleles",
            "shortnulls": "select shortnull, allele_list from shortnulls",
            "exp": "select exp_allele, allele_list from exp_alleles",
            "serology": "select serology, allele_list from serology_mapping",
            "xx": "select allele_1d, allele_list from xx_codes",
            "cwd": "select allele, locus from cwd2",
        }
        return {k: [(str(a), str(b or "")) for a, b in con.execute(sql)] for k, sql in q.items()}
    finally:
        con.close()


def _two_field(allele: str) -> str:
    locus, body = allele.split("*", 1)
    return f"{locus}*{':'.join(body.rstrip('NLSQCA').split(':')[:2])}"


def build_tables(work_dir: Path, release: str, progress: Progress | None = None) -> NomenclatureTables:
    """Run py-ard over the release's allele names and code the answers as integer arrays."""
    init_pyard(work_dir, release)  # builds py-ard's own database once
    db = _read_pyard_db(work_dir / "pyard" / "pyard-Latest.sqlite3")
    cwd = {a for a, _ in db["cwd"]}

    alleles = list(dict.fromkeys(a for a, _ in db["who"]))
    allele_index = {a: i for i, a in enumerate(alleles)}

    # Prefix index: every truncation of every full name -> its alleles, in release order.
    by_prefix: dict[str, list[int]] = {}
    for i, a in enumerate(alleles):
        locus, body = a.split("*", 1)
        fields = body.rstrip("NLSQCA").split(":")
        for k in range(1, len(fields)):
            by_prefix.setdefault(f"{locus}*{':'.join(fields[:k])}", []).append(i)

    names: list[str] = []
    members: list[list[int]] = []
    seen: set[str] = set()

    def add(name: str, ids: list[int]) -> None:
        if name and ids and name not in seen:
            seen.add(name)
            names.append(name)
            members.append(ids)

    for i, a in enumerate(alleles):
        add(a, [i])
    for a, _ in db["alleles"]:
        add(a, by_prefix.get(a.rstrip("NLSQCA"), []) if a not in allele_index else [allele_index[a]])
    for table in ("shortnulls", "exp"):
        for a, lst in db[table]:
            add(a, [allele_index[x] for x in lst.split("/") if x in allele_index])
    n_reduced = len(names)  # names whose reductions come from py-ard itself

    # Reductions of the allele names, in parallel worker processes.
    texts: dict[str, dict[str, int]] = {lv: {} for lv in STORED_LEVELS}
    results = {lv: np.full(n_reduced, -1, dtype=np.int32) for lv in STORED_LEVELS}
    chunk = 2000
    chunks = [names[k : k + chunk] for k in range(0, n_reduced, chunk)]
    workers = max(1, min(4, os.cpu_count() or 1))
    with ProcessPoolExecutor(workers, initializer=_worker_init, initargs=(str(work_dir), release)) as pool:
        for c, rows in enumerate(pool.map(_worker_reduce, chunks)):
            if progress:
                progress("reducing allele names with py-ard", c * chunk, n_reduced)
            for k, row in enumerate(rows):
                for lv, text in zip(STORED_LEVELS, row, strict=True):
                    if text is not None:
                        results[lv][c * chunk + k] = texts[lv].setdefault(text, len(texts[lv]))
    if progress:
        progress("reducing allele names with py-ard", n_reduced, n_reduced)

    # Group-like tokens, stored by members.
    g_text = list(texts["G"])
    p_text = list(texts["P"])
    groups: dict[str, list[int]] = {}
    for i in range(len(alleles)):
        for res, txt in ((results["G"], g_text), (results["P"], p_text)):
            rid = int(res[i])
            if rid >= 0 and txt[rid].endswith(("G", "P")) and "/" not in txt[rid]:
                groups.setdefault(txt[rid], []).append(i)
    for g, ids in groups.items():
        add(g, ids)
    # A serologic antigen stands for its common and well-documented alleles (CWD 2.0, as registries
    # read serology-typed donors); rare alleles with the same serologic reaction (B44 includes a B*51
    # and a B*53 allele) are kept only when no CWD allele carries the antigen.
    for sero, lst in db["serology"]:
        ids = [allele_index[x] for x in lst.split("/") if x in allele_index]
        common = [i for i in ids if _two_field(alleles[i]) in cwd]
        add(sero, common or ids)
    for family, _ in db["xx"]:
        add(f"{family}:XX", by_prefix.get(family, []))

    # Per allele: lgx id (allele match), first-field antigen id (antigen match), null flag.
    lgx_names: dict[str, int] = {}
    antigen_names: dict[str, int] = {}
    allele_lgx = np.empty(len(alleles), dtype=np.int32)
    allele_antigen = np.empty(len(alleles), dtype=np.int32)
    allele_null = np.zeros(len(alleles), dtype=np.bool_)
    lgx_text = list(texts["lgx"])
    for i, a in enumerate(alleles):
        shape = shape_of(a)
        rid = int(results["lgx"][i])
        lgx = lgx_text[rid] if rid >= 0 else f"{shape.locus}*{':'.join(shape.fields[:2])}{shape.suffix}"
        allele_lgx[i] = lgx_names.setdefault(lgx, len(lgx_names))
        allele_antigen[i] = antigen_names.setdefault(shape.family, len(antigen_names))
        allele_null[i] = shape.suffix == "N"

    offsets = np.zeros(len(names) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(m) for m in members])
    flat = np.fromiter((x for m in members for x in m), dtype=np.int32, count=int(offsets[-1]))
    pad = len(names) - n_reduced
    return NomenclatureTables(
        release=release,
        alleles=alleles,
        allele_lgx=allele_lgx,
        lgx_names=list(lgx_names),
        allele_antigen=allele_antigen,
        antigen_names=list(antigen_names),
        allele_null=allele_null,
        names=names,
        member_offsets=offsets,
        members=flat,
        level_results={lv: np.concatenate([results[lv], np.full(pad, -1, dtype=np.int32)]) for lv in STORED_LEVELS},
        level_blobs={lv: join_blob(list(texts[lv])) for lv in STORED_LEVELS},
    )
