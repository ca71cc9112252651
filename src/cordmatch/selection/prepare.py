"""The vectorised half of a search: grade every unit, patch the exactly graded ones, compute the hard-filter
masks and the packed ranking keys (:class:`SearchContext`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.hla.typing import HlaTyping, parse_typing
from cordmatch.matching import grade
from cordmatch.matching.coded import CODED_LOCI, code_typing
from cordmatch.selection import kernel
from cordmatch.selection.crossmatch import AntibodyProfile, Crossmatch, assess
from cordmatch.selection.epitopes import DRB_SECONDARY, drb1_family
from cordmatch.selection.index import LIVE, UnitIndex
from cordmatch.selection.model import Patient
from cordmatch.selection.rules import CD34_UNIT, TNC_UNIT, DoseThresholds, resolve_thresholds
from cordmatch.selection.settings import PolicySpec, SelectionSettings, default_settings


@dataclass
class SearchContext:
    """Everything one search computed over all slots (kept for explain and for tests)."""

    index: UnitIndex
    patient: Patient
    policy: PolicySpec
    settings: SelectionSettings
    thresholds: DoseThresholds
    profile: AntibodyProfile
    graded: kernel.Graded
    mask: npt.NDArray[np.bool_]  # passes every hard filter, including the single-unit dose: ranked as a single
    acceptable: npt.NDArray[np.bool_]  # passes every hard filter except the single-unit dose
    prefix: npt.NDArray[Any]  # ranking keys before TNC, packed (higher is better; -1 rejected)
    suffix: npt.NDArray[Any]  # ranking keys after TNC, packed
    tnc_key: npt.NDArray[np.float32]
    exact_grades: dict[int, Any]
    today: dt.date
    tables: NomenclatureTables | None = None


def _weight_check(weight_kg: float) -> None:
    if not (weight_kg > 0 and np.isfinite(weight_kg)):
        raise InvalidInputError(
            f"weight must be a positive number of kg, got {weight_kg:g}", where="weight_kg", field="weight_kg"
        )


def key_parts(policy: PolicySpec) -> tuple[list[str], list[str]]:
    """The policy's ranking keys before TNC and after it."""
    order = list(policy.order)
    if "tnc" not in order:
        return order, []
    i = order.index("tnc")
    return order[:i], order[i + 1 :]


def _key_lut(names: list[str], th: DoseThresholds, dsa_exclude: bool) -> npt.NDArray[np.int32]:
    """Ranking key of every possible packed value (65,536 entries), -1 where the HLA hard filters (minimum
    match, Eurocord maximum mismatches, DSA exclusion) reject it: one gather per search gives the keys."""
    packed = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    key = np.zeros(65536, dtype=np.int32)
    for name in names:
        if name == "match":
            mm = kernel.field(packed, kernel.MM8).astype(np.int32)
            unsure = (kernel.field(packed, kernel.UNSURE8) > 0).astype(np.int32)
            key = key * 32 + np.clip(2 * (8 - mm) - unsure + 1, 0, 31)
        elif name == "dsa":
            key = key * 4 + np.where(kernel.field(packed, kernel.DSA_DEF) > 0, 0, 2)
        elif name == "c_match":
            key = key * 2 + (kernel.field(packed, kernel.C_MM) == 0).astype(np.int32)
    mm8 = kernel.field(packed, kernel.MM8)
    reject = (mm8 > th.max_mm8) | (kernel.field(packed, kernel.MM6) > th.max_mm6)
    if th.eurocord_max_mm is not None:
        reject |= mm8 > th.eurocord_max_mm
    if dsa_exclude:
        reject |= kernel.field(packed, kernel.DSA_DEF) > 0
    key[reject] = -1
    return key


def _keys(
    names: list[str], g: kernel.Graded, th: DoseThresholds | None = None, dsa_exclude: bool = False
) -> npt.NDArray[Any]:
    """Ranking keys (higher is better; -1 = rejected by an HLA filter when ``th`` is given) for every slot."""
    lut = _key_lut(names, th or _NO_FILTER, dsa_exclude)
    if lut.max() < np.iinfo(np.int16).max:  # a small table and half the bytes for the later passes
        key: npt.NDArray[Any] = np.take(lut.astype(np.int16), g.packed, mode="clip")
    else:
        key = np.take(lut, g.packed, mode="clip")
    if "dsa" in names and g.dsa_possible is not None and g.dsa_possible.any():
        # possible DSA ranks between none and definite: one step down on the dsa key
        weight = 1
        for name in reversed(names):
            if name == "dsa":
                break
            weight *= 32 if name == "match" else 2 if name == "c_match" else 4
        key = np.where(key >= 0, key - g.dsa_possible.astype(key.dtype) * weight, key).astype(key.dtype)
    return key


