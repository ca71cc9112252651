"""Results of grading: plain dataclasses with ``to_dict()`` for JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cordmatch.sourced import plain_dict


class Grade(StrEnum):
    """The grade of one position, best to worst (the text shown and written to JSON)."""

    ALLELE_MATCH = "allele match"
    ANTIGEN_MATCH_ALLELE_MISMATCH = "antigen match, allele mismatch"
    ANTIGEN_MISMATCH = "antigen mismatch"
    UNRESOLVED = "unresolved"


class Comparison(StrEnum):
    """One level (antigen or allele) of a position compared: the same, different, or not told by the typing."""

    MATCH = "match"
    MISMATCH = "mismatch"
    UNRESOLVED = "unresolved"


#: Position grades, best to worst.
ALLELE_MATCH = Grade.ALLELE_MATCH
ANTIGEN_MATCH_ALLELE_MISMATCH = Grade.ANTIGEN_MATCH_ALLELE_MISMATCH
ANTIGEN_MISMATCH = Grade.ANTIGEN_MISMATCH
UNRESOLVED = Grade.UNRESOLVED


@dataclass(frozen=True, slots=True)
class PositionGrade:
    """One patient position against the donor position it is paired with."""

    patient: str
    donor: str
    grade: Grade
    antigen: Comparison
    allele: Comparison
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return plain_dict(self)


@dataclass(frozen=True, slots=True)
class DirectionalCounts:
    """Mismatches at one level: GvH (patient antigens the donor lacks), HvG (donor antigens the patient
    lacks), bidirectional (the larger). ``None`` when the typing cannot tell."""

    gvh: int | None
    hvg: int | None

    @property
    def bidirectional(self) -> int | None:
        return None if self.gvh is None or self.hvg is None else max(self.gvh, self.hvg)

    def to_dict(self) -> dict[str, int | None]:
        return {
            "gvh_mismatches": self.gvh,
            "hvg_mismatches": self.hvg,
            "bidirectional_mismatches": self.bidirectional,
        }


@dataclass(frozen=True, slots=True)
class LocusGrade:
    """A locus typed on both sides (or on one side only, then ungraded with a note)."""

    locus: str
    typed: str  # both | patient only | donor only
    allele: DirectionalCounts
    antigen: DirectionalCounts
    positions: tuple[PositionGrade, ...]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "typed": self.typed,
            "gvh_mismatches": self.allele.gvh,
            "hvg_mismatches": self.allele.hvg,
            "bidirectional_mismatches": self.allele.bidirectional,
            "antigen": self.antigen.to_dict(),
            "allele": self.allele.to_dict(),
            "positions": [p.to_dict() for p in self.positions],
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class MatchCount:
    """Matched positions out of ``out_of`` (6 or 8): bidirectional, GvH, HvG. ``None`` with a reason when
    a locus is missing or not typed to the resolution the count needs."""

    out_of: int
    bidirectional: int | None
    gvh: int | None
    hvg: int | None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "bidirectional": self.bidirectional,
            "gvh": self.gvh,
            "hvg": self.hvg,
            "out_of": self.out_of,
            "reason": self.reason,
        }

    def label(self) -> str:
        """``7/8`` or ``n/a``."""
        return f"{self.bidirectional}/{self.out_of}" if self.bidirectional is not None else "n/a"


@dataclass(frozen=True, slots=True)
class MatchGrade:
    """The whole grade of a patient against a donor or unit."""

    match_6: MatchCount
    match_8: MatchCount
    loci: dict[str, LocusGrade]
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "match_6": self.match_6.to_dict(),
            "match_8": self.match_8.to_dict(),
            "loci": {k: v.to_dict() for k, v in self.loci.items()},
            "warnings": list(self.warnings),
        }
