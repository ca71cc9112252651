"""Genotype imputation: the multi-locus genotypes compatible with a typing, and their posterior probability.

Model (Hardy-Weinberg equilibrium within a population): a person carries two haplotypes drawn
independently from the population's haplotype frequencies, so an unordered pair {h1, h2} has prior
probability ``f1 * f2 * (2 if h1 != h2 else 1)``. For a mix of populations with weights w, the person
belongs to population p with probability w_p: prior ``sum_p w_p f1p f2p (2 if h1 != h2 else 1)``.
The posterior is the prior restricted to pairs compatible with the typing, normalised.

A pair is compatible when, at every typed locus in the index, some genotype alternative of the typing
holds the pair's two alleles in either phase. Loci not typed are marginalised (any allele); loci typed
but not in the frequency set (e.g. DPB1) are ignored with a note. Alleles are compared as allele codes
(lgx id and null flag; see :mod:`cordmatch.probability.index`).

Floor: when a typed position at a locus has no allele present in the set at that locus, the typed
allele (the first lgx of the position, in release order) is given the population allele frequency
``floor`` (default :data:`DEFAULT_FLOOR`) in linkage equilibrium with the rest of the haplotype: the
index is extended with copies of the haplotypes carrying it, frequency ``f * floor``. Every floored
allele is reported.

Blocks: when no pair of whole haplotypes fits the typing (the sets hold only the frequent haplotypes),
haplotypes are rebuilt from any class I block (A~C~B) and any class II block (DRB1~DQB1) seen in the set,
with frequency f(block I) * f(block II) (linkage equilibrium between the blocks, as GRIMM's "plan B"
does), and the result carries a note. When no pair is compatible even so, the result is an explicit
*no estimate*.

Results are unphased: each genotype lists, per locus, the two allele codes (sorted). Pure numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from cordmatch.errors import InvalidInputError
from cordmatch.hla.mac import MacTable
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.hla.typing import HlaTyping, Position, parse_typing
from cordmatch.probability.index import HaplotypeIndex

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Population allele frequency given to a typed allele absent from the frequency set (documented floor).
DEFAULT_FLOOR: Final = 1e-5
#: Rows of the pair matrix computed at once (bounds memory: block * candidates doubles).
_BLOCK: Final = 1024

#: One position's allowed allele codes; None = any allele (not typed).
PositionCodes = npt.NDArray[np.int64] | None


@dataclass(frozen=True)
class TypingConstraints:
    """A typing as allele codes: per locus, the genotype alternatives, each two positions' codes."""

    loci: dict[str, tuple[tuple[PositionCodes, PositionCodes], ...]]
    notes: tuple[str, ...] = ()
    source: str = ""


_POSITION_CODES: dict[tuple[int, tuple[str, ...]], npt.NDArray[np.int64]] = {}


def position_codes(position: Position, tables: NomenclatureTables) -> npt.NDArray[np.int64]:
    """Allele codes a typed position may be (expressed members; all members when every one is null).

    Cached by the position's tokens (a registry repeats the same positions many times).
    """
    key = (id(tables), position.tokens)
    found = _POSITION_CODES.get(key)
    if found is not None:
        return found
    arr = np.fromiter(position.alleles, dtype=np.int64, count=len(position.alleles))
    null = tables.allele_null[arr]
    if not null.all():
        arr = arr[~null]
        null = null[~null]
    codes = np.unique(2 * tables.allele_lgx[arr].astype(np.int64) + null.astype(np.int64))
    if len(_POSITION_CODES) > 200_000:
        _POSITION_CODES.clear()
    _POSITION_CODES[key] = codes
    return codes


def constraints_from_typing(typing: HlaTyping, tables: NomenclatureTables, loci: Sequence[str]) -> TypingConstraints:
    """Code a resolved typing for an index with ``loci``; other loci are set aside with a note."""
    out: dict[str, tuple[tuple[PositionCodes, PositionCodes], ...]] = {}
    notes: list[str] = []
    for locus, lt in typing.loci.items():
        if locus not in loci:
            notes.append(f"{locus} is not in the haplotype frequency set: ignored")
            continue
        out[locus] = tuple((position_codes(p1, tables), position_codes(p2, tables)) for p1, p2 in lt.alternatives)
    return TypingConstraints(out, tuple(notes), typing.source)


