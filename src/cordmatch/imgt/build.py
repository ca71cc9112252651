"""Build the integer nomenclature tables from the release, through py-ard (first use only).

Every name py-ard knows (full WHO names, truncated names, short nulls, G and P groups, serology, XX codes)
is reduced by py-ard itself at every level, W included (W gives a name's members), in parallel worker
processes, so ``hla reduce``/``expand`` answer as py-ard does; the names inside each answer's ``/`` list are
put in :func:`cordmatch.hla.reduction.ordered_names` order (py-ard leaves names it ranks equal in set order,
which changes with the hash seed), so two builds give the same bytes. WHO serologic assignments and antigen
relations come from the release's ``rel_dna_ser.txt`` and ``rel_ser_ser.txt`` (see cordmatch.hla.serology).
"""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cordmatch.errors import ReferenceDataError
from cordmatch.hla.loci import REDUCTION_LEVELS
from cordmatch.hla.names import shape_of
from cordmatch.hla.reduction import ordered_list
from cordmatch.hla.serology import (
    MATCH,
    MISMATCH,
    RELATED,
    SerologyRelations,
    antigen_relation,
    parse_rel_dna_ser,
    parse_rel_ser_ser,
)
from cordmatch.hla.tables import IntArray, NomenclatureTables, join_blob
from cordmatch.imgt.pyard_db import init_pyard, publish_db, redux
from cordmatch.imgt.release import release_dir

Progress = Callable[[str, int, int], None]
STORED_LEVELS = tuple(lv for lv in REDUCTION_LEVELS if lv != "W")
#: Revision of what a build writes with the same codes (``TABLES_FORMAT``): part of the cache file's name, so
#: bumping it rebuilds old caches without recoding registries. 2: ``/`` lists in a stable order. 3: py-ard
#: on private database copies (builds before could cache empty serology answers; see imgt.pyard_db).
BUILD_REVISION = 3


_worker_ard: Any = None


def _worker_init(work_dir: str, release: str) -> None:
    global _worker_ard
    _worker_ard = init_pyard(Path(work_dir), release)


def _worker_reduce(names: list[str]) -> list[list[str | None]]:
    """Each name at every stored level, then its W expansion (the full allele names it stands for)."""
    with contextlib.redirect_stdout(io.StringIO()):  # py-ard prints look-up errors to stdout
        return [[redux(_worker_ard, n, lv) for lv in (*STORED_LEVELS, "W")] for n in names]


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


def _release_lines(release: str, name: str) -> list[str]:
    return (release_dir(release) / name).read_text(encoding="utf-8", errors="replace").splitlines()


def _reduce_all(
    work_dir: Path, release: str, names: list[str], progress: Progress | None
) -> tuple[dict[str, npt.NDArray[np.int32]], dict[str, dict[str, int]], list[str | None]]:
    """py-ard's answer for every name at every stored level (coded), and its W expansion (text)."""
    texts: dict[str, dict[str, int]] = {lv: {} for lv in STORED_LEVELS}
    results = {lv: np.full(len(names), -1, dtype=np.int32) for lv in STORED_LEVELS}
    who: list[str | None] = [None] * len(names)
    chunk = 2000
    chunks = [names[k : k + chunk] for k in range(0, len(names), chunk)]
    workers = max(1, min(4, os.cpu_count() or 1))
    with ProcessPoolExecutor(workers, initializer=_worker_init, initargs=(str(work_dir), release)) as pool:
        for c, rows in enumerate(pool.map(_worker_reduce, chunks)):
            if progress:
                progress("reducing allele names with py-ard", c * chunk, len(names))
            for k, row in enumerate(rows):
                *levels, w = row
                for lv, text in zip(STORED_LEVELS, levels, strict=True):
                    if text is not None:
                        text = ordered_list(text)
                        results[lv][c * chunk + k] = texts[lv].setdefault(text, len(texts[lv]))
                who[c * chunk + k] = w
    if progress:
        progress("reducing allele names with py-ard", len(names), len(names))
    return results, texts, who


