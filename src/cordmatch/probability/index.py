"""The precomputed haplotype index: frequency sets mapped to the current release, as integer arrays.

Every haplotype is a row of *allele codes*, one per locus: ``code = 2 * lgx_id + null`` where ``lgx_id``
is the current release's lgx (P group at two fields) id and ``null`` is 1 for a null (not expressed)
allele. Frequency sets named in an old release (NMDP 2007: IPD-IMGT/HLA 2.16.0, two fields within "g"
groups) are mapped name by name through the nomenclature tables: the name's own allele (its first member
in release order) gives the lgx. Names the release does not know are reported and the haplotypes that
carry them dropped; haplotypes that map to the same current codes are collapsed (frequencies summed).
Each population's column is renormalised to sum to 1.

Antigen level: each lgx protein has its WHO serologic antigen (``tables.allele_serology``, the same
assignment grading uses, docs/adr/0002-grading-semantics.md), coded compactly in ``lgx_antigen``, and
``antigen_relation[x, y]`` is the WHO relation of two such antigens (0 same antigen or associated vs
parent, 1 related through a broad: cannot tell, 2 different antigens).

Several populations share one index (the union of their haplotypes; a haplotype absent from a
population has frequency 0 there), so mixtures need no second coding. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cordmatch.errors import InvalidInputError, NotFoundError
from cordmatch.hla.tables import NomenclatureTables, join_blob, split_blob
from cordmatch.probability.frequencies import ParsedFrequencies
from cordmatch.sourced import plain_dict

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]
Int8Array = npt.NDArray[np.int8]

#: Format of a serialised index; bump when the layout changes so caches are rebuilt.
#: 2: ``lgx_antigen`` holds WHO serologic antigens and their relation (was the first field).
INDEX_FORMAT = 2


class UnknownPopulationError(NotFoundError):
    """A population that no loaded frequency set provides."""


@dataclass
class MappingReport:
    """What mapping a set's names to the current release did, per population."""

    population: str
    haplotypes_read: int
    haplotypes_kept: int
    unknown_names: list[str] = field(default_factory=list)
    dropped_haplotypes: int = 0
    dropped_frequency: float = 0.0
    renamed: dict[str, str] = field(default_factory=dict)
    ambiguous: dict[str, list[str]] = field(default_factory=dict)
    collapsed_haplotypes: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return plain_dict(self)


@dataclass(eq=False)
class HaplotypeIndex:
    """Haplotypes as allele codes (n, loci) and their frequency in each population (n, populations)."""

    release: str
    loci: tuple[str, ...]
    populations: tuple[str, ...]
    codes: IntArray
    frequencies: FloatArray
    #: lgx id -> antigen id (its WHO serologic antigen, coded compactly), over the release's lgx list.
    lgx_antigen: IntArray
    lgx_names: list[str]
    #: Names of the antigen ids (``B62``, ``A203``, ``B15/B70``; ``B*83:01`` for a protein without serology).
    antigen_names: list[str]
    #: antigen_relation[x, y]: 0 same antigen, 1 related through a broad (cannot tell), 2 different.
    antigen_relation: Int8Array
    reports: dict[str, MappingReport] = field(default_factory=dict)
    checksum: str = ""

    @property
    def size(self) -> int:
        return int(self.codes.shape[0])

    def population_weights(self, population: str | Mapping[str, float]) -> FloatArray:
        """Weights over :attr:`populations` for a population name or a mix {name: weight}."""
        mix = {population: 1.0} if isinstance(population, str) else dict(population)
        if not mix:
            raise InvalidInputError("an empty population mix", where="population")
        w = np.zeros(len(self.populations))
        for name, weight in mix.items():
            key = name.strip().upper()
            found = [i for i, p in enumerate(self.populations) if p.upper() == key]
            if not found:
                raise UnknownPopulationError(
                    f"unknown population {name!r}; known: {', '.join(self.populations)}", where=name
                )
            if not weight >= 0.0 or not np.isfinite(weight):
                raise InvalidInputError(f"population weight {weight!r} must be a finite number >= 0", where=name)
            w[found[0]] += weight
        if w.sum() <= 0:
            raise InvalidInputError("population weights sum to 0", where="population")
        out: FloatArray = w / w.sum()
        return out

    def code_name(self, code: int) -> str:
        """Allele name of a code (lgx name; a null allele shows its lgx name with the suffix N)."""
        name = self.lgx_names[code >> 1]
        return name if not (code & 1) or name.endswith("N") else f"{name}N"

    def haplotype_names(self, row: int) -> str:
        return "~".join(self.code_name(int(c)) for c in self.codes[row])

    def to_arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """Everything needed to rebuild the index, as numpy arrays (for ``np.savez``)."""
        import json

        meta = json.dumps(
            {
                "format": INDEX_FORMAT,
                "release": self.release,
                "loci": list(self.loci),
                "populations": list(self.populations),
                "checksum": self.checksum,
                "reports": {k: v.to_dict() for k, v in self.reports.items()},
            }
        )
        return {
            "meta": np.frombuffer(meta.encode("utf-8"), dtype=np.uint8).copy(),
            "codes": self.codes,
            "frequencies": self.frequencies,
            "lgx_antigen": self.lgx_antigen,
            "lgx_names": join_blob(self.lgx_names),
            "antigen_names": join_blob(self.antigen_names),
            "antigen_pairs": relation_pairs(self.antigen_relation),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[np.generic]]) -> HaplotypeIndex:
        import json

        meta = json.loads(arrays["meta"].astype(np.uint8).tobytes().decode("utf-8"))
        if meta.get("format") != INDEX_FORMAT:
            raise ValueError(f"haplotype index format {meta.get('format')} != {INDEX_FORMAT}")
        reports = {k: MappingReport(**v) for k, v in meta["reports"].items()}
        antigen_names = split_blob(arrays["antigen_names"].astype(np.uint8))
        return cls(
            release=meta["release"],
            loci=tuple(meta["loci"]),
            populations=tuple(meta["populations"]),
            codes=arrays["codes"].astype(np.int32),
            frequencies=arrays["frequencies"].astype(np.float64),
            lgx_antigen=arrays["lgx_antigen"].astype(np.int32),
            lgx_names=split_blob(arrays["lgx_names"].astype(np.uint8)),
            antigen_names=antigen_names,
            antigen_relation=relation_matrix(len(antigen_names), arrays["antigen_pairs"].astype(np.int32)),
            reports=reports,
            checksum=str(meta.get("checksum", "")),
        )


