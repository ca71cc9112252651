"""QC release criteria as data, and the release decision that checks every one of them.

Each criterion carries its threshold and the source of that threshold ([V] seen in a source, [U] not
verified; domain.md). Banks replace the defaults with their own (``criteria_from_json``). The decision
lists every criterion with the recorded value and a verdict: ``pass``, ``fail`` or ``missing``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from cordmatch.errors import InvalidInputError

Kind = Literal["gt", "ge", "lt", "le", "eq", "present"]
Verdict = Literal["pass", "fail", "missing", "not required"]
KINDS: tuple[str, ...] = ("gt", "ge", "lt", "le", "eq", "present")

# The measured values a criterion may test; the service layer computes them from a unit.
RESULT_KEYS: dict[str, str] = {
    "collection_volume_ml": "collection volume (mL)",
    "tnc_pre_cryo": "TNC before cryopreservation (cells)",
    "cd34_pre_cryo": "CD34+ before cryopreservation (cells)",
    "viability_pre_cryo_pct": "viability before cryopreservation (%)",
    "post_thaw_viable_cd34_pct": "post-thaw viable CD34+ (%)",
    "post_thaw_viable_cd45_pct": "post-thaw viable CD45+ (%)",
    "post_thaw_cfu": "post-thaw CFU (colonies)",
    "sterility": "sterility culture (aerobic + anaerobic)",
    "idm": "maternal infectious disease markers",
    "hb_screen": "haemoglobinopathy screen",
    "abo_rh": "ABO/Rh",
    "hla_typing": "HLA typing (GL string)",
    "attached_segments": "attached segments",
}


@dataclass(frozen=True, slots=True)
class Criterion:
    """One release criterion: ``value <kind> threshold`` (``present``: recorded at all)."""

    key: str
    kind: Kind
    threshold: float | str | None
    source: str
    required: bool = True
    label: str = ""

    def __post_init__(self) -> None:
        if self.key not in RESULT_KEYS:
            raise InvalidInputError(f"unknown QC result {self.key!r}", where="criterion.key")
        if self.kind not in KINDS:
            raise InvalidInputError(f"unknown comparison {self.kind!r} (known: {KINDS})", where="criterion.kind")
        if self.kind in ("gt", "ge", "lt", "le") and not isinstance(self.threshold, int | float):
            raise InvalidInputError(f"criterion {self.key} needs a numeric threshold", where="criterion.threshold")
        if self.kind == "eq" and self.threshold is None:
            raise InvalidInputError(f"criterion {self.key} needs an expected value", where="criterion.threshold")
        if not self.source.strip():
            raise InvalidInputError(f"criterion {self.key} needs its source", where="criterion.source")

    @property
    def text(self) -> str:
        name = self.label or RESULT_KEYS[self.key]
        ops = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "="}
        return f"{name} recorded" if self.kind == "present" else f"{name} {ops[self.kind]} {self.threshold}"

    def judge(self, value: Any) -> Verdict:
        if value is None or value == "":
            return "missing" if self.required else "not required"
        if self.kind == "present":
            return "pass"
        if self.kind == "eq":
            return "pass" if str(value).strip().lower() == str(self.threshold).strip().lower() else "fail"
        try:
            v = float(value)
        except (TypeError, ValueError):
            return "fail"
        t = float(self.threshold)  # type: ignore[arg-type]
        ok = {"gt": v > t, "ge": v >= t, "lt": v < t, "le": v <= t}[self.kind]
        return "pass" if ok else "fail"


# Defaults. Thresholds are [U] unless the source says [V]; every bank should set its own.
DEFAULT_CRITERIA: tuple[Criterion, ...] = (
    Criterion("post_thaw_viable_cd34_pct", "gt", 70.0, "NetCord-FACT via FACT-news 2018 [V]"),
    Criterion("post_thaw_viable_cd45_pct", "gt", 40.0, "NetCord-FACT via FACT-news 2018 [V]"),
    Criterion("post_thaw_cfu", "gt", 0.0, "NetCord-FACT via FACT-news 2018 (CFU growth) [V]"),
    Criterion("sterility", "eq", "negative", "NetCord-FACT scope: sterility testing [V]"),
    Criterion("idm", "eq", "negative", "NetCord-FACT scope: maternal IDM testing [V]"),
    Criterion("tnc_pre_cryo", "ge", 9e8, "IOM 2005 bank survey (8-9 x 10^8) [V]; modern cut-offs higher [U]"),
    Criterion("collection_volume_ml", "ge", 40.0, "IOM 2005 bank survey (>= 40-50 mL) [V]"),
    Criterion("hla_typing", "present", None, "NetCord-FACT scope: HLA typing [V]"),
    Criterion("abo_rh", "present", None, "NetCord-FACT scope: ABO/Rh [V]"),
    Criterion("hb_screen", "eq", "normal", "NetCord-FACT scope: haemoglobinopathy screen [V]; menu [U]"),
    Criterion("attached_segments", "ge", 1, "Eurocord: attached segment for confirmatory typing [V]"),
)


@dataclass(frozen=True, slots=True)
class CriterionResult:
    key: str
    text: str
    value: Any
    verdict: Verdict
    source: str
    required: bool


@dataclass(frozen=True, slots=True)
class ReleaseDecision:
    """Every criterion with its value and verdict; ``passed`` when none failed or is missing."""

    items: tuple[CriterionResult, ...]

    @property
    def passed(self) -> bool:
        return all(i.verdict in ("pass", "not required") for i in self.items)

    @property
    def failures(self) -> tuple[CriterionResult, ...]:
        return tuple(i for i in self.items if i.verdict in ("fail", "missing"))

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "items": [asdict(i) for i in self.items]}


def evaluate(criteria: Sequence[Criterion], values: Mapping[str, Any]) -> ReleaseDecision:
    """Judge every criterion against the recorded ``values`` (keys from RESULT_KEYS)."""
    return ReleaseDecision(
        tuple(
            CriterionResult(c.key, c.text, values.get(c.key), c.judge(values.get(c.key)), c.source, c.required)
            for c in criteria
        )
    )


def criteria_to_json(criteria: Sequence[Criterion]) -> str:
    return json.dumps([asdict(c) for c in criteria], indent=2, sort_keys=True)


def criteria_from_json(text: str) -> tuple[Criterion, ...]:
    """Criteria from JSON: a list of objects with key, kind, threshold, source[, required, label]."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"QC criteria are not valid JSON: {exc.msg}", where=f"line {exc.lineno}") from None
    if not isinstance(raw, list) or not raw:
        raise InvalidInputError("QC criteria must be a non-empty JSON list", where="criteria")
    out: list[Criterion] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidInputError("each criterion must be an object", where=f"criterion {i}")
        try:
            out.append(
                Criterion(
                    key=str(item["key"]),
                    kind=item["kind"],
                    threshold=item.get("threshold"),
                    source=str(item["source"]),
                    required=bool(item.get("required", True)),
                    label=str(item.get("label", "")),
                )
            )
        except KeyError as exc:
            raise InvalidInputError(f"criterion lacks {exc.args[0]!r}", where=f"criterion {i}") from None
    keys = [c.key for c in out]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise InvalidInputError(f"criteria listed twice: {sorted(dup)}", where="criteria")
    return tuple(out)


