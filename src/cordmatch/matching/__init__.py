"""Match grading (pure core): patient vs donor or cord blood unit, per locus and position, with reasons."""

from cordmatch.matching.grade import grade
from cordmatch.matching.model import LocusGrade, MatchCount, MatchGrade, PositionGrade

__all__ = ["LocusGrade", "MatchCount", "MatchGrade", "PositionGrade", "grade"]
