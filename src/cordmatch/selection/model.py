"""Plain data of a unit search: the unit record, the patient, rule checks and ranked results (with JSON)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cordmatch.hla.typing import HlaTyping
from cordmatch.sourced import RuleCheck as RuleCheck
from cordmatch.sourced import Verdict

#: Verdicts of a rule check (see :class:`cordmatch.sourced.Verdict`).
PASS = Verdict.PASS
FAIL = Verdict.FAIL  # a hard filter failed: the unit is excluded
FLAG = Verdict.FLAG  # shown, with a caution (may rank the unit lower)
INFO = Verdict.INFO  # shown for the coordinator, no effect


@dataclass(frozen=True, slots=True)
class UnitRecord:
    """A listed cord blood unit as search sees it. Cell counts are totals, pre-cryopreservation (cells)."""

    unit_id: str
    hla: str
    tnc: float
    cd34: float | None = None
    volume_ml: float | None = None
    abo: str | None = None
    rh: str | None = None
    bank: str = ""
    accredited: bool = False
    collection_date: dt.date | None = None
    rbc_depleted: bool = True
    attached_segment: bool = True
    nima: str | None = None
    population: str | None = None


@dataclass(frozen=True, slots=True)
class Antibody:
    """An anti-HLA antibody of the patient: a specificity (allele ``A*02:01`` or antigen ``A2``/``A*02``)."""

    specificity: str
    mfi: float
    line: int | None = None
    source: str = "antibodies"  # where it was read (a file name), for error messages


@dataclass(frozen=True, slots=True)
class Patient:
    """The patient of a search. ``malignant`` None = not known (standard thresholds apply)."""

    typing: HlaTyping
    weight_kg: float
    diagnosis: str | None = None
    malignant: bool | None = None
    abo: str | None = None
    antibodies: tuple[Antibody, ...] = ()


@dataclass(frozen=True)
class RankedUnit:
    """A unit in the result list, with its grade and every rule check."""

    rank: int
    unit: UnitRecord
    grade: dict[str, Any]
    tnc_per_kg: float
    cd34_per_kg: float | None
    checks: tuple[RuleCheck, ...]
    graded_by: str = "coded"  # coded | exact | probability
    probable_8: int | None = None  # unresolved typing: the median 8-allele match under the population's frequencies

    @property
    def match_8(self) -> int | None:
        v = self.grade["match_8"]["bidirectional"]
        return None if v is None else int(v)

    @property
    def match_6(self) -> int | None:
        v = self.grade["match_6"]["bidirectional"]
        return None if v is None else int(v)

    def reasons(self) -> list[str]:
        return [c.sentence() for c in self.checks]

    def to_dict(self) -> dict[str, Any]:
        u = self.unit
        return {
            "rank": self.rank,
            "unit_id": u.unit_id,
            "hla": u.hla,
            "match_6": self.grade["match_6"],
            "match_8": self.grade["match_8"],
            "tnc_per_kg": round(self.tnc_per_kg, 3),
            "cd34_per_kg": None if self.cd34_per_kg is None else round(self.cd34_per_kg, 3),
            "reasons": self.reasons(),
            "checks": [c.to_dict() for c in self.checks],
            "graded_by": self.graded_by,
            "unit": {
                "bank": u.bank,
                "accredited": u.accredited,
                "abo": u.abo,
                "rh": u.rh,
                "rbc_depleted": u.rbc_depleted,
                "attached_segment": u.attached_segment,
                "collection_date": None if u.collection_date is None else u.collection_date.isoformat(),
                "volume_ml": u.volume_ml,
                "tnc_total": u.tnc,
                "cd34_total": u.cd34,
            },
            "loci": self.grade.get("loci", {}),
        }


@dataclass(frozen=True)
class DoubleUnit:
    """A double-unit graft suggestion: two units, their combined dose and their unit-to-unit match."""

    first: RankedUnit
    second: RankedUnit
    combined_tnc_per_kg: float
    combined_cd34_per_kg: float | None
    unit_to_unit: dict[str, Any]
    checks: tuple[RuleCheck, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "units": [self.first.to_dict(), self.second.to_dict()],
            "combined_tnc_per_kg": round(self.combined_tnc_per_kg, 3),
            "combined_cd34_per_kg": None if self.combined_cd34_per_kg is None else round(self.combined_cd34_per_kg, 3),
            "unit_to_unit": {"match_6": self.unit_to_unit["match_6"], "match_8": self.unit_to_unit["match_8"]},
            "reasons": [c.sentence() for c in self.checks],
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class Explanation:
    """Why one unit was excluded or ranked where it was."""

    unit_id: str
    status: str  # ranked | excluded | below the shown list | not found
    rank: int | None
    checks: tuple[RuleCheck, ...]
    lines: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit_id,
            "status": self.status,
            "rank": self.rank,
            "checks": [c.to_dict() for c in self.checks],
            "explanation": list(self.lines),
        }


@dataclass(frozen=True)
class SearchOutcome:
    """Results of one patient's search."""

    policy: str
    patient: dict[str, Any]
    results: tuple[RankedUnit, ...]
    double_units: tuple[DoubleUnit, ...]
    counts: dict[str, int]
    notes: tuple[str, ...] = field(default=())
    explanation: Explanation | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "policy": self.policy,
            "patient": self.patient,
            "counts": self.counts,
            "results": [r.to_dict() for r in self.results],
            "double_units": [d.to_dict() for d in self.double_units],
            "notes": list(self.notes),
        }
        if self.explanation is not None:
            out["explain"] = self.explanation.to_dict()
        return out
