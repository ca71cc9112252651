"""The coverage engine's data: dose rules per policy, the registry's units ordered for coverage, the coded
patients, and the per-patient result (pure numpy)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import CodedRelation
from cordmatch.selection.crossmatch import AntibodyProfile
from cordmatch.selection.index import LIVE, NOT_CODABLE, UnitIndex
from cordmatch.selection.rules import CD34_UNIT, TNC_UNIT, resolve_thresholds
from cordmatch.selection.settings import PolicySpec, SelectionSettings

I16 = npt.NDArray[np.int16]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DoseRule:
    """Dose thresholds per kg of one policy (x10^7 TNC/kg, x10^5 CD34+/kg), by diagnosis class.

    ``single[c]``: (TNC minimum, strict) for malignant class c (0 = not malignant, 1 = malignant, 2 = not
    known), from :func:`cordmatch.selection.rules.resolve_thresholds`. A unit has the single-unit dose when
    TNC/kg meets that minimum and its CD34+/kg, when recorded, meets the single-unit CD34+ minimum (and the
    search pre-filters). ``mismatched_tnc``: a higher TNC minimum for units with 2 mismatches of 6 at worst,
    when the selection rules define one (``DoseThresholds.single_tnc_mismatched``; 0 = none).
    """

    single: tuple[tuple[float, bool], tuple[float, bool], tuple[float, bool]]
    prefilter_tnc: float
    prefilter_cd34: float
    double_each_tnc: float
    double_each_cd34: float
    double_combined_tnc: float
    source: str = ""
    single_cd34: float = 0.0
    mismatched_tnc: float = 0.0

    @property
    def single_cd34_min(self) -> float:
        return max(self.prefilter_cd34, self.single_cd34)

    @classmethod
    def from_settings(cls, settings: SelectionSettings, policy: PolicySpec) -> DoseRule:
        resolved = [resolve_thresholds(settings, policy, 1.0, m) for m in (False, True, None)]
        single = tuple((th.single_tnc, th.single_tnc_strict) for th in resolved)
        return cls(
            single=single,  # type: ignore[arg-type]
            prefilter_tnc=settings.value("prefilter_tnc_min"),
            prefilter_cd34=settings.value("prefilter_cd34_min"),
            double_each_tnc=settings.value("double_each_tnc_min"),
            double_each_cd34=settings.value("double_each_cd34_min"),
            double_combined_tnc=settings.value("double_combined_tnc_min"),
            source=policy.name,
            single_cd34=resolved[0].single_cd34,
            mismatched_tnc=float(getattr(resolved[0], "single_tnc_mismatched", 0.0)),
        )


@dataclass
class CoverageIndex:
    """The live units of a registry for coverage: genotype ids (3, N) ordered by TNC descending, doses, and
    the coded genotype alternatives of ambiguous units (worst alternative counts)."""

    genotypes: list[tuple[I16, I16]]  # per locus (A, B, C, DRB1): (G, 2) antigen and allele ids
    pair_b: npt.NDArray[np.intp]
    pair_c: npt.NDArray[np.intp]
    gid: npt.NDArray[np.intp]  # (3, N): A genotype, (B, C) pair, DRB1 genotype
    tnc: F32  # cells
    cd34: F32  # cells, NaN = not recorded
    alt_pos: npt.NDArray[np.int64]  # (O,) positions (into gid, ascending) of units with genotype alternatives
    alt_perm: npt.NDArray[np.int64]  # (O,) owner order (as in alt_start) -> ascending positions
    alt_start: npt.NDArray[np.int64]  # (O,) first row of each owner in alt_gid
    alt_gid: npt.NDArray[np.int64]  # (4, R) per-locus genotype ids of the alternative rows
    slots: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))  # index slot of each
    exact_only: int = 0  # units not coded (graded exactly by the search): counted as untyped here
    relation: CodedRelation | None = None  # WHO antigen relation (tables.coded_relation)
    _caps: dict[tuple[str, float, float], F32] = field(default_factory=dict, repr=False)
    _orders: dict[tuple[str, float, float], tuple[CoverageIndex, F32]] = field(default_factory=dict, repr=False)
    _tnc_order: npt.NDArray[np.int64] | None = field(default=None, repr=False)
    _unknown: dict[int, npt.NDArray[np.int64]] = field(default_factory=dict, repr=False)
    _lists: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.gid.shape[1])

    @classmethod
    def from_unit_index(
        cls,
        index: UnitIndex,
        subset: npt.NDArray[np.int64] | None = None,
        relation: CodedRelation | None = None,
    ) -> CoverageIndex:
        """The live units of ``index`` (or of the slots in ``subset``), ordered by TNC descending.
        ``relation``: the WHO antigen relation of the release, passed to the kernel when it takes one."""
        n = index.n
        slots = np.flatnonzero((index.flags[:n] & LIVE) != 0) if subset is None else np.asarray(subset, np.int64)
        if subset is not None and len(slots) and not bool(((index.flags[slots] & LIVE) != 0).all()):
            raise InvalidInputError("the subset names withdrawn or unused slots", where="subset")
        order = slots[np.argsort(-index.tnc[slots], kind="stable")]
        pos_of = np.full(n, -1, dtype=np.int64)
        pos_of[order] = np.arange(len(order))
        owner = index.alt_owner
        keep = pos_of[owner] >= 0 if len(owner) else np.zeros(0, dtype=np.bool_)
        owner, alt_gid = owner[keep], index.alt_gid[:, keep]
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(owner) else np.zeros(0, np.int64)
        not_codable = (index.flags[order] & NOT_CODABLE) != 0
        owner_pos = pos_of[owner[starts]] if len(owner) else np.zeros(0, np.int64)
        perm = np.argsort(owner_pos, kind="stable")
        return cls(
            genotypes=[(g.ag, g.al) for g in index.genotypes],
            pair_b=index.bc.b,
            pair_c=index.bc.c,
            gid=np.ascontiguousarray(index.gid[:, order]),
            tnc=index.tnc[order].copy(),
            cd34=index.cd34[order].copy(),
            alt_pos=owner_pos[perm],
            alt_perm=perm,
            alt_start=starts.astype(np.int64),
            alt_gid=alt_gid,
            slots=order,
            exact_only=int(not_codable.sum()) - len(starts),
            relation=relation,
        )

    def reordered(self, perm: npt.NDArray[np.int64]) -> CoverageIndex:
        """The same units in the order ``perm`` (positions into this index)."""
        inv = np.empty(len(perm), dtype=np.int64)
        inv[perm] = np.arange(len(perm))
        owner_pos = np.empty(len(self.alt_pos), dtype=np.int64)
        owner_pos[self.alt_perm] = self.alt_pos
        new_pos = inv[owner_pos]
        alt_perm = np.argsort(new_pos, kind="stable")
        return CoverageIndex(
            genotypes=self.genotypes,
            pair_b=self.pair_b,
            pair_c=self.pair_c,
            gid=np.ascontiguousarray(self.gid[:, perm]),
            tnc=self.tnc[perm],
            cd34=self.cd34[perm],
            alt_pos=new_pos[alt_perm],
            alt_perm=alt_perm,
            alt_start=self.alt_start,
            alt_gid=self.alt_gid,
            slots=self.slots[perm],
            exact_only=self.exact_only,
            relation=self.relation,
        )

    def by_capacity(self, tnc_min: float, cd34_min: float) -> tuple[CoverageIndex, F32]:
        """This index ordered by single-unit capacity (kg) descending, and those capacities: the units that
        dose a patient of weight w are a prefix (cached per threshold pair)."""
        key = ("order", tnc_min, cd34_min)
        if key not in self._orders:
            cap = self.capacity("single", tnc_min, cd34_min)
            perm = np.argsort(-cap, kind="stable")
            self._orders[key] = (self.reordered(perm), cap[perm])
        return self._orders[key]

    def locus_lists(self) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
        """Per locus A, B, DRB1: positions sorted by that locus' genotype id, and each genotype's offset
        (CSR, cached): the units carrying given genotypes without a scan."""
        if self._lists is None:
            rows = [self.gid[0], self.pair_b[self.gid[1]], self.gid[2]]
            sizes = [len(self.genotypes[0][0]), len(self.genotypes[1][0]), len(self.genotypes[3][0])]
            self._lists = []
            for g, size in zip(rows, sizes, strict=True):
                offsets = np.zeros(size + 1, dtype=np.int64)
                offsets[1:] = np.cumsum(np.bincount(g, minlength=size))
                self._lists.append((np.argsort(g, kind="stable").astype(np.int64), offsets))
        return self._lists

    def unknown_alleles(self, locus: int) -> npt.NDArray[np.int64]:
        """Per genotype of ``locus``: typed positions whose allele is not known (cached)."""
        if locus not in self._unknown:
            g_ag, g_al = self.genotypes[locus]
            self._unknown[locus] = ((g_al < 0) & (g_ag >= 0)).sum(axis=1).astype(np.int64)
        return self._unknown[locus]

    def tnc_order(self) -> npt.NDArray[np.int64]:
        """Positions by TNC descending (cached)."""
        if self._tnc_order is None:
            self._tnc_order = np.argsort(-self.tnc, kind="stable")
        return self._tnc_order

    def capacity(self, kind: str, tnc_min: float, cd34_min: float) -> F32:
        """Per unit, the heaviest patient (kg) it doses: min(TNC / tnc_min, CD34+ / cd34_min when recorded)."""
        key = (kind, tnc_min, cd34_min)
        if key not in self._caps:
            cap = self.tnc / np.float32(tnc_min * TNC_UNIT)
            if cd34_min > 0:
                by_cd34 = self.cd34 / np.float32(cd34_min * CD34_UNIT)
                cap = np.where(np.isnan(by_cd34), cap, np.minimum(cap, by_cd34))
            self._caps[key] = cap.astype(np.float32)
        return self._caps[key]


@dataclass
class CoveragePatients:
    """Coded patients: typing (P, 4, 2) antigen and allele ids, weight (kg), diagnosis class, antibodies."""

    ag: I16
    al: I16
    weight_kg: F64
    malignant: npt.NDArray[np.int8]  # 0 no, 1 yes, 2 not known
    profiles: Sequence[AntibodyProfile | None]
    population: Sequence[str]

    def __len__(self) -> int:
        return len(self.ag)

    @staticmethod
    def concat(parts: Sequence[CoveragePatients]) -> CoveragePatients:
        return CoveragePatients(
            np.concatenate([p.ag for p in parts]),
            np.concatenate([p.al for p in parts]),
            np.concatenate([p.weight_kg for p in parts]),
            np.concatenate([p.malignant for p in parts]),
            [x for p in parts for x in p.profiles],
            [x for p in parts for x in p.population],
        )

    def take(self, rows: npt.NDArray[np.int64]) -> CoveragePatients:
        return CoveragePatients(
            self.ag[rows],
            self.al[rows],
            self.weight_kg[rows],
            self.malignant[rows],
            [self.profiles[int(r)] for r in rows],
            [self.population[int(r)] for r in rows],
        )


@dataclass
class PatientCoverage:
    """Per patient: units at or above each level (LEVELS order) without and with the single-unit dose, and
    whether a double graft exists (None when dose was not assessed)."""

    count: npt.NDArray[np.int64]  # (P, 6)
    count_dose: npt.NDArray[np.int64] | None  # (P, 6)
    double: npt.NDArray[np.bool_] | None  # (P,)
    population: list[str]

    def __len__(self) -> int:
        return len(self.count)

    @staticmethod
    def concat(parts: Sequence[PatientCoverage]) -> PatientCoverage:
        dose = all(p.count_dose is not None for p in parts) and len(parts) > 0
        return PatientCoverage(
            np.concatenate([p.count for p in parts]) if parts else np.zeros((0, 6), np.int64),
            np.concatenate([p.count_dose for p in parts if p.count_dose is not None]) if dose else None,
            np.concatenate([p.double for p in parts if p.double is not None]) if dose else None,
            [x for p in parts for x in p.population],
        )