def constraints_from_gl(
    gl: str,
    tables: NomenclatureTables,
    index_loci: Sequence[str],
    macs: MacTable | None = None,
    parts: dict[str, tuple[str, TypingConstraints]] | None = None,
) -> tuple[str, TypingConstraints]:
    """(canonical GL, constraints) of a typing; unphased typings are resolved locus block by locus block
    (``^`` parts), each block once per batch, since a registry repeats the same blocks many times."""
    if parts is None:
        parts = {}
    if "~" in gl:
        typing = parse_typing(gl, tables, macs)
        return typing.gl(), constraints_from_typing(typing, tables, index_loci)
    loci: dict[str, tuple[tuple[PositionCodes, PositionCodes], ...]] = {}
    notes: list[str] = []
    canon: list[tuple[int, str]] = []
    for raw in gl.split("^"):
        block = raw.strip()
        got = parts.get(block)
        if got is None:
            typing = parse_typing(block, tables, macs)
            got = (typing.gl(), constraints_from_typing(typing, tables, index_loci))
            parts[block] = got
        text, c = got
        for locus, alts in c.loci.items():
            if locus in loci:
                raise InvalidInputError(f"locus {locus} is typed twice in one typing", where=locus)
            loci[locus] = alts
        notes.extend(c.notes)
        canon.append((min((list(index_loci).index(x) for x in c.loci), default=len(index_loci)), text))
    key = "^".join(text for _, text in sorted(canon))
    return key, TypingConstraints(loci, tuple(notes), gl)


@dataclass
class GenotypePosterior:
    """Unphased multi-locus genotypes compatible with a typing and their posterior probabilities.

    ``codes`` is (G, loci, 2) allele codes (per locus the smaller first); ``probabilities`` (G,) sums to
    1 and is sorted in decreasing order. With no compatible genotype, G = 0 and ``reason`` says why.
    """

    loci: tuple[str, ...]
    codes: IntArray
    probabilities: FloatArray
    population: str
    floored: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    reason: str | None = None
    #: Sum of the prior probabilities of the compatible pairs (the typing's likelihood).
    likelihood: float = 0.0
    lgx_antigen: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int32), repr=False)
    #: WHO relation of the antigen ids in ``lgx_antigen`` (``HaplotypeIndex.antigen_relation``).
    antigen_relation: npt.NDArray[np.int8] = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int8), repr=False)
    code_names: Sequence[str] = field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        """True when there is an estimate (at least one compatible genotype)."""
        return self.reason is None and len(self.probabilities) > 0

    @property
    def size(self) -> int:
        return int(self.probabilities.shape[0])

    def genotype_gl(self, i: int) -> str:
        """GL string of genotype ``i`` (loci joined with ``^``)."""
        parts = []
        for li in range(len(self.loci)):
            parts.append("+".join(self.locus_names(i, li)))
        return "^".join(parts)

    def locus_names(self, i: int, li: int) -> list[str]:
        """The two allele names of genotype ``i`` at locus index ``li``, sorted."""
        return sorted(self._name(int(c)) for c in self.codes[i, li])

    def _name(self, code: int) -> str:
        name = self.code_names[code >> 1]
        return name if not (code & 1) or name.endswith("N") else f"{name}N"

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        n = self.size if top is None else min(top, self.size)
        return {
            "population": self.population,
            "estimate": self.ok,
            "reason": self.reason,
            "genotypes_total": self.size,
            "genotypes": [
                {
                    "gl": self.genotype_gl(i),
                    "loci": {locus: self.locus_names(i, li) for li, locus in enumerate(self.loci)},
                    "probability": float(self.probabilities[i]),
                }
                for i in range(n)
            ],
            "floored_alleles": list(self.floored),
            "notes": list(self.notes),
        }


def no_estimate(index: HaplotypeIndex, population: str, reason: str, notes: Sequence[str] = ()) -> GenotypePosterior:
    """An explicit *no estimate* result."""
    return GenotypePosterior(
        loci=index.loci,
        codes=np.zeros((0, len(index.loci), 2), dtype=np.int32),
        probabilities=np.zeros(0),
        population=population,
        notes=tuple(notes),
        reason=reason,
        lgx_antigen=index.lgx_antigen,
        antigen_relation=index.antigen_relation,
        code_names=index.lgx_names,
    )