def relation_pairs(relation: Int8Array) -> IntArray:
    """The entries of a relation matrix that differ from "same id: 0, different ids: 2", as (x, y, r) rows."""
    k = relation.shape[0]
    trivial = np.full((k, k), 2, dtype=np.int8)
    np.fill_diagonal(trivial, 0)
    x, y = np.nonzero(relation != trivial)
    return np.stack([x, y, relation[x, y]], axis=1).astype(np.int32).reshape(-1, 3)


def relation_matrix(k: int, pairs: IntArray) -> Int8Array:
    """Rebuild a (k, k) relation matrix from :func:`relation_pairs`."""
    rel = np.full((k, k), 2, dtype=np.int8)
    np.fill_diagonal(rel, 0)
    p = pairs.reshape(-1, 3)
    rel[p[:, 0], p[:, 1]] = p[:, 2]
    return rel


def lgx_antigen_table(tables: NomenclatureTables) -> tuple[IntArray, list[str], Int8Array]:
    """lgx id -> compact antigen id (the WHO serologic antigen of its protein, as grading assigns it), the
    antigen names and their WHO relation (``tables.serology_relation`` restricted to those antigens).

    An lgx group's expressed alleles share one serology id (the tables assign serology per protein); a
    group with null alleles only takes its first allele's id (null positions are never compared).
    """
    sero = np.full(len(tables.lgx_names), -1, dtype=np.int64)
    expressed = np.nonzero(~tables.allele_null)[0][::-1]
    nulls = np.nonzero(tables.allele_null)[0][::-1]
    for rows in (nulls, expressed):  # expressed alleles written last: they win
        sero[tables.allele_lgx[rows]] = tables.allele_serology[rows]
    if (sero < 0).any():
        raise ValueError(f"{int((sero < 0).sum())} lgx group(s) without an allele in the release")
    used, compact = np.unique(sero, return_inverse=True)
    relation: Int8Array = np.ascontiguousarray(tables.serology_relation[np.ix_(used, used)]).astype(np.int8)
    names = [tables.serology_names[int(i)] for i in used]
    return compact.reshape(-1).astype(np.int32), names, relation


def map_allele_name(name: str, tables: NomenclatureTables) -> tuple[int, list[str]] | None:
    """Allele code of an old two-field name in the current release, and all lgx names it spans.

    None when the release (and py-ard's history) does not know the name.
    """
    try:
        ids = tables.member_ids(name)
    except InvalidInputError:
        return None
    if not ids:
        return None
    own = ids[0]
    lgx = int(tables.allele_lgx[own])
    null = bool(tables.allele_null[own]) or name.endswith("N")
    spans = sorted({tables.lgx_names[int(tables.allele_lgx[i])] for i in ids})
    return 2 * lgx + int(null), spans


_Mapped = dict[str, tuple[int, list[str]] | None]


