"""Unit records (strings, dates) to index columns: parse and code each typing once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.hla.typing import HlaTyping, Position, parse_typing
from cordmatch.matching.coded import CODED_LOCI, code_typing, position_code
from cordmatch.selection.columns import fact_columns, raw_from_records
from cordmatch.selection.index import I16, UnitColumns, UnitIndex
from cordmatch.selection.model import UnitRecord


@lru_cache(maxsize=65536)
def _token_antigens(tok: str, tables: NomenclatureTables) -> frozenset[int]:
    members = np.asarray(tables.member_ids(tok), dtype=np.int64)
    expressed = members[~tables.allele_null[members]]
    return frozenset(int(a) for a in np.unique(tables.allele_serology[expressed]))  # WHO antigen codes


def nima_antigens(gl: str, tables: NomenclatureTables) -> frozenset[int]:
    """Antigen ids of a NIMA typing (e.g. ``A*02:01^B*44:02^DRB1*04:01`` or ``A2^B44^DR4``)."""
    ids: set[int] = set()
    for part in gl.replace("+", "^").split("^"):
        for tok in part.split("/"):
            tok = tok.strip()
            if tok:
                ids |= _token_antigens(tok, tables)
    return frozenset(ids)


MAX_ALTERNATIVE_ROWS = 64
#: loci beyond A, B, C, DRB1 whose typing the virtual crossmatch reads (kept per unit when typed)
CROSSMATCH_LOCI = frozenset({"DRB3", "DRB4", "DRB5", "DQB1", "DQA1", "DPB1", "DPA1"})


_Alternative = tuple[tuple[int, ...], tuple[int, ...]]  # (antigen codes, allele codes) of one locus genotype
_NOT_TYPED: _Alternative = ((-1, -1), (-1, -1))


#: per position (by :func:`_position_key`): (is null, code or None)
_PositionCodes = dict[object, tuple[bool, tuple[int, int] | None]]


def _position_key(p: Position) -> tuple[object, ...]:
    """What the coding of a position depends on (its tables are those of the whole call)."""
    return p.tokens, p.alleles, p.antigen_alleles


def _position(p: Position, cache: _PositionCodes) -> tuple[bool, tuple[int, int] | None]:
    key = _position_key(p)
    if key not in cache:
        cache[key] = (p.is_null, None if p.is_null else position_code(p))
    return cache[key]


def _genotype_code(p1: Position, p2: Position, cache: _PositionCodes) -> _Alternative | None:
    """One genotype of a locus coded as :func:`code_typing` codes it (a null position shows the other one);
    None when both are null or a position spans antigens. ``cache``: positions already coded."""
    (null1, code1), (null2, code2) = _position(p1, cache), _position(p2, cache)
    if null1 and null2:
        return None
    shown = (code2, code2) if null1 else (code1, code1) if null2 else (code1, code2)
    if shown[0] is None or shown[1] is None:
        return None
    return (shown[0][0], shown[1][0]), (shown[0][1], shown[1][1])


def _locus_alternatives(typing: HlaTyping, locus: str, cache: _PositionCodes) -> list[_Alternative] | None:
    """Every genotype alternative of one locus, coded; the not-typed code when the locus is absent.
    ``cache``: positions already coded."""
    lt = typing.loci.get(locus)
    if lt is None:
        return [_NOT_TYPED]
    alts: list[_Alternative] = []
    for p1, p2 in lt.alternatives:
        code = _genotype_code(p1, p2, cache)
        if code is None:
            return None
        alts.append(code)
    return alts


def alternative_codes(
    typing: HlaTyping, limit: int = MAX_ALTERNATIVE_ROWS, cache: _PositionCodes | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Genotype alternatives of an ambiguous typing as coded rows (k, 4, 2), the product over loci; None when
    a position spans antigens or the product exceeds ``limit`` (then the unit is graded by ``grade``).
    ``cache``: positions coded by earlier calls on typings of the same tables."""
    per_locus: list[list[_Alternative]] = []
    positions: _PositionCodes = {} if cache is None else cache
    for locus in CODED_LOCI:
        alts = _locus_alternatives(typing, locus, positions)
        if alts is None:
            return None
        per_locus.append(alts)
    rows: list[list[_Alternative]] = [[]]
    for alts in per_locus:
        rows = [[*r, a] for r in rows for a in alts]
        if len(rows) > limit:
            return None
    ag_rows = np.array([[a[0] for a in r] for r in rows], dtype=np.int16)
    al_rows = np.array([[a[1] for a in r] for r in rows], dtype=np.int16)
    return ag_rows, al_rows


_LOCUS_ROW = {locus: i for i, locus in enumerate(CODED_LOCI)}