@dataclass(frozen=True)
class PopulationView:
    """The rows of an index with frequency > 0 in a population (or mix), prepared once per population."""

    weights: FloatArray
    codes: IntArray
    frequencies: FloatArray
    #: per locus, a boolean table over allele codes: present in this population at that locus.
    present: tuple[BoolArray, ...]


_VIEWS: dict[tuple[int, object], PopulationView] = {}


def population_view(index: HaplotypeIndex, population: str | Mapping[str, float]) -> PopulationView:
    """Cached :class:`PopulationView` of ``index`` for ``population``."""
    key = (id(index), population if isinstance(population, str) else tuple(sorted(population.items())))
    view = _VIEWS.get(key)
    if view is not None:
        return view
    w = index.population_weights(population)
    pops = np.flatnonzero(w > 0)
    freqs = index.frequencies[:, pops]
    live = freqs.sum(axis=1) > 0
    codes = np.ascontiguousarray(index.codes[live])
    present = []
    for li in range(codes.shape[1]):
        tab = np.zeros(2 * len(index.lgx_names), dtype=np.bool_)
        tab[codes[:, li]] = True
        present.append(tab)
    view = PopulationView(w[pops], codes, np.ascontiguousarray(freqs[live]), tuple(present))
    if len(_VIEWS) > 64:
        _VIEWS.clear()
    _VIEWS[key] = view
    return view


def population_label(population: str | Mapping[str, float]) -> str:
    if isinstance(population, str):
        return population.upper()
    return ",".join(f"{k.upper()}:{v:g}" for k, v in population.items())


def _compatible_pairs(
    codes: IntArray,
    freqs: FloatArray,
    weights: FloatArray,
    typed: Sequence[tuple[int, tuple[tuple[PositionCodes, PositionCodes], ...]]],
    lookup: Callable[[PositionCodes, IntArray], BoolArray],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray] | None:
    """(candidate rows, pair i, pair j, pair prior) of the unordered haplotype pairs fitting the typing."""
    # Per locus and alternative, which haplotypes fit each position; candidates fit some position everywhere.
    masks: list[list[tuple[BoolArray, BoolArray]]] = []
    cand = np.ones(codes.shape[0], dtype=np.bool_)
    for li, alts in typed:
        locus_masks = [(lookup(p1, codes[:, li]), lookup(p2, codes[:, li])) for p1, p2 in alts]
        any_pos = np.zeros(codes.shape[0], dtype=np.bool_)
        for m1, m2 in locus_masks:
            any_pos |= m1 | m2
        cand &= any_pos
        masks.append(locus_masks)
    rows = np.flatnonzero(cand)
    if rows.size == 0:
        return None
    cmasks = [[(m1[rows], m2[rows]) for m1, m2 in lm] for lm in masks]
    fw = freqs[rows] * weights  # (K, P) weighted
    fc = freqs[rows]
    k = rows.size
    pair_i: list[npt.NDArray[np.int64]] = []
    pair_j: list[npt.NDArray[np.int64]] = []
    pair_p: list[FloatArray] = []
    for start in range(0, k, _BLOCK):
        stop = min(k, start + _BLOCK)
        comp = np.ones((stop - start, k), dtype=np.bool_)
        for lm in cmasks:
            loc = np.zeros_like(comp)
            for m1, m2 in lm:
                loc |= (m1[start:stop, None] & m2[None, :]) | (m2[start:stop, None] & m1[None, :])
            comp &= loc
        # unordered pairs: keep i <= j
        comp &= np.arange(start, stop)[:, None] <= np.arange(k)[None, :]
        ii, jj = np.nonzero(comp)
        if ii.size == 0:
            continue
        ii = ii + start
        p = np.einsum("np,np->n", fw[ii], fc[jj])
        p = np.where(ii == jj, p, 2.0 * p)
        pair_i.append(ii)
        pair_j.append(jj)
        pair_p.append(p)
    if not pair_p:
        return None
    return rows, np.concatenate(pair_i), np.concatenate(pair_j), np.concatenate(pair_p)


#: Most synthetic haplotypes built when class I and class II blocks are combined.
MAX_BLOCK_COMBINATIONS: Final = 250_000