def _common_loci(sets: Sequence[tuple[str, ParsedFrequencies]]) -> list[str]:
    """The loci every set has (the first set's); InvalidInputError naming a set with other loci."""
    if not sets:
        raise InvalidInputError("no haplotype frequency sets to index")
    loci = sets[0][1].loci
    for pop, parsed in sets:
        if parsed.loci != loci:
            raise InvalidInputError(
                f"population {pop} has loci {'~'.join(parsed.loci)}, expected {'~'.join(loci)}", where=pop
            )
    return list(loci)


def _haplotype_codes(
    hap: Sequence[str], mapped: _Mapped, tables: NomenclatureTables, rep: MappingReport, unknown: set[str]
) -> list[int] | None:
    """Allele codes of one haplotype (renamed and ambiguous names noted in ``rep``); None at the first name
    unknown in the release (added to ``unknown``)."""
    codes: list[int] = []
    for name in hap:
        m = mapped[name]
        if m is None:
            unknown.add(name)
            return None
        codes.append(m[0])
        lgx_name = tables.lgx_names[m[0] >> 1]
        if lgx_name != name and name not in rep.renamed:
            rep.renamed[name] = lgx_name
        if len(m[1]) > 1:
            rep.ambiguous[name] = m[1]
    return codes


def _map_population(
    pop: str, parsed: ParsedFrequencies, mapped: _Mapped, tables: NomenclatureTables, row_of: dict[tuple[int, ...], int]
) -> tuple[dict[int, float], MappingReport]:
    """One population's frequencies by haplotype row (rows shared across populations through ``row_of``) and
    its mapping report; InvalidInputError when no haplotype maps."""
    rep = MappingReport(pop, haplotypes_read=len(parsed.haplotypes), haplotypes_kept=0)
    rep.warnings.extend(parsed.warnings)
    col: dict[int, float] = {}
    unknown: set[str] = set()
    for hap, freq in zip(parsed.haplotypes, parsed.frequencies, strict=True):
        codes = _haplotype_codes(hap, mapped, tables, rep, unknown)
        if codes is None:
            rep.dropped_haplotypes += 1
            rep.dropped_frequency += freq
            continue
        row = row_of.setdefault(tuple(codes), len(row_of))
        if row in col:
            rep.collapsed_haplotypes += 1
        col[row] = col.get(row, 0.0) + freq
    rep.unknown_names = sorted(unknown)
    rep.haplotypes_kept = len(col)
    if unknown:
        rep.warnings.append(
            f"{pop}: {len(unknown)} allele name(s) unknown in IPD-IMGT/HLA {tables.release} "
            f"({', '.join(sorted(unknown))}); {rep.dropped_haplotypes} haplotype(s) with total frequency "
            f"{rep.dropped_frequency:.3g} dropped"
        )
    if not col:
        raise InvalidInputError(f"population {pop}: no haplotype maps to the current release", where=pop)
    return col, rep


def build_index(
    sets: Sequence[tuple[str, ParsedFrequencies]],
    tables: NomenclatureTables,
    *,
    checksum: str = "",
) -> HaplotypeIndex:
    """Map parsed sets (population, lines) to one index over the current release."""
    loci = _common_loci(sets)
    names = {name for _, parsed in sets for hap in parsed.haplotypes for name in hap}
    mapped: _Mapped = {n: map_allele_name(n, tables) for n in sorted(names)}
    row_of: dict[tuple[int, ...], int] = {}
    per_pop: list[dict[int, float]] = []
    reports: dict[str, MappingReport] = {}
    populations: list[str] = []
    for pop, parsed in sets:
        if pop in populations:
            raise InvalidInputError(f"population {pop} is given twice", where=pop)
        populations.append(pop)
        col, reports[pop] = _map_population(pop, parsed, mapped, tables, row_of)
        per_pop.append(col)
    codes_arr = np.zeros((len(row_of), len(loci)), dtype=np.int32)
    for key, row in row_of.items():
        codes_arr[row] = key
    freqs = np.zeros((len(row_of), len(populations)), dtype=np.float64)
    for j, col in enumerate(per_pop):
        rows = np.fromiter(col.keys(), dtype=np.int64, count=len(col))
        vals = np.fromiter(col.values(), dtype=np.float64, count=len(col))
        freqs[rows, j] = vals / vals.sum()
    lgx_antigen, antigen_names, antigen_relation = lgx_antigen_table(tables)
    return HaplotypeIndex(
        release=tables.release,
        loci=tuple(loci),
        populations=tuple(populations),
        codes=codes_arr,
        frequencies=freqs,
        lgx_antigen=lgx_antigen,
        lgx_names=list(tables.lgx_names),
        antigen_names=antigen_names,
        antigen_relation=antigen_relation,
        reports=reports,
        checksum=checksum,
    )
