"""Population coverage and bank planning (pure core, no I/O).

Which share of simulated patients a registry serves at each match level, with and without the single-unit
dose and with a double graft; how that grows with bank size; which haplotypes are under-served; which
candidate units would newly serve the most patients. Counts are worst-case: a unit whose grade or dose
cannot be settled for a patient (antigen-level typing, untyped locus, possible DSA) is not counted at a
level it might only reach in the best case.
"""

from cordmatch.coverage.engine import (
    LEVELS,
    CoverageIndex,
    CoveragePatients,
    DoseRule,
    PatientCoverage,
    evaluate,
    served_matrix,
)
from cordmatch.coverage.stats import summarise, wilson

__all__ = [
    "LEVELS",
    "CoverageIndex",
    "CoveragePatients",
    "DoseRule",
    "PatientCoverage",
    "evaluate",
    "served_matrix",
    "summarise",
    "wilson",
]