def _block_split(loci: Sequence[str]) -> tuple[list[int], list[int]] | None:
    first = [i for i, locus in enumerate(loci) if locus in ("A", "C", "B")]
    second = [i for i, locus in enumerate(loci) if locus in ("DRB1", "DQB1")]
    return (first, second) if first and second and len(first) + len(second) == len(loci) else None


def _combine_blocks(
    codes: IntArray,
    freqs: FloatArray,
    typed: Sequence[tuple[int, tuple[tuple[PositionCodes, PositionCodes], ...]]],
    lookup: Callable[[PositionCodes, IntArray], BoolArray],
    blocks: tuple[list[int], list[int]],
) -> tuple[IntArray, FloatArray] | None:
    """Haplotypes made of any class I block and any class II block fitting the typing, with frequency
    f(block I) * f(block II) per population (block frequencies marginalised from the set)."""
    parts = []
    for cols in blocks:
        sub = np.ascontiguousarray(codes[:, cols])
        ok = np.ones(sub.shape[0], dtype=np.bool_)
        for li, alts in typed:
            if li not in cols:
                continue
            any_pos = np.zeros(sub.shape[0], dtype=np.bool_)
            for p1, p2 in alts:
                any_pos |= lookup(p1, codes[:, li]) | lookup(p2, codes[:, li])
            ok &= any_pos
        sub, f = sub[ok], freqs[ok]
        if sub.shape[0] == 0:
            return None
        view = sub.view(np.dtype((np.void, sub.dtype.itemsize * sub.shape[1]))).reshape(-1)
        _, first, inv = np.unique(view, return_index=True, return_inverse=True)
        fsum = np.zeros((first.size, freqs.shape[1]))
        np.add.at(fsum, inv.reshape(-1), f)
        parts.append((sub[first], fsum))
    (c1, f1), (c2, f2) = parts
    if c1.shape[0] * c2.shape[0] > MAX_BLOCK_COMBINATIONS:
        return None
    i1 = np.repeat(np.arange(c1.shape[0]), c2.shape[0])
    i2 = np.tile(np.arange(c2.shape[0]), c1.shape[0])
    out = np.zeros((i1.size, codes.shape[1]), dtype=np.int32)
    out[:, blocks[0]] = c1[i1]
    out[:, blocks[1]] = c2[i2]
    return out, f1[i1] * f2[i2]


_Typed = list[tuple[int, tuple[tuple[PositionCodes, PositionCodes], ...]]]
_Lookup = Callable[[PositionCodes, IntArray], BoolArray]
_Pairs = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray]


def _allowed_lookup(n_codes: int) -> _Lookup:
    """``lookup(allowed, column)``: which codes of a column are allowed (all when ``allowed`` is None)."""

    def lookup(allowed: PositionCodes, column: IntArray) -> BoolArray:
        if allowed is None:
            return np.ones(column.shape[0], dtype=np.bool_)
        table = np.zeros(n_codes, dtype=np.bool_)
        table[allowed] = True
        return table[column]

    return lookup


def _absent_codes(typed: _Typed, present: Sequence[BoolArray]) -> list[tuple[int, int]]:
    """(locus index, code) of typed positions with no allele of the set at their locus, in typing order."""
    absent = (
        (li, int(allowed[0]))
        for li, alts in typed
        for pair in alts
        for allowed in pair
        if allowed is not None and not present[li][allowed].any()
    )
    return list(dict.fromkeys(absent))


def _with_floored(
    codes: IntArray, freqs: FloatArray, typed: _Typed, lookup: _Lookup, missing: list[tuple[int, int]], floor: float
) -> tuple[IntArray, FloatArray]:
    """The set plus, per absent allele, a copy of every haplotype fitting the other typed loci with that allele
    at its locus, at ``floor`` times its frequency."""
    floored_loci = {li for li, _ in missing}
    ok_other = np.ones(codes.shape[0], dtype=np.bool_)
    for li, alts in typed:
        if li in floored_loci:
            continue
        any_pos = np.zeros(codes.shape[0], dtype=np.bool_)
        for p1, p2 in alts:
            any_pos |= lookup(p1, codes[:, li]) | lookup(p2, codes[:, li])
        ok_other &= any_pos
    for li, code in missing:
        base = np.flatnonzero(ok_other)
        extra = codes[base].copy()
        extra[:, li] = code
        codes = np.vstack([codes, extra])
        freqs = np.vstack([freqs, freqs[base] * floor])
        ok_other = np.concatenate([ok_other, ok_other[base]])
    return codes, freqs