#: keys of ``part_cache`` holding the locus parts met so far (raw text -> row of the table) and that table:
#: per part (locus row, antigen id x 2, allele id x 2), locus row -1 when the part is not codable alone
_PART_ROWS = "\x02rows"
_PART_TABLE = "\x02table"
#: key of ``part_cache`` holding the positions of ambiguous typings coded so far
_POSITIONS = "\x02positions"


def _part_row(raw: str, tables: NomenclatureTables, cache: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """The table row of one raw locus part (a phased part is never coded alone: its unit is parsed whole)."""
    part = raw.strip()
    if "~" in part:
        return (-1, -1, -1, -1, -1)
    if part not in cache:
        cache[part] = _code_part(part, tables, cache)
    coded: _PartCode | None = cache[part]
    if coded is None:
        return (-1, -1, -1, -1, -1)
    row, (ag1, ag2), (al1, al2) = coded
    return row, ag1, ag2, al1, al2


def _part_table(
    parts: Sequence[str], tables: NomenclatureTables, cache: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """(row of each part in the table, the table (m, 5) int16), coding each distinct part once."""
    index: dict[str, int] = cache.setdefault(_PART_ROWS, {})
    rows: list[tuple[int, int, int, int, int]] = cache.setdefault(_PART_TABLE, [])
    for raw in set(parts).difference(index):
        index[raw] = len(rows)
        rows.append(_part_row(raw, tables, cache))
    ids = np.fromiter(map(index.__getitem__, parts), dtype=np.intp, count=len(parts))
    return ids, np.array(rows, dtype=np.int16).reshape(-1, 5)


def fast_codes(gls: Sequence[str], tables: NomenclatureTables, cache: dict[str, Any]) -> tuple[np.ndarray, I16, I16]:
    """Codes of unphased GL strings assembled from their per-locus parts (each distinct part coded once):
    (codable mask (n,), antigen ids (n, 4, 2), allele ids (n, 4, 2)). A string is not codable here when a part
    is phased, outside A, B, C, DRB1, repeated, or not codable alone (the caller parses it whole, which also
    reports errors)."""
    n = len(gls)
    if n == 0:
        return np.zeros(0, dtype=np.bool_), np.full((0, 4, 2), -1, dtype=np.int16), np.full((0, 4, 2), -1, np.int16)
    parts = "^".join(gls).split("^")  # each string gives count("^") + 1 parts, in order
    per_unit = np.fromiter((g.count("^") + 1 for g in gls), dtype=np.intp, count=n)
    unit_of = np.repeat(np.arange(n), per_unit)
    ids, table = _part_table(parts, tables, cache)
    hit = table[ids]
    locus = hit[:, 0].astype(np.intp)
    good = locus >= 0
    ok = np.ones(n, dtype=np.bool_)
    ok[unit_of[~good]] = False
    seen = np.bincount(unit_of[good] * 4 + locus[good], minlength=4 * n)
    ok[np.flatnonzero(seen > 1) // 4] = False  # a locus given twice
    use = good & ok[unit_of]
    ag = np.full((n, 4, 2), -1, dtype=np.int16)
    al = np.full((n, 4, 2), -1, dtype=np.int16)
    u, li = unit_of[use], locus[use]
    ag[u, li] = hit[use, 1:3]
    al[u, li] = hit[use, 3:5]
    return ok, ag, al


#: (locus row, (antigen id, antigen id), (allele id, allele id)) of one locus part
_PartCode = tuple[int, tuple[int, int], tuple[int, int]]


def _code_part(part: str, tables: NomenclatureTables, cache: dict[str, Any] | None = None) -> _PartCode | None:
    """Codes of one locus part. ``T1+T2`` (no phase, no genotype list) is assembled from its positions, each
    coded once (the coding of a position does not depend on the other one unless a position is null, which
    the position cache refuses); anything else is parsed whole."""
    toks = part.split("+")
    if cache is not None and len(toks) == 2 and "|" not in part and "~" not in part:
        first = _code_position(toks[0].strip(), tables, cache)
        second = _code_position(toks[1].strip(), tables, cache)
        if first is not None and second is not None and first[0] == second[0]:
            return first[0], (first[1], second[1]), (first[2], second[2])
    whole = _parse_part(part, tables)
    if whole is None:
        return None
    row, ag, al = whole
    return row, (int(ag[0]), int(ag[1])), (int(al[0]), int(al[1]))


def _code_position(tok: str, tables: NomenclatureTables, cache: dict[str, Any]) -> tuple[int, int, int] | None:
    """(locus row, antigen id, allele id) of one position, from the homozygous part ``T+T``; None when not
    codable (null allele, several antigens) or not parseable."""
    key = "\x00" + tok
    if key not in cache:
        hit = _parse_part(f"{tok}+{tok}", tables) if tok else None
        cache[key] = None if hit is None else (hit[0], int(hit[1][0]), int(hit[2][0]))
    found: tuple[int, int, int] | None = cache[key]
    return found


def _parse_part(part: str, tables: NomenclatureTables) -> tuple[int, np.ndarray, np.ndarray] | None:
    try:
        t = parse_typing(part, tables)
    except InvalidInputError:
        return None
    if len(t.loci) != 1:
        return None
    row = _LOCUS_ROW.get(next(iter(t.loci)))
    coded = code_typing(t)
    if row is None or coded is None:
        return None
    return row, coded[0][row].copy(), coded[1][row].copy()


@dataclass
class CodedGls:
    """HLA codes of many GL strings: ``ag``/``al`` (n, 4, 2); ``exact[i]`` when string i is not codable (then
    its parsed typing is ``typings[i]`` and its genotype alternatives, coded, ``alternatives[i]``);
    ``extra_hla[i]``: the string, when it types loci beyond A, B, C, DRB1 that the crossmatch reads."""

    ag: I16
    al: I16
    exact: np.ndarray
    typings: list[HlaTyping | None]
    alternatives: list[tuple[np.ndarray, np.ndarray] | None]
    extra_hla: list[str | None]


def code_gls(
    gls: Sequence[str], unit_ids: Sequence[str], tables: NomenclatureTables, part_cache: dict[str, Any] | None = None
) -> CodedGls:
    """Parse and code GL strings: each distinct locus part once, then each distinct string not codable that
    way once. A string that does not parse is an error naming its unit (``unit_ids[i]``). ``part_cache``: codes
    of locus parts and positions, shared between calls on the same tables."""
    n = len(gls)
    locus_cache: dict[str, Any] = {} if part_cache is None else part_cache
    fast, ag, al = fast_codes(gls, tables, locus_cache)
    out = CodedGls(ag, al, np.zeros(n, dtype=np.bool_), [None] * n, [None] * n, [None] * n)
    cache: dict[str, tuple[HlaTyping, tuple[np.ndarray, np.ndarray] | None]] = {}
    for i in np.flatnonzero(~fast).tolist():
        gl = gls[i]
        if gl not in cache:
            try:
                t = parse_typing(gl, tables)
            except InvalidInputError as exc:
                raise InvalidInputError(f"unit {unit_ids[i]}: {exc.message}", where=exc.where) from None
            cache[gl] = (t, code_typing(t))
        t, coded = cache[gl]
        if not CROSSMATCH_LOCI.isdisjoint(t.loci):
            out.extra_hla[i] = gl
        if coded is None:
            out.exact[i] = True
            out.typings[i] = t
            out.alternatives[i] = alternative_codes(t, cache=locus_cache.setdefault(_POSITIONS, {}))
        else:
            out.ag[i], out.al[i] = coded
    return out


def columns_from_records(
    records: Sequence[UnitRecord],
    tables: NomenclatureTables,
    part_cache: dict[str, Any] | None = None,
) -> tuple[UnitColumns, list[HlaTyping | None]]:
    """Index columns of records; typings that are not codable are returned for the exact side list.
    ``part_cache``: codes of locus parts and positions, shared between calls on the same tables."""
    raw = raw_from_records(records)
    coded = code_gls(raw.gl, raw.din, tables, part_cache)
    tnc, cd34, flags, collected = fact_columns(raw)
    cols = UnitColumns(
        unit_id=raw.din,
        ag=coded.ag,
        al=coded.al,
        tnc=tnc,
        cd34=cd34,
        flags=flags,
        collected=collected,
        exact=coded.exact,
        alternatives=coded.alternatives,
        extra_hla=coded.extra_hla,
    )
    return cols, coded.typings


def add_records(index: UnitIndex, records: Sequence[UnitRecord], tables: NomenclatureTables) -> np.ndarray:
    """Parse, code and add records to the index (with their NIMA); returns the slots."""
    cols, typings = columns_from_records(records, tables)
    slots = index.add(cols, typings)
    with_nima = [(int(s), nima_antigens(r.nima, tables)) for r, s in zip(records, slots, strict=True) if r.nima]
    index.set_nima([s for s, _ in with_nima], [a for _, a in with_nima])
    return slots


def build_index(records: Sequence[UnitRecord], tables: NomenclatureTables) -> UnitIndex:
    index = UnitIndex(release=tables.release, capacity=max(16, len(records)))
    add_records(index, records, tables)
    return index