#: Answers every build must give (release 3.58.0's hla_nom_g.txt and rel_dna_ser.txt as py-ard reads them;
#: these assignments are long established and stable across releases): a build that disagrees is refused
#: rather than cached.
KNOWN_ANSWERS = (
    ("A*01:01:01:01", "S", "A1"),
    ("A*01:01:01:01", "G", "A*01:01:01G"),
    ("A*01:01:01:01", "lgx", "A*01:01"),
    ("A*02:01:01:01", "S", "A2"),
    ("B*07:02:01:01", "S", "B7"),
    ("DRB1*04:01:01:01", "S", "DR4"),
)


def check_known_answers(names: list[str], results: dict[str, IntArray], texts: dict[str, dict[str, int]]) -> None:
    """Raise when the coded answers disagree with :data:`KNOWN_ANSWERS` (a damaged py-ard database, say)."""
    index = {n: i for i, n in enumerate(names)}
    for name, level, expected in KNOWN_ANSWERS:
        i = index.get(name)
        rid = -1 if i is None else int(results[level][i])
        got = next((t for t, k in texts[level].items() if k == rid), None)
        if got != expected:
            raise ReferenceDataError(
                f"the nomenclature build gave {name} at level {level} as {got!r}, not {expected!r}; "
                "nothing was cached (py-ard's database may be damaged: delete the release's nomenclature "
                "directory under the data directory and try again)",
                where=name,
            )


#: Loci whose proteins without WHO serology are each their own unknown antigen (the loci the 6 count
#: grades); elsewhere the first field stands in, which keeps the relation table small (C has ~1,200
#: proteins without serology; DPB1 has none with any).
_PROTEIN_FALLBACK_LOCI = frozenset({"A", "B", "DRB1"})
#: Loci the vectorised grader codes (cordmatch.matching.coded.CODED_LOCI): XX codes get code ids there.
_CODED_LOCI = frozenset({"A", "B", "C", "DRB1"})


def _serology_codes(
    release: str,
    alleles: list[str],
    allele_lgx: IntArray,
    lgx_names: list[str],
    allele_null: npt.NDArray[np.bool_],
    relations: SerologyRelations,
) -> tuple[list[str], IntArray, IntArray]:
    """Serology id per allele, the id names, and the non-trivial relation pairs ``(x, y, relation)``.

    Serology is a property of the protein: an allele takes the assignment of its lgx group (P group at two
    fields), the firmest WHO column first (unambiguous, then possible, then assumed), the most frequent
    within that column; a group with none is its own unknown antigen (``C*16:06``), related to the antigens
    of its first field.
    """
    assigned = parse_rel_dna_ser(_release_lines(release, "rel_dna_ser.txt"))
    votes: dict[int, Counter[tuple[int, str]]] = {}
    for i, a in enumerate(alleles):
        got = assigned.get(a)
        if got is not None and not allele_null[i]:
            votes.setdefault(int(allele_lgx[i]), Counter())[(got[1], got[0])] += 1
    best: dict[int, str] = {}
    for lgx, counter in votes.items():
        firm = min(rank for rank, _ in counter)
        best[lgx] = max(((c, name) for (rank, name), c in counter.items() if rank == firm), key=lambda x: x[0])[1]
    names: dict[str, int] = {}
    allele_serology = np.empty(len(alleles), dtype=np.int32)
    family_names: dict[str, set[str]] = {}
    by_locus: dict[str, set[int]] = {}
    for i, a in enumerate(alleles):
        # without WHO serology the protein itself (its lgx, e.g. C*16:06) stands in; its family is the P
        # group's first field (DPB1*1529:01 is in DPB1*01:01P)
        protein = lgx_names[int(allele_lgx[i])].rstrip("NLSQCA")
        family = protein.split(":", 1)[0]
        # loci without WHO serology (DPB1, DQA1, ...): the first field, to keep the relation table small
        unknown = protein if family.split("*", 1)[0] in _PROTEIN_FALLBACK_LOCI else family
        sero = best.get(int(allele_lgx[i])) or unknown
        allele_serology[i] = names.setdefault(sero, len(names))
        if "*" not in sero:
            family_names.setdefault(family, set()).update(sero.split("/"))
        by_locus.setdefault(a.split("*", 1)[0], set()).add(int(allele_serology[i]))
    sero_list = list(names)
    pairs: list[tuple[int, int, int]] = []
    for ids in by_locus.values():  # antigens are compared within a locus only
        for x in ids:
            for y in ids:
                r = antigen_relation(sero_list[x], sero_list[y], relations, family_names)
                if r != (MATCH if x == y else MISMATCH):
                    pairs.append((x, y, r))
    return sero_list, allele_serology, np.array(pairs, dtype=np.int32).reshape(-1, 3)