_NO_FILTER = DoseThresholds(1.0, 0.0, False, "single_tnc_min", 0.0, 0.0, 0.0, 8, None, 6)


def prepare(
    index: UnitIndex,
    patient: Patient,
    tables: NomenclatureTables,
    *,
    policy: str = "nmdp",
    settings: SelectionSettings | None = None,
    today: dt.date | None = None,
) -> SearchContext:
    """Grade every unit, patch the exactly graded ones, compute the hard-filter mask and ranking keys."""
    settings = settings or default_settings()
    spec = settings.policy(policy)
    _weight_check(patient.weight_kg)
    if len(index) == 0:
        raise InvalidInputError("the registry is empty: no units to search", where="registry")
    coded = code_typing(patient.typing)
    cautions = check_patient_loci(patient.typing)
    del cautions  # reported by search()
    if coded is None:
        raise InvalidInputError(
            "the patient typing is ambiguous at A, B, C or DRB1 (genotype alternatives or allele lists across "
            "antigens); search needs one antigen per position (allele lists within an antigen are fine)",
            where="patient_gl",
            field="patient_gl",
        )
    p_ag, p_al = coded
    th = resolve_thresholds(settings, spec, patient.weight_kg, patient.malignant)
    profile = AntibodyProfile.build(patient.antibodies, tables, settings.value("dsa_mfi"))
    g = kernel.grade_index(index, p_ag, p_al, profile, tables.coded_relation)
    exact_grades = _grade_exact(index, patient, profile, g, tables)
    if profile.extra:
        _extra_loci(index, profile, g, tables)
    n = index.n
    w = patient.weight_kg
    before, after = key_parts(spec)
    prefix = _keys(before, g, th, spec.dsa_action == "exclude")
    acceptable = prefix >= 0
    acceptable &= index.tnc[:n] > np.float32(th.prefilter_tnc * TNC_UNIT * w)
    acceptable &= ~(index.cd34[:n] < np.float32(th.prefilter_cd34 * CD34_UNIT * w))
    mask = acceptable & _meets_single(index, g, th) if spec.require_single_dose else acceptable.copy()
    band = settings.value("tie_band_tnc")
    tnc_key = index.tnc[:n] / np.float32(TNC_UNIT * w)
    if band > 0:
        tnc_key = np.floor(tnc_key / np.float32(band)).astype(np.float32)
    return SearchContext(
        index,
        patient,
        spec,
        settings,
        th,
        profile,
        g,
        mask,
        acceptable,
        prefix,
        _keys(after, g) if after else np.zeros(n, dtype=np.int32),
        tnc_key,
        exact_grades,
        today or dt.date.today(),
        tables,
    )


def check_patient_loci(typing: HlaTyping) -> list[str]:
    """A search needs the patient typed at A, B and DRB1 (InvalidInputError naming the missing loci);
    returns the cautions for other missing loci (HLA-C)."""
    missing = [f"HLA-{locus}" for locus in ("A", "B", "DRB1") if locus not in typing.loci]
    if missing:
        raise InvalidInputError(
            f"the patient typing lacks {', '.join(missing)}: a search needs HLA-A, -B and -DRB1 typed "
            "(match grades and the 4/6 floor are computed on them)",
            where="patient_gl",
            field="patient_gl",
        )
    if "C" not in typing.loci:
        return ["patient HLA-C not typed: 8/8 counts are unresolved for every unit; type HLA-C before selection"]
    return []


def _extra_loci(index: UnitIndex, profile: AntibodyProfile, g: kernel.Graded, tables: NomenclatureTables) -> None:
    """Antibodies at loci outside the coded ones (DRB3/4/5, DQ, DP): a unit typed there is assessed from its
    full typing; otherwise an antibody to DR51/52/53 is a possible DSA on units whose DRB1 group carries that
    locus (vectorised over the DRB1 genotypes). DQ/DP on untyped units: not assessed (checks only)."""
    n = index.n
    extra_possible = np.zeros(n, dtype=np.bool_)
    drb = [r for r in profile.extra if r.locus in DRB_SECONDARY]
    if drb:
        gt = index.genotypes[CODED_LOCI.index("DRB1")]
        carrier = _drb1_carriers(tables, frozenset().union(*(DRB_SECONDARY[r.locus] for r in drb)))
        by_genotype = carrier[gt.ag[:, 0].astype(np.intp) + 1] | carrier[gt.ag[:, 1].astype(np.intp) + 1]
        by_genotype |= gt.ag[:, 0] < 0  # DRB1 not typed: cannot be inferred
        extra_possible |= np.take(by_genotype, index.gid[2, :n], mode="clip")
    seen: dict[str, Crossmatch] = {}  # units share their DRB1/DRB3/4/5/DQ/DP parts: assess each once
    for slot, gl in index.extra_hla.items():
        key = "^".join(sorted(p for p in gl.split("^") if p.strip().split("*", 1)[0] in _EXTRA_KEY_LOCI))
        if "~" in gl or not key:  # phased across loci: the whole typing
            key = gl
        x = seen.get(key)
        if x is None:
            x = seen[key] = assess(profile.extra, parse_typing(key, tables), tables)
        extra_possible[slot] = bool(x.possible)
        if x.definite and kernel.field(g.packed[slot : slot + 1], kernel.DSA_DEF)[0] < 7:
            g.packed[slot] += np.uint16(1 << kernel.DSA_DEF)
    if g.dsa_possible is not None:
        extra_possible |= g.dsa_possible
    g.dsa_possible = extra_possible & ~g.dsa_definite()


