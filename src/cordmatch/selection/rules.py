"""The selection rules applied to one unit, each as a :class:`RuleCheck` (value, threshold, verdict, source).

The vectorised hard filters in :mod:`cordmatch.selection.search` use the same thresholds
(:class:`DoseThresholds`); tests check that every ranked unit has no failed check here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cordmatch.selection.model import FAIL, FLAG, INFO, PASS, RuleCheck, UnitRecord
from cordmatch.selection.settings import PolicySpec, SelectionSettings

TNC_UNIT = 1e7  # TNC doses in x10^7 cells/kg
CD34_UNIT = 1e5  # CD34+ doses in x10^5 cells/kg


@dataclass(frozen=True)
class DoseThresholds:
    """The thresholds of one search, resolved for the policy and the diagnosis (doses per kg)."""

    weight_kg: float
    single_tnc: float
    single_tnc_strict: bool  # True: the dose must exceed the threshold (Eurocord non-malignant)
    single_tnc_name: str
    prefilter_tnc: float
    prefilter_cd34: float
    single_cd34: float
    max_mm8: int  # certain mismatches allowed by the pre-filter (8 - minimum match)
    eurocord_max_mm: int | None

    def meets_single(self, tnc_per_kg: float) -> bool:
        t = self.single_tnc
        return tnc_per_kg > t if self.single_tnc_strict else tnc_per_kg >= t


def resolve_thresholds(
    settings: SelectionSettings, policy: PolicySpec, weight_kg: float, malignant: bool | None
) -> DoseThresholds:
    """Which single-unit TNC minimum applies: Eurocord policy by disease, else Dehn 2019."""
    name, strict = "single_tnc_min", False
    if policy.name == "eurocord" or policy.require_single_dose:
        if malignant is True:
            name = "single_tnc_min_malignant"
        elif malignant is False:
            name, strict = "single_tnc_min_nonmalignant", True
    return DoseThresholds(
        weight_kg=weight_kg,
        single_tnc=settings.value(name),
        single_tnc_strict=strict,
        single_tnc_name=name,
        prefilter_tnc=settings.value("prefilter_tnc_min"),
        prefilter_cd34=settings.value("prefilter_cd34_min"),
        single_cd34=settings.value("single_cd34_min"),
        max_mm8=8 - int(settings.value("prefilter_match_8_min")),
        eurocord_max_mm=int(settings.value("eurocord_max_mismatches")) if policy.max_mismatches else None,
    )


@dataclass(frozen=True)
class UnitFacts:
    """What the rules look at for one unit (per-kg doses already computed)."""

    match_8: int | None
    match_6: int | None
    certain_mm8: int
    c_mismatches: int
    tnc_per_kg: float
    cd34_per_kg: float | None
    dsa_definite: tuple[str, ...]
    dsa_possible: tuple[str, ...]
    nima_match: bool | None  # None = NIMA not recorded
    abo_relation: str | None  # identical | minor | major | bidirectional | None (unknown)
    age_years: float | None
    record: UnitRecord
    graded_by: str = "coded"


def abo_relation(patient: str | None, unit: str | None) -> str | None:
    """ABO relation of a unit to the patient: identical, minor, major or bidirectional incompatibility."""
    if patient is None or unit is None:
        return None
    if patient == unit:
        return "identical"
    p, u = set(patient.replace("O", "")), set(unit.replace("O", ""))
    major = bool(u - p)  # unit antigens the patient lacks: patient antibodies against unit red cells
    minor = bool(p - u)  # patient antigens the unit lacks: unit plasma antibodies against the patient
    return "bidirectional" if major and minor else "major" if major else "minor"


def age_in_years(collected: dt.date | None, today: dt.date) -> float | None:
    return None if collected is None else (today - collected).days / 365.25


def unit_checks(
    facts: UnitFacts, th: DoseThresholds, settings: SelectionSettings, policy: PolicySpec
) -> tuple[RuleCheck, ...]:
    """Every rule for one unit, in the order a coordinator reads them."""
    s = settings
    out: list[RuleCheck] = []
    lab = s["prefilter_match_8_min"].label
    m8 = facts.match_8
    upper = 8 - facts.certain_mm8
    if m8 is not None:
        out.append(
            RuleCheck(
                "HLA match (8 alleles, bidirectional)",
                f"{m8}/8",
                f">= {8 - th.max_mm8}/8",
                PASS if facts.certain_mm8 <= th.max_mm8 else FAIL,
                lab,
            )
        )
    else:
        out.append(
            RuleCheck(
                "HLA match (8 alleles, bidirectional)",
                f"unresolved (at most {upper}/8)",
                f">= {8 - th.max_mm8}/8",
                FLAG if facts.certain_mm8 <= th.max_mm8 else FAIL,
                f"{lab}; needs confirmatory high-resolution typing",
            )
        )
    out.append(
        RuleCheck(
            "HLA match (6: A, B antigen; DRB1 allele)",
            "n/a" if facts.match_6 is None else f"{facts.match_6}/6",
            "",
            INFO,
            "Politikos 2020 [V]",
        )
    )
    if th.eurocord_max_mm is not None:
        mm = facts.certain_mm8
        out.append(
            RuleCheck(
                "mismatches (of 8)",
                str(mm) if m8 is not None else f">= {mm}",
                f"<= {th.eurocord_max_mm}",
                PASS if mm <= th.eurocord_max_mm else FAIL,
                s["eurocord_max_mismatches"].label,
            )
        )
    if "c_match" in policy.order:
        out.append(
            RuleCheck(
                "HLA-C allele mismatches",
                str(facts.c_mismatches),
                "0 (avoid HLA-C mismatch)",
                PASS if facts.c_mismatches == 0 else FLAG,
                "Eurocord [V]",
            )
        )
    tnc = facts.tnc_per_kg
    out.append(
        RuleCheck(
            "TNC dose, search pre-filter",
            f"{tnc:.2f} x10^7/kg",
            f"> {th.prefilter_tnc:g}",
            PASS if tnc > th.prefilter_tnc else FAIL,
            s["prefilter_tnc_min"].label,
        )
    )
    single_ok = th.meets_single(tnc)
    single_verdict = PASS if single_ok else (FAIL if policy.require_single_dose else FLAG)
    op = ">" if th.single_tnc_strict else ">="
    out.append(
        RuleCheck(
            "TNC dose, single unit",
            f"{tnc:.2f} x10^7/kg",
            f"{op} {th.single_tnc:g}",
            single_verdict,
            s[th.single_tnc_name].label,
        )
    )
    cd = facts.cd34_per_kg
    if cd is None:
        out.append(RuleCheck("CD34+ dose", "not recorded", f">= {th.single_cd34:g}", FLAG, s["single_cd34_min"].label))
    else:
        out.append(
            RuleCheck(
                "CD34+ dose, search pre-filter",
                f"{cd:.2f} x10^5/kg",
                f">= {th.prefilter_cd34:g}",
                PASS if cd >= th.prefilter_cd34 else FAIL,
                s["prefilter_cd34_min"].label,
            )
        )
        out.append(
            RuleCheck(
                "CD34+ dose, single unit",
                f"{cd:.2f} x10^5/kg",
                f">= {th.single_cd34:g}",
                PASS if cd >= th.single_cd34 else FLAG,
                s["single_cd34_min"].label,
            )
        )
    dsa_lab = f"Eurocord [V]; MFI threshold {s['dsa_mfi'].label}"
    thr = f"MFI >= {s.value('dsa_mfi'):g}"
    if facts.dsa_definite:
        out.append(
            RuleCheck(
                "donor-specific antibodies (virtual crossmatch)",
                ", ".join(facts.dsa_definite),
                thr,
                FAIL if policy.dsa_action == "exclude" else FLAG,
                dsa_lab,
            )
        )
    elif facts.dsa_possible:
        out.append(
            RuleCheck(
                "donor-specific antibodies (virtual crossmatch)",
                "possible: " + ", ".join(facts.dsa_possible) + " (unit typed at antigen level)",
                thr,
                FLAG,
                dsa_lab,
            )
        )
    else:
        out.append(RuleCheck("donor-specific antibodies (virtual crossmatch)", "none", thr, PASS, dsa_lab))
    r = facts.record
    if facts.nima_match is None:
        out.append(RuleCheck("NIMA match (tie-breaker)", "NIMA not recorded", "", INFO, "Eurocord [V]"))
    else:
        out.append(
            RuleCheck(
                "NIMA match (tie-breaker)",
                "yes" if facts.nima_match else "no",
                "",
                PASS if facts.nima_match else INFO,
                "Eurocord [V]",
            )
        )
    out.append(
        RuleCheck(
            "bank accreditation",
            f"{r.bank or 'unknown bank'}: " + ("FACT/NetCord or AABB accredited" if r.accredited else "not accredited"),
            "accredited preferred",
            PASS if r.accredited else FLAG,
            "Eurocord, NMDP-algo [V]",
        )
    )
    out.append(
        RuleCheck(
            "red cells",
            "RBC depleted" if r.rbc_depleted else "RBC replete",
            "depleted preferred",
            PASS if r.rbc_depleted else FLAG,
            "Eurocord, NMDP-algo [V]",
        )
    )
    rel = facts.abo_relation
    out.append(
        RuleCheck(
            "ABO",
            f"unit {r.abo or '?'}{r.rh or ''}: " + (rel or "patient or unit ABO unknown"),
            "compatible preferred",
            INFO if rel is None else PASS if rel == "identical" else FLAG,
            "Eurocord, Sanz 2020 [V]",
        )
    )
    out.append(
        RuleCheck(
            "attached segment",
            "present" if r.attached_segment else "absent",
            "needed for confirmatory typing",
            PASS if r.attached_segment else FLAG,
            "Eurocord [V]",
        )
    )
    max_age = s.value("unit_age_max_years")
    if facts.age_years is None:
        out.append(
            RuleCheck(
                "unit age", "collection date unknown", f"<= {max_age:g} years", INFO, s["unit_age_max_years"].label
            )
        )
    else:
        out.append(
            RuleCheck(
                "unit age",
                f"{facts.age_years:.1f} years",
                f"<= {max_age:g} years",
                PASS if facts.age_years <= max_age else FLAG,
                s["unit_age_max_years"].label,
            )
        )
    if facts.graded_by != "coded":
        out.append(RuleCheck("typing", f"graded {facts.graded_by} (ambiguous typing)", "", INFO, "cordmatch"))
    return tuple(out)