class StageCounts(Protocol):
    """The counts of one processing stage (a stored measurement or its API form)."""

    @property
    def volume_ml(self) -> float | None: ...
    @property
    def tnc(self) -> float | None: ...
    @property
    def cd34(self) -> float | None: ...
    @property
    def viability_pct(self) -> float | None: ...
    @property
    def viable_cd34_pct(self) -> float | None: ...
    @property
    def viable_cd45_pct(self) -> float | None: ...
    @property
    def cfu(self) -> float | None: ...


class UnitFacts(Protocol):
    """The unit facts the QC criteria test (a stored unit or its API form)."""

    @property
    def collection_volume_ml(self) -> float | None: ...
    @property
    def sterility(self) -> str | None: ...
    @property
    def idm_result(self) -> str | None: ...
    @property
    def hb_screen(self) -> str | None: ...
    @property
    def abo(self) -> str | None: ...
    @property
    def rh(self) -> str | None: ...
    @property
    def segments(self) -> int | None: ...


def qc_values(unit: UnitFacts, stages: Mapping[str, StageCounts], hla_gl: str | None) -> dict[str, Any]:
    """The values the QC criteria test, keyed as the criteria name them: volume (mL), pre-cryopreservation
    TNC and CD34+ (cells; post-processing counts stand in when no pre-cryo count exists), viabilities (%),
    post-thaw CFU, test results, ABO/Rh, the HLA typing and attached segments."""
    pre = stages.get("pre_cryo") or stages.get("post_processing")
    thaw, coll = stages.get("post_thaw"), stages.get("collection")
    volume = unit.collection_volume_ml if unit.collection_volume_ml is not None else (coll.volume_ml if coll else None)
    return {
        "collection_volume_ml": volume,
        "tnc_pre_cryo": pre.tnc if pre else None,
        "cd34_pre_cryo": pre.cd34 if pre else None,
        "viability_pre_cryo_pct": pre.viability_pct if pre else None,
        "post_thaw_viable_cd34_pct": thaw.viable_cd34_pct if thaw else None,
        "post_thaw_viable_cd45_pct": thaw.viable_cd45_pct if thaw else None,
        "post_thaw_cfu": thaw.cfu if thaw else None,
        "sterility": unit.sterility,
        "idm": unit.idm_result,
        "hb_screen": unit.hb_screen,
        "abo_rh": f"{unit.abo} {unit.rh}" if unit.abo and unit.rh else None,
        "hla_typing": hla_gl,
        "attached_segments": unit.segments if unit.segments else None,
    }