def _fitting_pairs(
    codes: IntArray, freqs: FloatArray, weights: FloatArray, typed: _Typed, lookup: _Lookup, loci: Sequence[str],
    split_blocks: bool, notes: list[str],
) -> tuple[_Pairs | None, IntArray]:  # fmt: skip
    """Pairs fitting the typing and the codes they index: whole haplotypes, else class I x II blocks (noted)."""
    found = _compatible_pairs(codes, freqs, weights, typed, lookup)
    if found is not None or not split_blocks:
        return found, codes
    blocks = _block_split(loci)
    combined = None if blocks is None else _combine_blocks(codes, freqs, typed, lookup, blocks)
    if combined is None:
        return None, codes
    codes, freqs = combined
    found = _compatible_pairs(codes, freqs, weights, typed, lookup)
    if found is not None:
        notes.append(
            "no pair of whole haplotypes fits the typing: class I (A~C~B) and class II "
            "(DRB1~DQB1) blocks combined in linkage equilibrium (less certain estimate)"
        )
    return found, codes


def impute(
    typing: TypingConstraints,
    index: HaplotypeIndex,
    population: str | Mapping[str, float],
    *,
    floor: float = DEFAULT_FLOOR,
    split_blocks: bool = True,
) -> GenotypePosterior:
    """Posterior over the unphased genotypes compatible with ``typing`` (see the module docstring)."""
    label = population_label(population)
    view = population_view(index, population)
    weights, codes, freqs = view.weights, view.codes, view.frequencies
    notes = list(typing.notes)
    typed = [(index.loci.index(locus), alts) for locus, alts in typing.loci.items() if locus in index.loci]
    notes.extend(
        f"{locus} is not in the haplotype frequency set: ignored" for locus in typing.loci if locus not in index.loci
    )
    lookup = _allowed_lookup(2 * len(index.lgx_names))
    # Floor: typed positions with no allele of the set at their locus.
    missing = _absent_codes(typed, view.present)
    floored = [index.code_name(code) for _, code in missing]
    if missing:
        codes, freqs = _with_floored(codes, freqs, typed, lookup, missing, floor)
        notes.append(
            f"allele(s) absent from the {label} frequency set given the floor frequency {floor:g}: "
            + ", ".join(floored)
        )
    found, codes = _fitting_pairs(codes, freqs, weights, typed, lookup, index.loci, split_blocks, notes)
    if found is None:
        return no_estimate(index, label, "no pair of haplotypes in the frequency set fits the typing", notes)
    return _posterior(index, label, found, codes, floored, notes)


def _posterior(
    index: HaplotypeIndex, label: str, found: _Pairs, codes: IntArray, floored: list[str], notes: list[str]
) -> GenotypePosterior:
    """Genotype pairs collapsed to unphased genotypes, most probable first (none when of frequency 0)."""
    rows, pi, pj, pp = found
    total = float(pp.sum())
    if not total > 0:
        return no_estimate(index, label, "the compatible genotypes have frequency 0", notes)
    ci = codes[rows[pi]]
    cj = codes[rows[pj]]
    geno = np.stack([np.minimum(ci, cj), np.maximum(ci, cj)], axis=-1)  # (pairs, L, 2)
    flat = np.ascontiguousarray(geno.reshape(geno.shape[0], -1), dtype=np.int32)
    rows_void = flat.view(np.dtype((np.void, flat.dtype.itemsize * flat.shape[1]))).reshape(-1)
    _, first, inverse = np.unique(rows_void, return_index=True, return_inverse=True)
    uniq = flat[first]
    probs = np.bincount(inverse.reshape(-1), weights=pp, minlength=uniq.shape[0]) / total
    order = np.lexsort((np.arange(probs.size), -probs))
    return GenotypePosterior(
        loci=index.loci,
        codes=uniq[order].reshape(-1, len(index.loci), 2).astype(np.int32),
        probabilities=probs[order],
        population=label,
        floored=tuple(floored),
        notes=tuple(notes),
        likelihood=total,
        lgx_antigen=index.lgx_antigen,
        antigen_relation=index.antigen_relation,
        code_names=index.lgx_names,
    )
