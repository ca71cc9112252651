"""Simulated patients as the coverage engine takes them, with the haplotype pair each was drawn from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cordmatch.coverage.engine import CoveragePatients
from cordmatch.coverage.planning import HaplotypeTable
from cordmatch.errors import InvalidInputError

MAX_PATIENTS = 1_000_000


@dataclass
class SimulatedPatients:
    """Coded simulated patients plus their haplotype pair (ids into ``tables[population]``)."""

    coded: CoveragePatients
    haplotypes: npt.NDArray[np.int64]  # (P, 2)
    tables: dict[str, HaplotypeTable] = field(default_factory=dict)


def check_count(n: int, where: str = "--patients") -> int:
    if not 1 <= n <= MAX_PATIENTS:
        raise InvalidInputError(f"the number of patients must be between 1 and {MAX_PATIENTS:,}, not {n}", where=where)
    return n
