"""Haplotype frequency sets as text: parse and validate the CSV lines and the hfx metadata (no I/O).

A set is a CSV with a header line and one haplotype per line, e.g.::

    Haplo,Count,Freq
    A*01:01~C*07:01~B*08:01~DRB1*03:01~DQB1*02:01,702.1,0.05497

The haplotype column holds ``~``-joined allele names, one per locus, in the order of :data:`LOCI`; a
trailing ``g`` (two-field "g" group) is stripped. The frequency column holds a number in [0, 1].
Column names come from the hfx metadata (``frequencyFileHeader``) or are recognised
(``Haplo``/``haplotype``, ``Freq``/``frequency``).

Validation (each problem names the source, the line and the field):

- a frequency that is not a number, is negative, NaN or above 1: error;
- a haplotype with the wrong number of loci, a locus out of order or an empty allele: error;
- the same haplotype twice: error;
- frequencies that do not sum to about 1: ``|sum - 1| <= SUM_SILENT`` is accepted silently,
  ``<= SUM_TOLERANCE`` is accepted with a warning, beyond is an error. The set is always
  renormalised to sum to 1 afterwards (the NMDP 2007 sets sum to 0.996-1.004 after rounding).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from cordmatch.errors import InvalidInputError

#: Loci of the NMDP 2007 sets, in haplotype order.
LOCI: Final = ("A", "C", "B", "DRB1", "DQB1")

#: Sums within this distance of 1 are accepted without a warning.
SUM_SILENT: Final = 0.01
#: Sums within this distance of 1 are accepted with a warning; beyond, the file is rejected.
SUM_TOLERANCE: Final = 0.05

_HAPLOTYPE_HEADERS: Final = ("haplo", "haplotype", "haplotypes")
_FREQUENCY_HEADERS: Final = ("freq", "frequency", "frequencies")


class FrequencyFileError(InvalidInputError):
    """A haplotype frequency file or its metadata that cannot be used (names the line and field)."""


@dataclass(frozen=True)
class FrequencyMetadata:
    """What cordmatch uses from an hfx metadata document."""

    population: str
    nomenclature_version: str | None = None
    cohort_size: float | None = None
    haplotype_field: str | None = None
    frequency_field: str | None = None
    count_field: str | None = None
    frequency_location: str | None = None
    loci: tuple[str, ...] = ()
    doi: str | None = None


@dataclass
class ParsedFrequencies:
    """Haplotypes (allele names per locus, as written) and their frequencies, in file order."""

    source: str
    loci: tuple[str, ...]
    haplotypes: list[tuple[str, ...]]
    frequencies: list[float]
    lines: list[int]
    total: float
    warnings: list[str] = field(default_factory=list)


def parse_metadata(text: str, *, source: str = "metadata") -> FrequencyMetadata:
    """Read an hfx metadata JSON document (the parts cordmatch needs)."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FrequencyFileError(
            f"metadata is not valid JSON: {exc.msg}", where=f"{source}:{exc.lineno}:{exc.colno}"
        ) from None
    meta = doc.get("metadata", doc) if isinstance(doc, dict) else None
    if not isinstance(meta, dict):
        raise FrequencyFileError("metadata must be a JSON object with a 'metadata' member", where=source)
    cohort = _obj(meta.get("cohortDescription"))
    pops = cohort.get("population") or []
    name = pops[0].get("name") if isinstance(pops, list) and pops and isinstance(pops[0], dict) else None
    if not isinstance(name, str) or not name.strip():
        raise FrequencyFileError(
            "metadata names no population", where=f"{source}: cohortDescription.population[0].name"
        )
    header = _obj(meta.get("frequencyFileHeader"))
    nom = _obj(meta.get("nomenclatureUsed"))
    res = meta.get("outputResolution") or []
    loci = tuple(str(r["locus"]) for r in res if isinstance(r, dict) and "locus" in r)
    pub = _obj(_obj(meta.get("producer")).get("publication"))
    size = cohort.get("cohortSize")
    return FrequencyMetadata(
        population=name.strip(),
        nomenclature_version=_str_or_none(nom.get("version")),
        cohort_size=float(size) if isinstance(size, int | float) else None,
        haplotype_field=_str_or_none(header.get("haplotype")),
        frequency_field=_str_or_none(header.get("frequency")),
        count_field=_str_or_none(header.get("count")),
        frequency_location=_str_or_none(meta.get("frequencyLocation")),
        loci=loci,
        doi=_str_or_none(pub.get("doi")),
    )