def _antigen_sets(
    tokens: list[tuple[list[int], int]],
    alleles: list[str],
    allele_serology: IntArray,
    allele_null: npt.NDArray[np.bool_],
    sero_list: list[str],
    pairs: IntArray,
) -> tuple[list[str], list[list[int]], list[int], IntArray]:
    """Code ids for XX codes, so the vectorised grader codes such a position with one id: one per
    (antigens, first-field family) (``A*02:XX``: A2|A203|A210 of A*02). The relation of such an id to any
    id is the aggregate over its antigens (all same -> same; all different -> different; else related), as
    the exact grader compares positions. Serologic tokens with several antigens get none (graded exactly).

    ``tokens`` holds (antigen-level members, family id; -1 for serology). Returns (new names, their antigen ids,
    their family ids, the extended relation pairs)."""
    n = len(sero_list)
    real = np.full((n, n), MISMATCH, dtype=np.int8)
    np.fill_diagonal(real, MATCH)
    real[pairs[:, 0], pairs[:, 1]] = pairs[:, 2]
    sets: dict[tuple[tuple[int, ...], int], str] = {}
    for ids, family in tokens:
        expressed = sorted({int(allele_serology[i]) for i in ids if not allele_null[i]})
        locus = alleles[ids[0]].split("*", 1)[0] if ids else ""
        if expressed and family >= 0 and locus in _CODED_LOCI:
            sets.setdefault((tuple(expressed), family), locus)
    keys = list(sets)
    set_list = [k[0] for k in keys]
    out: list[tuple[int, int, int]] = []

    def agg(block: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
        """Per column: MATCH when every row is, MISMATCH when every row is, else RELATED."""
        return np.where((block == MATCH).all(0), MATCH, np.where((block == MISMATCH).all(0), MISMATCH, RELATED)).astype(
            np.int8
        )

    for k, members in enumerate(set_list):
        sid = n + k
        rel = agg(real[list(members), :])  # other loci are MISMATCH in ``real``
        for y in np.nonzero(rel != MISMATCH)[0].tolist():
            out.extend([(sid, y, int(rel[y])), (y, sid, int(rel[y]))])
        for j, other in enumerate(set_list):
            if sets[keys[j]] == sets[keys[k]]:
                r = int(agg(real[np.ix_(list(members), list(other))].reshape(-1, 1))[0])
                if r != (MATCH if j == k else MISMATCH):
                    out.append((sid, n + j, r))
    names = ["|".join(sero_list[i] for i in members) for members in set_list]
    extended = np.concatenate([pairs, np.array(out, dtype=np.int32).reshape(-1, 3)])
    return names, [list(m) for m in set_list], [k[1] for k in keys], extended


_EXPRESSION = "NLSQCA"  # expression suffixes of allele names


def _prefix_index(alleles: list[str]) -> dict[str, list[int]]:
    """Every truncation of every allele name -> its alleles (fallback when py-ard gives no W expansion)."""
    by_prefix: dict[str, list[int]] = {}
    for i, a in enumerate(alleles):
        locus, body = a.split("*", 1)
        fields = body.rstrip(_EXPRESSION).split(":")
        for k in range(1, len(fields)):
            by_prefix.setdefault(f"{locus}*{':'.join(fields[:k])}", []).append(i)
    return by_prefix


def _prefix_members(by_prefix: dict[str, list[int]], alleles: list[str], name: str) -> list[int]:
    """Alleles a truncated name stands for; a name with an expression suffix keeps that suffix only."""
    ids = by_prefix.get(name.rstrip(_EXPRESSION), [])
    suffix = name[-1] if name[-1] in _EXPRESSION else ""
    return [i for i in ids if alleles[i].endswith(suffix)] if suffix else ids


def _ids(allele_index: dict[str, int], slash_list: str, prefix: str = "") -> list[int]:
    """Allele ids of a ``/``-separated list of names (each with ``prefix``), unknown names skipped."""
    return [allele_index[f"{prefix}{x}"] for x in slash_list.split("/") if f"{prefix}{x}" in allele_index]


def _group_names(release: str, allele_index: dict[str, int]) -> list[tuple[str, list[int]]]:
    """G then P groups of the release, each with its alleles."""
    out: list[tuple[str, list[int]]] = []
    for file in ("hla_nom_g.txt", "hla_nom_p.txt"):
        for cols in (line.split(";") for line in _release_lines(release, file) if not line.startswith("#")):
            if len(cols) >= 3 and cols[2].strip():
                locus = cols[0].strip()
                out.append((f"{locus}{cols[2].strip()}", _ids(allele_index, cols[1], locus)))
    return out


class _NameList:
    """The names py-ard reduces, in order, each once, with a first guess of its alleles."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.guess: list[list[int]] = []
        self._seen: set[str] = set()

    def add(self, name: str, ids: list[int]) -> None:
        if name and name not in self._seen:
            self._seen.add(name)
            self.names.append(name)
            self.guess.append(ids)


def _collect_names(
    db: dict[str, list[tuple[str, str]]], release: str, alleles: list[str]
) -> tuple[_NameList, range, range]:
    """Every name: alleles, short nulls, expression variants, truncated names, G and P groups, serology and
    XX codes; with the range of the serology names and of the serology and XX names together."""
    allele_index = {a: i for i, a in enumerate(alleles)}
    by_prefix = _prefix_index(alleles)
    out = _NameList()
    for i, a in enumerate(alleles):
        out.add(a, [i])
    for table in ("shortnulls", "exp"):
        for a, lst in db[table]:
            out.add(a, _ids(allele_index, lst))
    for a, _ in db["alleles"]:
        out.add(a, [allele_index[a]] if a in allele_index else _prefix_members(by_prefix, alleles, a))
    for name, ids in _group_names(release, allele_index):
        out.add(name, ids)
    sero_start = len(out.names)
    for sero, lst in db["serology"]:
        out.add(sero, _ids(allele_index, lst))
    sero_end = len(out.names)
    for family, _ in db["xx"]:
        out.add(f"{family}:XX", by_prefix.get(family, []))
    return out, range(sero_start, sero_end), range(sero_start, len(out.names))


def _members(names: _NameList, who: list[str | None], alleles: list[str]) -> list[list[int]]:
    """Each name's alleles: py-ard's W expansion, else the first guess."""
    allele_index = {a: i for i, a in enumerate(alleles)}
    out: list[list[int]] = []
    for k in range(len(names.names)):
        w = who[k]
        out.append((_ids(allele_index, w) if w else []) or names.guess[k])
    return out


def _grading_members(
    release: str, names: list[str], members: list[list[int]], alleles: list[str], cwd: set[str], low: range, sero: range
) -> tuple[list[list[int]], list[list[int]]]:
    """Grading members of low-resolution tokens (docs/adr/0002): a serologic antigen covers its splits' and
    associated antigens' alleles (A2 -> A203, A210). At antigen level only, serology and XX codes stand for
    their common and well-documented alleles (CWD 2.0) when any carries the name; the allele level keeps
    every allele (a rare allele is never assumed away). Empty = the token's own members."""
    relations = parse_rel_ser_ser(_release_lines(release, "rel_ser_ser.txt"))
    name_pos = {n: k for k, n in enumerate(names)}
    grading: list[list[int]] = [[] for _ in names]
    antigen_level: list[list[int]] = [[] for _ in names]
    for k in low:
        ids = list(members[k])
        if k in sero:
            related = (name_pos.get(other) for other in relations.covered(names[k])[1:])
            ids = list(dict.fromkeys(ids + [i for j in related if j is not None for i in members[j]]))
        if ids != members[k]:
            grading[k] = ids
        common = [i for i in ids if _two_field(alleles[i]) in cwd]
        if common and common != ids:
            antigen_level[k] = common
    return grading, antigen_level


@dataclass
class _AlleleCodes:
    """Per allele: lgx id (allele match), first-field family id, null and CWD flags; the id names."""

    lgx: IntArray
    antigen: IntArray
    null: npt.NDArray[np.bool_]
    cwd: npt.NDArray[np.bool_]
    lgx_names: dict[str, int]
    antigen_names: dict[str, int]


def _allele_codes(alleles: list[str], lgx_result: Any, lgx_text: list[str], cwd: set[str]) -> _AlleleCodes:
    n = len(alleles)
    codes = _AlleleCodes(
        np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32), np.zeros(n, dtype=np.bool_),
        np.zeros(n, dtype=np.bool_), {}, {},
    )  # fmt: skip
    for i, a in enumerate(alleles):
        shape = shape_of(a)
        rid = int(lgx_result[i])
        lgx = lgx_text[rid] if rid >= 0 else f"{shape.locus}*{':'.join(shape.fields[:2])}{shape.suffix}"
        codes.lgx[i] = codes.lgx_names.setdefault(lgx, len(codes.lgx_names))
        codes.antigen[i] = codes.antigen_names.setdefault(shape.family, len(codes.antigen_names))
        codes.null[i] = shape.suffix == "N"
        codes.cwd[i] = _two_field(a) in cwd
    return codes


