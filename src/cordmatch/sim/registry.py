"""Synthetic cord blood registry: units with HLA drawn from haplotype frequencies and realistic unit data.

Deterministic for a seed (numpy PCG64; chunks draw from child generators spawned from the seed, so the
result does not depend on the chunk size). Distributions and their sources: docs/sim.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.io.parquet_registry import RegistryChunk
from cordmatch.selection.columns import pack_flag_columns
from cordmatch.selection.index import EPOCH, UnitColumns
from cordmatch.sim.haplotypes import MIX_WEIGHTS, POPULATIONS, HaplotypeSet, check_population, load_haplotypes
from cordmatch.sourced import ABO_GROUPS

CHUNK = 50_000
Progress = Callable[[int, int], None]

#: Typing resolution classes (share of units) [U]: high resolution at A, B, C, DRB1; A and B at antigen
#: level with DRB1 high resolution and C typed at antigen level or not at all (older listings); allele lists
#: within one antigen (codable at antigen level); genotype ambiguity across antigens (graded exactly).
RESOLUTION_SHARES = {"high": 0.62, "antigen": 0.20, "antigen_no_c": 0.06, "list": 0.115, "ambiguous": 0.005}
ABO_SHARES = {  # [U] approximate US blood-group shares by population
    "CAU": (0.45, 0.40, 0.11, 0.04),
    "AFA": (0.51, 0.26, 0.19, 0.04),
    "API": (0.40, 0.28, 0.25, 0.07),
    "HIS": (0.57, 0.31, 0.10, 0.02),
}
RH_POS = {"CAU": 0.85, "AFA": 0.92, "API": 0.98, "HIS": 0.93}  # [U]
BANKS = (
    ("Atlantic Public Cord Bank", True),
    ("Great Lakes Cord Blood Bank", True),
    ("Pacific Cord Blood Program", True),
    ("Southern Cord Blood Center", True),
    ("Prairie Cord Bank", True),
    ("Rhine Cord Blood Bank", True),
    ("Iberian Cord Registry Bank", True),
    ("Nordic Cord Blood Bank", True),
    ("Andes Cord Blood Bank", False),
    ("Harbour City Cord Bank", False),
)
BANK_WEIGHTS = np.array([0.18, 0.14, 0.12, 0.12, 0.1, 0.09, 0.08, 0.07, 0.05, 0.05])


#: Facility id of generated units: a letter + 4 digits as ISBT 128 requires; "X9999" downwards is not a real
#: facility (FINs are assigned by ICCBBA) [U]. A DIN's 6-digit sequence runs 000001-999999.
SIM_FIN_LETTER = "X"
SIM_FIN_TOP = 9999
DIN_SEQUENCES = 999_999
SIM_FIRST_YEAR = 26


def sim_din(i: int, letter: str = SIM_FIN_LETTER) -> str:
    """The ISBT 128 DIN (13 characters) of generated unit ``i`` (0-based): sequence ``i % 999,999 + 1``; each
    further block of 999,999 units takes the previous year (26, 25, ...), then the next facility id down."""
    block, seq = divmod(i, DIN_SEQUENCES)
    fin = f"{letter}{SIM_FIN_TOP - block // 100:04d}"
    return f"{fin}{(SIM_FIRST_YEAR - block) % 100:02d}{seq + 1:06d}"


def sim_dins(start: int, m: int, letter: str = SIM_FIN_LETTER) -> list[str]:
    """DINs of generated units ``start`` .. ``start + m - 1``."""
    return [sim_din(i, letter) for i in range(start, start + m)]


class _Vocab:
    """Per haplotype set and locus: GL tokens for each resolution class."""

    def __init__(self, hs: HaplotypeSet, tables: NomenclatureTables, xx_codes: dict[str, int]) -> None:
        self.high: list[list[str]] = []
        self.xx: list[list[str]] = []
        self.lst: list[list[str]] = []
        #: antigen code of each XX token (one WHO antigen, or the set id of A*02:XX = A2|A203|A210)
        self.xx_ag: list[list[int]] = []
        for li in range(4):
            names = [h[li] for h in hs.names]
            self.high.append(names)
            self.xx.append([n.split(":")[0] + ":XX" for n in names])
            for x in self.xx[li]:
                if x not in xx_codes:
                    xx_codes[x] = _xx_code(x, tables)
            self.xx_ag.append([xx_codes[x] for x in self.xx[li]])
            self.lst.append([_sibling_list(n, tables) for n in names])


def _xx_code(token: str, tables: NomenclatureTables) -> int:
    expressed = frozenset(
        int(tables.allele_serology[a]) for a in tables.antigen_member_ids(token) if not tables.allele_null[a]
    )
    code = tables.antigen_code(expressed, tables.antigen_index.get(token.split(":", 1)[0], -1))
    return -1 if code is None else code


def _expressed_serology(name: str, tables: NomenclatureTables) -> frozenset[int] | None:
    """Serological codes of the expressed alleles of ``name`` (None when none is expressed)."""
    sero = frozenset(int(tables.allele_serology[m]) for m in tables.member_ids(name) if not tables.allele_null[m])
    return sero or None


def _sibling_list(name: str, tables: NomenclatureTables, _cache: dict[str, str] = {}) -> str:  # noqa: B006
    """``A*02:01/A*02:05``: the name and another expressed two-field allele of the same antigen (or XX)."""
    if name in _cache:
        return _cache[name]
    family = name.split(":")[0]
    own = tables.lgx_index.get(name)
    out = family + ":XX"
    own_sero = _expressed_serology(name, tables) or frozenset()
    sero_of: dict[str, frozenset[int] | None] = {}  # two-field name -> serology of its expressed alleles
    for a in tables.family_members(family):
        if tables.allele_null[a]:
            continue
        two = ":".join(tables.alleles[a].split(":")[:2])
        if int(tables.allele_lgx[a]) != own and tables.name_id(two) is not None and not two.endswith("N"):
            if two not in sero_of:
                sero_of[two] = _expressed_serology(two, tables)
            if sero_of[two] == own_sero:
                out = f"{name}/{two}"
                break
    _cache[name] = out
    return out


def generate_registry(
    n: int,
    seed: int,
    population: str,
    tables: NomenclatureTables,
    *,
    progress: Progress | None = None,
    id_prefix: str = SIM_FIN_LETTER,
) -> Iterator[RegistryChunk]:
    """Yield chunks of generated units (n in total); unit ids are ISBT 128 DINs (``id_prefix``: the letter of
    the synthetic facility id)."""
    if n < 0:
        raise InvalidInputError(f"--units must be >= 0, got {n}", where="--units")
    pop = check_population(population)
    pops = list(POPULATIONS) if pop == "MIX" else [pop]
    sets = {p: load_haplotypes(p, tables) for p in pops}
    xx_codes: dict[str, int] = {}  # XX token -> antigen code, shared by the populations' vocabularies
    vocab = {p: _Vocab(sets[p], tables, xx_codes) for p in pops}
    n_chunks = (n + CHUNK - 1) // CHUNK
    children = np.random.SeedSequence(seed).spawn(max(n_chunks, 1))
    done = 0
    for c in range(n_chunks):
        m = min(CHUNK, n - done)
        rng = np.random.default_rng(children[c])
        yield _chunk(rng, m, done, _Populations(pops, sets, vocab), id_prefix)
        done += m
        if progress:
            progress(done, n)


@dataclass(frozen=True)
class _Populations:
    """The populations drawn from, their haplotype sets and GL vocabularies."""

    names: list[str]
    sets: dict[str, HaplotypeSet]
    vocab: dict[str, _Vocab]


_CLASSES = list(RESOLUTION_SHARES)
_AMBIGUOUS = _CLASSES.index("ambiguous")
_ANTIGEN = _CLASSES.index("antigen")
_ANTIGEN_NO_C = _CLASSES.index("antigen_no_c")
_LIST = _CLASSES.index("list")


@dataclass
class _Typings:
    """Drawn HLA of a chunk: codes (n, 4, 2), the three haplotypes per unit, the resolution class, and the
    GL strings, NIMA strings and genotype alternatives written from them."""

    ag: npt.NDArray[np.int16]
    al: npt.NDArray[np.int16]
    hap: npt.NDArray[np.int64]  # two inherited + one NIMA haplotype
    res: npt.NDArray[np.int64]
    exact: npt.NDArray[np.bool_]
    hla: list[str]
    nima: list[str | None]
    alternatives: list[tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]] | None]


def _draw_populations(rng: np.random.Generator, m: int, pops: list[str]) -> npt.NDArray[np.int64]:
    if len(pops) == 1:
        return np.zeros(m, dtype=np.int64)
    w = np.array([MIX_WEIGHTS[p] for p in pops])
    return rng.choice(len(pops), size=m, p=w / w.sum())


def _draw_typings(rng: np.random.Generator, pop_idx: npt.NDArray[np.int64], pp: _Populations) -> _Typings:
    """Haplotypes, resolution classes and the GL strings of a chunk (draws in a fixed order: a seed gives
    the same registry)."""
    m = len(pop_idx)
    ag = np.full((m, 4, 2), -1, dtype=np.int16)
    al = np.full((m, 4, 2), -1, dtype=np.int16)
    hap = np.zeros((m, 3), dtype=np.int64)
    for k, p in enumerate(pp.names):
        sel = np.flatnonzero(pop_idx == k)
        hs = pp.sets[p]
        hap[sel] = rng.choice(len(hs.freqs), size=(len(sel), 3), p=hs.freqs)
        for pos in range(2):
            ag[sel, :, pos] = hs.ag[hap[sel, pos]]
            al[sel, :, pos] = hs.al[hap[sel, pos]]
    res = rng.choice(len(_CLASSES), size=m, p=np.array(list(RESOLUTION_SHARES.values())))
    antigen_lvl = (res == _ANTIGEN) | (res == _ANTIGEN_NO_C)
    al[antigen_lvl, 0:3, :] = -1  # A, B, C at antigen level; DRB1 high resolution
    no_c = res == _ANTIGEN_NO_C
    ag[no_c, 2, :] = -1
    al[no_c, 2, :] = -1
    list_pos = rng.integers(0, 4, size=m)  # which locus carries the allele list (position 0)
    nima_rec = rng.random(m) < 0.12  # [U] NIMA recorded for a minority of units
    t = _Typings(ag, al, hap, res, res == _AMBIGUOUS, [], [], [None] * m)
    per_unit = zip(pop_idx.tolist(), res.tolist(), list_pos.tolist(), nima_rec.tolist(), strict=True)
    for i, (k, r, lp, nr) in enumerate(per_unit):
        p = pp.names[k]
        t.hla.append(_unit_gl(t, i, r, lp, pp.vocab[p], pp.sets[p]))
        v = pp.vocab[p]
        h3 = int(hap[i, 2])
        t.nima.append("^".join(v.high[li][h3] for li in (0, 1, 3)) if nr else None)
    return t


def _unit_gl(t: _Typings, i: int, r: int, list_pos: int, v: _Vocab, hs: HaplotypeSet) -> str:
    """The GL string of unit ``i`` (resolution class ``r``); codes of list and XX positions set as the parser
    codes them, genotype alternatives recorded for an ambiguous typing."""
    h1, h2 = int(t.hap[i, 0]), int(t.hap[i, 1])
    parts = []
    antigen_lvl = r in (_ANTIGEN, _ANTIGEN_NO_C)
    for li in range(4):
        if r == _ANTIGEN_NO_C and li == 2:
            continue
        if antigen_lvl and li < 3:
            a, b = v.xx[li][h1], v.xx[li][h2]
            t.ag[i, li, 0], t.ag[i, li, 1] = v.xx_ag[li][h1], v.xx_ag[li][h2]
        else:
            a, b = v.high[li][h1], v.high[li][h2]
            if r == _LIST and li == list_pos:
                a = v.lst[li][h1]  # a list within one antigen: allele unknown, antigen known
                t.al[i, li, 0] = -1
                if a.endswith(":XX"):  # no sibling allele: the XX code, coded as the parser codes it
                    t.ag[i, li, 0] = v.xx_ag[li][h1]
        if r == _AMBIGUOUS and li == 0:
            parts.append(_ambiguous_a(t, i, a, b, v, hs))
            continue
        parts.append(f"{a}+{b}")
    return "^".join(parts)


def _ambiguous_a(t: _Typings, i: int, a: str, b: str, v: _Vocab, hs: HaplotypeSet) -> str:
    """Genotype ambiguity at A: the typing lab could not phase between two genotypes (graded exactly, with
    both genotypes as coded alternatives); a third haplotype that repeats one of the two is no ambiguity."""
    h3 = int(t.hap[i, 2])
    other = v.high[0][h3]
    if other in (a, b):
        t.exact[i] = False
        return f"{a}+{b}"
    alt_ag, alt_al = np.stack([t.ag[i], t.ag[i]]), np.stack([t.al[i], t.al[i]])
    alt_ag[1, 0, 1], alt_al[1, 0, 1] = hs.ag[h3, 0], hs.al[h3, 0]
    t.alternatives[i] = (alt_ag, alt_al)
    return f"{a}+{b}|{a}+{other}"


@dataclass
class _Unit:
    """Drawn unit data besides the typing (cells, dates, bank, blood group)."""

    tnc: npt.NDArray[np.float64]  # cells
    cd34: npt.NDArray[np.float32]  # cells, NaN = not recorded
    dates: list[dt.date]
    rbc: npt.NDArray[np.bool_]
    segment: npt.NDArray[np.bool_]
    bank_idx: npt.NDArray[np.int64]
    volume: npt.NDArray[np.float32]
    abo_idx: npt.NDArray[np.int64]
    rh_pos: npt.NDArray[np.bool_]


def _draw_tnc(rng: np.random.Generator, m: int) -> npt.NDArray[np.float64]:
    """Post-processing TNC (cells) [U]: lognormal, banked only above the acceptance threshold."""
    tnc = np.exp(rng.normal(np.log(1.25e9), 0.38, size=2 * m))
    tnc = tnc[tnc >= 9.0e8]
    while len(tnc) < m:
        extra = np.exp(rng.normal(np.log(1.25e9), 0.38, size=m))
        tnc = np.concatenate([tnc, extra[extra >= 9.0e8]])
    return tnc[:m]


def _draw_units(rng: np.random.Generator, pop_idx: npt.NDArray[np.int64], pops: list[str]) -> _Unit:
    """Cell counts, collection dates, processing, bank, volume and blood group of a chunk [U]."""
    m = len(pop_idx)
    tnc = _draw_tnc(rng, m)
    cd34_frac = np.exp(rng.normal(np.log(0.0032), 0.5, size=m))
    cd34 = (tnc * cd34_frac).astype(np.float32)
    # collection dates 1998-2024, more recent years more common [U]
    years = 1998 + np.floor(27 * np.sqrt(rng.random(m))).astype(np.int64)
    day = rng.integers(0, 365, size=m)
    dates = [_YEAR_START[y] + _DAYS[d] for y, d in zip(years.tolist(), day.tolist(), strict=True)]
    cd34[(years < 2005) & (rng.random(m) < 0.5)] = np.nan  # [U] older units often lack CD34+
    rbc = rng.random(m) < np.where(years < 2005, 0.7, 0.95)  # [U]
    segment = rng.random(m) < 0.93  # [U]
    bank_idx = rng.choice(len(BANKS), size=m, p=BANK_WEIGHTS / BANK_WEIGHTS.sum())
    volume = np.where(rbc, rng.normal(25.0, 1.5, size=m), rng.normal(95.0, 20.0, size=m)).astype(np.float32)
    abo_idx = np.zeros(m, dtype=np.int64)
    rh_pos = np.zeros(m, dtype=np.bool_)
    for k, p in enumerate(pops):
        sel = np.flatnonzero(pop_idx == k)
        abo_idx[sel] = rng.choice(4, size=len(sel), p=np.array(ABO_SHARES[p]))
        rh_pos[sel] = rng.random(len(sel)) < RH_POS[p]
    return _Unit(tnc, cd34, dates, rbc, segment, bank_idx, volume, abo_idx, rh_pos)


_YEAR_START = {y: dt.date(y, 1, 1) for y in range(1998, 2026)}
_DAYS = [dt.timedelta(days=d) for d in range(366)]
_GROUPS = ABO_GROUPS


def _chunk(rng: np.random.Generator, m: int, start: int, pp: _Populations, id_prefix: str) -> RegistryChunk:
    pop_idx = _draw_populations(rng, m, pp.names)
    t = _draw_typings(rng, pop_idx, pp)
    u = _draw_units(rng, pop_idx, pp.names)
    accredited = np.array([BANKS[b][1] for b in u.bank_idx.tolist()], dtype=np.bool_)
    abo = [_GROUPS[g] for g in u.abo_idx.tolist()]
    rh = ["+" if r else "-" for r in u.rh_pos.tolist()]
    flags = pack_flag_columns(
        accredited=accredited,
        rbc_depleted=np.asarray(u.rbc, dtype=np.bool_),
        attached_segment=np.asarray(u.segment, dtype=np.bool_),
        abo=abo,
        rh=rh,
        nima=np.fromiter((x is not None for x in t.nima), dtype=np.bool_, count=m),
    )
    collected = np.array([(d - EPOCH).days for d in u.dates], dtype=np.uint16)
    ids = sim_dins(start, m, id_prefix)
    cols = UnitColumns(ids, t.ag, t.al, u.tnc.astype(np.float32), u.cd34, flags, collected, t.exact, t.alternatives)
    return RegistryChunk(
        cols=cols,
        hla=t.hla,
        volume_ml=u.volume,
        abo=abo,
        rh=rh,
        bank=[BANKS[b][0] for b in u.bank_idx.tolist()],
        accredited=accredited,
        rbc_depleted=u.rbc,
        attached_segment=u.segment,
        collection_date=u.dates,
        nima=t.nima,
        population=[pp.names[k] for k in pop_idx.tolist()],
    )
