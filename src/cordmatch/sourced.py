"""The shared vocabulary of sourced figures and rule checks (pure, no I/O).

- :class:`Sourced`: a number with the source it comes from and its :class:`Status` ([V] verified against
  the source, [U] unverified: an assumption or a centre's override). Selection thresholds and the
  engraftment model's parameters are both sourced figures.
- :class:`RuleCheck`: one rule applied to one unit, with its :class:`Verdict` and source label.
- :data:`ABO_GROUPS`: the ABO blood groups, in the order of their index codes (O = 0).
- :func:`plain_dict`: the JSON shape of a dataclass (enums as their text, tuples as lists).

The enums are ``StrEnum``: they compare equal to, format as and serialise to the same text as the plain
strings they replace, so JSON, CSV and text outputs stay byte-identical.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

#: ABO blood groups; a group's position is its code in the search index's flag bits.
ABO_GROUPS: tuple[str, ...] = ("O", "A", "B", "AB")


class Status(StrEnum):
    """Whether a figure was checked against its source."""

    VERIFIED = "V"
    UNVERIFIED = "U"


class Verdict(StrEnum):
    """The verdict of a rule check."""

    PASS = "pass"
    FAIL = "fail"  # a hard filter failed: the unit is excluded
    FLAG = "flag"  # shown, with a caution (may rank the unit lower)
    INFO = "info"  # shown for the coordinator, no effect


def source_label(source: str, status: str) -> str:
    """``Dehn 2019 [V]``."""
    return f"{source} [{status}]"


@dataclass(frozen=True, slots=True)
class Sourced:
    """One number with the source it comes from and its status ([V] verified / [U] assumption)."""

    value: float
    source: str
    status: Status
    note: str = ""

    @property
    def label(self) -> str:
        """``Dehn 2019 [V]``."""
        return source_label(self.source, self.status)


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """One rule applied to one unit: the value, the threshold, the verdict and the source label."""

    rule: str
    value: str
    threshold: str
    verdict: Verdict
    source: str

    def __post_init__(self) -> None:
        # a verdict given as text becomes the enum; a misspelt one is an error, never a silent non-failure
        object.__setattr__(self, "verdict", Verdict(self.verdict))

    def to_dict(self) -> dict[str, Any]:
        return plain_dict(self)

    def sentence(self) -> str:
        """``TNC dose 3.4 x10^7/kg >= 3.0: pass [Dehn 2019 [V]]``."""
        thr = f" (threshold {self.threshold})" if self.threshold else ""
        return f"{self.rule}: {self.value}{thr}: {self.verdict} [{self.source}]"


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def plain_dict(obj: Any) -> dict[str, Any]:
    """The fields of a dataclass instance as a JSON-ready dict, in field order: nested dataclasses as
    dicts, enums as their values, tuples as lists."""
    return {k: _plain(v) for k, v in dataclasses.asdict(obj).items()}
