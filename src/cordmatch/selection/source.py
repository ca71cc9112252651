"""Where a search reads full unit records, and the seam for match probabilities of unresolved typings."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cordmatch.hla.typing import HlaTyping
from cordmatch.selection.model import UnitRecord


class UnitSource(Protocol):
    """Where full unit records come from (the bank store, a Parquet registry, a dict in tests)."""

    def records(self, unit_ids: Sequence[str]) -> Mapping[str, UnitRecord]: ...


#: Seam for cordmatch.probability: P(8/8), P(>=7/8), P(6/6) of an ambiguous unit, or None.
ProbabilityGrader = Callable[[HlaTyping, HlaTyping], Mapping[str, float] | None]


@dataclass
class DictSource:
    """Unit records held in memory."""

    by_id: dict[str, UnitRecord] = field(default_factory=dict)

    def records(self, unit_ids: Sequence[str]) -> Mapping[str, UnitRecord]:
        return {u: self.by_id[u] for u in unit_ids if u in self.by_id}