_EXTRA_KEY_LOCI = frozenset({"DRB1", "DRB3", "DRB4", "DRB5", "DQB1", "DQA1", "DPB1", "DPA1"})


def _drb1_carriers(tables: NomenclatureTables, families: frozenset[str]) -> npt.NDArray[np.bool_]:
    """Antigen ids (+1 shifted) of DRB1 antigens whose alleles belong to the given first-field groups."""
    out = np.zeros(len(tables.serology_names) + 1, dtype=np.bool_)
    for a, name in enumerate(tables.alleles):
        if name.startswith("DRB1*") and drb1_family(name) in families:
            out[int(tables.allele_serology[a]) + 1] = True
    for k, members in enumerate(tables.serology_sets):  # an antigen set (DRB1*04:XX-like) carries it if any member does
        out[tables.serology_real + k + 1] = bool(out[[x + 1 for x in members]].any())
    return out


def _meets_single(index: UnitIndex, g: kernel.Graded, th: DoseThresholds) -> npt.NDArray[np.bool_]:
    """Units one of which is enough: TNC at the single-unit minimum (higher for >= 2 mismatches of 6 at
    worst, Barker 2010) and, when recorded, CD34+ at the single-unit minimum."""
    n = index.n
    w = th.weight_kg
    tnc = index.tnc[:n]
    thr = np.float32(th.single_tnc * TNC_UNIT * w)
    out: npt.NDArray[np.bool_] = tnc > thr if th.single_tnc_strict else tnc >= thr
    if th.single_tnc_mismatched > th.single_tnc:
        out &= ~g.mismatched6() | (tnc >= np.float32(th.single_tnc_mismatched * TNC_UNIT * w))
    out &= ~(index.cd34[:n] < np.float32(th.single_cd34 * CD34_UNIT * w))
    return out


def _grade_exact(
    index: UnitIndex, patient: Patient, profile: AntibodyProfile, g: kernel.Graded, tables: NomenclatureTables
) -> dict[int, Any]:
    """Grade the side list (uncodable units) exactly and write their results into the packed arrays."""
    out: dict[int, Any] = {}
    for slot, typing in list(index.exact.items()):
        if not index.flags[slot] & LIVE:
            continue
        if isinstance(typing, str):
            typing = parse_typing(typing, tables)
            index.exact[slot] = typing
        mg = grade(patient.typing, typing)
        out[slot] = mg
        x = profile.typing_names(typing, tables)
        definite, possible = x.definite, x.possible or x.not_assessed
        g.packed[slot] = _packed_grade(mg, bool(definite))
        if possible and not definite:
            if g.dsa_possible is None:
                g.dsa_possible = np.zeros(index.n, dtype=np.bool_)
            g.dsa_possible[slot] = True
    return out


def _packed_grade(mg: Any, dsa_definite: bool) -> int:
    """The packed kernel value of an exact grade: mismatches of 8 and 6 (certain and unresolved), HLA-C
    mismatch, definite DSA (the layout of :mod:`cordmatch.selection.kernel`)."""
    mm8 = unsure = mm6 = bad6 = c = 0
    for li, locus in enumerate(("A", "B", "C", "DRB1")):
        lg = mg.loci.get(locus)
        typed = lg is not None and lg.typed == "both"
        al = lg.allele.bidirectional if typed else None
        ag = lg.antigen.bidirectional if typed else None
        mm8 += al or 0
        unsure += al is None
        if li == 2:
            c = al or 0
            continue
        six = ag if li < 2 else al  # A and B at antigen level, DRB1 at allele level
        mm6 += six or 0
        bad6 += six is None
    packed = (mm8 << kernel.MM8) | (mm6 << kernel.MM6) | (min(unsure, 7) << kernel.UNSURE8)
    packed |= (min(bad6, 3) << kernel.BAD6) | ((1 if dsa_definite else 0) << kernel.DSA_DEF)
    return packed | ((1 if c else 0) << kernel.C_MM)