def parse_frequency_lines(
    lines: Iterable[str],
    *,
    source: str = "frequencies",
    loci: Sequence[str] = LOCI,
    haplotype_field: str | None = None,
    frequency_field: str | None = None,
    sum_tolerance: float = SUM_TOLERANCE,
) -> ParsedFrequencies:
    """Parse and validate the lines of a frequency CSV (header first). Raises FrequencyFileError."""
    reader = csv.reader(iter(lines))
    try:
        header = next(reader)
    except StopIteration:
        raise FrequencyFileError("the file is empty (no header line)", where=f"{source}:1") from None
    cols = [h.strip() for h in header]
    h_col = _find_column(cols, haplotype_field, _HAPLOTYPE_HEADERS, source, "haplotype")
    f_col = _find_column(cols, frequency_field, _FREQUENCY_HEADERS, source, "frequency")
    h_name, f_name = cols[h_col], cols[f_col]
    loci_t = tuple(loci)
    haplotypes: list[tuple[str, ...]] = []
    freqs: list[float] = []
    line_nos: list[int] = []
    seen: dict[tuple[str, ...], int] = {}
    for row in reader:
        line_no = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(cols):
            raise FrequencyFileError(
                f"expected {len(cols)} fields ({', '.join(cols)}), found {len(row)}",
                where=f"{source}:{line_no}",
            )
        hap = _parse_haplotype(row[h_col], loci_t, where=f"{source}:{line_no} field {h_name}")
        freq = _parse_frequency(row[f_col], where=f"{source}:{line_no} field {f_name}")
        if hap in seen:
            raise FrequencyFileError(
                f"haplotype {'~'.join(hap)} listed twice (first on line {seen[hap]})",
                where=f"{source}:{line_no} field {h_name}",
            )
        seen[hap] = line_no
        haplotypes.append(hap)
        freqs.append(freq)
        line_nos.append(line_no)
    if not haplotypes:
        raise FrequencyFileError("the file holds no haplotypes", where=source)
    total = math.fsum(freqs)
    warnings: list[str] = []
    gap = abs(total - 1.0)
    if gap > sum_tolerance:
        raise FrequencyFileError(
            f"frequencies sum to {total:.6g}, more than {sum_tolerance:g} away from 1",
            where=f"{source} field {f_name}",
        )
    if gap > SUM_SILENT:
        warnings.append(f"{source}: frequencies sum to {total:.6g}; renormalised to 1")
    return ParsedFrequencies(source, loci_t, haplotypes, freqs, line_nos, total, warnings)


def _find_column(cols: list[str], wanted: str | None, known: tuple[str, ...], source: str, what: str) -> int:
    lowered = [c.lower() for c in cols]
    if wanted is not None:
        if wanted in cols:
            return cols.index(wanted)
        if wanted.lower() in lowered:
            return lowered.index(wanted.lower())
        raise FrequencyFileError(
            f"header has no {what} column {wanted!r} (columns: {', '.join(cols)})", where=f"{source}:1"
        )
    for name in known:
        if name in lowered:
            return lowered.index(name)
    raise FrequencyFileError(
        f"header has no {what} column (expected one of {', '.join(known)}; found {', '.join(cols)})",
        where=f"{source}:1",
    )


def _parse_haplotype(text: str, loci: tuple[str, ...], *, where: str) -> tuple[str, ...]:
    parts = [p.strip() for p in text.strip().split("~")]
    if len(parts) != len(loci):
        raise FrequencyFileError(
            f"haplotype {text.strip()!r} has {len(parts)} loci, expected {len(loci)} ({'~'.join(loci)})",
            where=where,
        )
    out: list[str] = []
    for part, locus in zip(parts, loci, strict=True):
        name = part[len("HLA-") :] if part.upper().startswith("HLA-") else part
        if "*" not in name:
            raise FrequencyFileError(f"{part!r} is not an allele name (LOCUS*FIELDS)", where=where)
        loc, _, fields = name.partition("*")
        if loc.upper() != locus.upper():
            raise FrequencyFileError(
                f"allele {part!r} is at locus {loc}, expected {locus} in this position", where=where
            )
        if fields.endswith("g"):
            fields = fields[:-1]
        if not fields:
            raise FrequencyFileError(f"allele {part!r} has no fields", where=where)
        out.append(f"{locus}*{fields}")
    return tuple(out)


def _parse_frequency(text: str, *, where: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise FrequencyFileError(f"frequency {text.strip()!r} is not a number", where=where) from None
    if math.isnan(value) or value < 0.0 or value > 1.0:
        raise FrequencyFileError(f"frequency {text.strip()} is outside [0, 1]", where=where)
    return value


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