def _flat(lists: list[list[int]]) -> tuple[npt.NDArray[np.int64], IntArray]:
    """Ragged lists as (offsets, values)."""
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(m) for m in lists])
    values = np.fromiter((x for m in lists for x in m), dtype=np.int32, count=int(offsets[-1]))
    return offsets, values


def build_tables(work_dir: Path, release: str, progress: Progress | None = None) -> NomenclatureTables:
    """Run py-ard over the release's names (alleles, groups, serology, XX) and code the answers as arrays."""
    db = _read_pyard_db(publish_db(work_dir, release))  # py-ard's own database, built once
    cwd = {a for a, _ in db["cwd"]}
    alleles = list(dict.fromkeys(a for a, _ in db["who"]))
    name_list, sero, low = _collect_names(db, release, alleles)
    names = name_list.names
    results, texts, who = _reduce_all(work_dir, release, names, progress)
    check_known_answers(names, results, texts)
    members = _members(name_list, who, alleles)
    grading, antigen_level = _grading_members(release, names, members, alleles, cwd, low, sero)
    codes = _allele_codes(alleles, results["lgx"], list(texts["lgx"]), cwd)
    rel_ser_ser = _release_lines(release, "rel_ser_ser.txt")
    sero_list, allele_serology, rel_pairs = _serology_codes(
        release, alleles, codes.lgx, list(codes.lgx_names), codes.null, parse_rel_ser_ser(rel_ser_ser)
    )
    low_res = [
        (antigen_level[k] or grading[k] or members[k], -1 if k in sero else codes.antigen_names.get(names[k][:-3], -1))
        for k in low
    ]
    set_names, set_members, set_family, rel_pairs = _antigen_sets(
        low_res, alleles, allele_serology, codes.null, sero_list, rel_pairs
    )
    antigen_list = list(codes.antigen_names)
    offsets, flat_members = _flat(members)
    g_offsets, g_members = _flat(grading)
    a_offsets, a_members = _flat(antigen_level)
    return NomenclatureTables(
        release=release,
        alleles=alleles,
        allele_lgx=codes.lgx,
        lgx_names=list(codes.lgx_names),
        allele_antigen=codes.antigen,
        antigen_names=antigen_list,
        allele_null=codes.null,
        names=names,
        member_offsets=offsets,
        members=flat_members,
        level_results=results,
        level_blobs={lv: join_blob(list(texts[lv])) for lv in STORED_LEVELS},
        allele_serology=allele_serology,
        serology_names=sero_list
        + [f"{nm} ({antigen_list[f]})" if f >= 0 else nm for nm, f in zip(set_names, set_family, strict=True)],
        serology_pairs=rel_pairs,
        serology_real=len(sero_list),
        serology_sets=set_members,
        serology_set_family=np.array(set_family, dtype=np.int32),
        lgx_family=np.array(
            [codes.antigen_names.get(nm.split(":", 1)[0], -1) for nm in codes.lgx_names], dtype=np.int32
        ),
        allele_cwd=codes.cwd,
        grade_offsets=g_offsets,
        grade_members=g_members,
        antigen_offsets=a_offsets,
        antigen_members=a_members,
        rel_ser_ser=[ln for ln in rel_ser_ser if ln and not ln.startswith("#")],
    )
