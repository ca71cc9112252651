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
    single_tnc_strict: bool  # True: the dose must exceed the threshold (non-malignant disease)
    single_tnc_name: str
    prefilter_tnc: float
    prefilter_cd34: float
    single_cd34: float
    max_mm8: int  # certain mismatches allowed by the pre-filter (8 - minimum match)
    eurocord_max_mm: int | None
    max_mm6: int = 2  # certain mismatches of 6 allowed (6 - the 4/6 floor)
    single_tnc_mismatched: float = 0.0  # single-unit TNC minimum for units with >= 2 mismatches of 6

    def single_tnc_for(self, mm6_worst: int) -> tuple[float, bool, str]:
        """(threshold, strict, setting name) of the single-unit TNC dose for a unit with ``mm6_worst``
        mismatches of 6 at worst: more mismatch needs more cells (Barker 2010)."""
        if mm6_worst >= 2 and self.single_tnc_mismatched > self.single_tnc:
            return self.single_tnc_mismatched, False, "single_tnc_min_mismatched"
        return self.single_tnc, self.single_tnc_strict, self.single_tnc_name

    def meets_single(self, tnc_per_kg: float, cd34_per_kg: float | None = None, mm6_worst: int = 0) -> bool:
        """True when one unit is enough: TNC at the (match-dependent) single-unit minimum and, when known,
        CD34+ at the single-unit minimum."""
        t, strict, _ = self.single_tnc_for(mm6_worst)
        ok = tnc_per_kg > t if strict else tnc_per_kg >= t
        return ok and (cd34_per_kg is None or cd34_per_kg >= self.single_cd34)


def resolve_thresholds(
    settings: SelectionSettings, policy: PolicySpec, weight_kg: float, malignant: bool | None
) -> DoseThresholds:
    """Which single-unit TNC minimum applies, by diagnosis under every policy: non-malignant disease needs
    more cells (Eurocord, > 5.0); malignant disease 3.0 (Dehn 2019), or 2.5 under the Eurocord policy;
    unknown: the standard 3.0 (Dehn 2019)."""
    name, strict = "single_tnc_min", False
    if malignant is True and policy.name == "eurocord":
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
        max_mm6=6 - int(settings.value("min_match_6")),
        single_tnc_mismatched=settings.value("single_tnc_min_mismatched"),
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
    certain_mm6: int = 0  # certain mismatches of 6 (A, B antigen; DRB1 allele)
    mm6_worst: int = 0  # mismatches of 6 at worst (unresolved loci counted as mismatched)
    dsa_not_assessed: tuple[str, ...] = ()  # antibodies at a locus the unit is not typed at (DQ, DP)
    dsa_below: tuple[str, ...] = ()  # antibodies below the MFI threshold against the unit's antigens
    in_double: bool = False  # checks of a unit shown inside a double-unit graft
    untyped_loci: tuple[str, ...] = ()  # of A, B, C, DRB1


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
    m6 = facts.match_6
    floor6 = 6 - th.max_mm6
    ok6 = facts.certain_mm6 <= th.max_mm6
    out.append(
        RuleCheck(
            "HLA match (6: A, B antigen; DRB1 allele)",
            f"{m6}/6" if m6 is not None else f"unresolved (at most {6 - facts.certain_mm6}/6)",
            f">= {floor6}/6",
            FAIL if not ok6 else PASS if m6 is not None else FLAG,
            s["min_match_6"].label,
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
    t_single, strict, t_name = th.single_tnc_for(facts.mm6_worst)
    tnc_ok = tnc > t_single if strict else tnc >= t_single
    below = INFO if facts.in_double else FAIL if policy.require_single_dose else FLAG
    op = ">" if strict else ">="
    note = "" if tnc_ok or not facts.in_double else ": below the single-unit dose, in a double graft only"
    out.append(
        RuleCheck(
            "TNC dose, single unit" + (" (2 or more mismatches of 6)" if t_name == "single_tnc_min_mismatched" else ""),
            f"{tnc:.2f} x10^7/kg{note}",
            f"{op} {t_single:g}",
            PASS if tnc_ok else below,
            s[t_name].label,
        )
    )
    cd = facts.cd34_per_kg
    if cd is None:
        out.append(
            RuleCheck(
                "CD34+ dose",
                "not recorded: one unit's adequacy rests on TNC alone",
                f">= {th.single_cd34:g}",
                FLAG,
                s["single_cd34_min"].label,
            )
        )
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
        cd_ok = cd >= th.single_cd34
        out.append(
            RuleCheck(
                "CD34+ dose, single unit",
                f"{cd:.2f} x10^5/kg" + ("" if cd_ok or not facts.in_double else ": in a double graft only"),
                f">= {th.single_cd34:g}",
                PASS if cd_ok else below,
                s["single_cd34_min"].label,
            )
        )
    dsa_lab = f"Dehn 2019, Eurocord [V]; MFI threshold {s['dsa_mfi'].label}"
    thr = f"MFI >= {s.value('dsa_mfi'):g}"
    rule = "donor-specific antibodies (virtual crossmatch)"
    if facts.dsa_definite:
        out.append(
            RuleCheck(
                rule,
                ", ".join(facts.dsa_definite),
                thr,
                FAIL if policy.dsa_action == "exclude" else FLAG,
                dsa_lab,
            )
        )
    if facts.dsa_possible:
        out.append(RuleCheck(rule, "possible: " + "; ".join(facts.dsa_possible), thr, FLAG, dsa_lab))
    if facts.dsa_not_assessed:
        out.append(RuleCheck(rule, "not assessed: " + "; ".join(facts.dsa_not_assessed), thr, FLAG, dsa_lab))
    if not (facts.dsa_definite or facts.dsa_possible or facts.dsa_not_assessed):
        out.append(RuleCheck(rule, "none", thr, PASS, dsa_lab))
    if facts.dsa_below:
        out.append(
            RuleCheck(
                "antibodies below the MFI threshold against this unit",
                ", ".join(facts.dsa_below),
                f"MFI < {s.value('dsa_mfi'):g}",
                INFO,
                s["dsa_mfi"].label,
            )
        )
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
    if facts.untyped_loci:
        out.append(
            RuleCheck(
                "unit typing",
                ", ".join(f"HLA-{locus} not typed" for locus in facts.untyped_loci)
                + ": its match there is unknown (not assumed to match)",
                "A, B, C, DRB1 typed",
                FLAG,
                "Dehn 2019 (8-allele match: A, B, C, DRB1) [V]",
            )
        )
    if facts.graded_by != "coded":
        out.append(RuleCheck("typing", f"graded {facts.graded_by} (ambiguous typing)", "", INFO, "cordmatch"))
    return tuple(out)
