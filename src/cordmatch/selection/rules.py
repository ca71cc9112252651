"""The selection rules applied to one unit, each as a :class:`RuleCheck` (value, threshold, verdict, source).

The vectorised hard filters in :mod:`cordmatch.selection.search` use the same thresholds
(:class:`DoseThresholds`); tests check that every ranked unit has no failed check here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from cordmatch.selection.model import FAIL, FLAG, INFO, PASS, RuleCheck, UnitRecord
from cordmatch.selection.settings import PolicySpec, SelectionSettings
from cordmatch.sourced import Verdict

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


@dataclass(frozen=True)
class RuleInput:
    """What every rule reads: the unit's facts, the search's thresholds, the settings and the policy."""

    facts: UnitFacts
    th: DoseThresholds
    settings: SelectionSettings
    policy: PolicySpec


#: A selection rule: the checks it makes for one unit (none when it does not apply).
Rule = Callable[[RuleInput], tuple[RuleCheck, ...]]

EUROCORD = "Eurocord [V]"
EUROCORD_NMDP = "Eurocord, NMDP-algo [V]"
MATCH_8_RULE = "HLA match (8 alleles, bidirectional)"
DSA_RULE = "donor-specific antibodies (virtual crossmatch)"


def match_8_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """The 8-allele match (A, B, C, DRB1) against the pre-filter minimum [settings: prefilter_match_8_min]."""
    facts, th = r.facts, r.th
    lab = r.settings["prefilter_match_8_min"].label
    within = facts.certain_mm8 <= th.max_mm8
    floor = f">= {8 - th.max_mm8}/8"
    if facts.match_8 is not None:
        return (RuleCheck(MATCH_8_RULE, f"{facts.match_8}/8", floor, PASS if within else FAIL, lab),)
    upper = 8 - facts.certain_mm8
    return (
        RuleCheck(
            MATCH_8_RULE,
            f"unresolved (at most {upper}/8)",
            floor,
            FLAG if within else FAIL,
            f"{lab}; needs confirmatory high-resolution typing",
        ),
    )


def match_6_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """The 6 match (A, B antigen; DRB1 allele) against the 4/6 floor [settings: min_match_6]."""
    facts, th = r.facts, r.th
    m6 = facts.match_6
    ok6 = facts.certain_mm6 <= th.max_mm6
    return (
        RuleCheck(
            "HLA match (6: A, B antigen; DRB1 allele)",
            f"{m6}/6" if m6 is not None else f"unresolved (at most {6 - facts.certain_mm6}/6)",
            f">= {6 - th.max_mm6}/6",
            FAIL if not ok6 else PASS if m6 is not None else FLAG,
            r.settings["min_match_6"].label,
        ),
    )


def mismatch_limit_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """Mismatches of 8 under a policy that caps them (Eurocord) [settings: eurocord_max_mismatches]."""
    limit = r.th.eurocord_max_mm
    if limit is None:
        return ()
    mm = r.facts.certain_mm8
    return (
        RuleCheck(
            "mismatches (of 8)",
            str(mm) if r.facts.match_8 is not None else f">= {mm}",
            f"<= {limit}",
            PASS if mm <= limit else FAIL,
            r.settings["eurocord_max_mismatches"].label,
        ),
    )


def c_match_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """HLA-C allele mismatches, under a policy that ranks by them [Eurocord [V]]."""
    if "c_match" not in r.policy.order:
        return ()
    c = r.facts.c_mismatches
    return (
        RuleCheck("HLA-C allele mismatches", str(c), "0 (avoid HLA-C mismatch)", PASS if c == 0 else FLAG, EUROCORD),
    )


def tnc_prefilter_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """TNC dose above the search pre-filter [settings: prefilter_tnc_min]."""
    tnc, limit = r.facts.tnc_per_kg, r.th.prefilter_tnc
    return (
        RuleCheck(
            "TNC dose, search pre-filter",
            f"{tnc:.2f} x10^7/kg",
            f"> {limit:g}",
            PASS if tnc > limit else FAIL,
            r.settings["prefilter_tnc_min"].label,
        ),
    )


def _below_single(r: RuleInput) -> Verdict:
    """Verdict of a dose below the single-unit minimum: info inside a double graft, else by the policy."""
    return INFO if r.facts.in_double else FAIL if r.policy.require_single_dose else FLAG


def tnc_single_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """TNC dose of one unit alone, by diagnosis and match [settings: single_tnc_min*]."""
    facts = r.facts
    tnc = facts.tnc_per_kg
    t_single, strict, t_name = r.th.single_tnc_for(facts.mm6_worst)
    tnc_ok = tnc > t_single if strict else tnc >= t_single
    op = ">" if strict else ">="
    note = "" if tnc_ok or not facts.in_double else ": below the single-unit dose, in a double graft only"
    suffix = " (2 or more mismatches of 6)" if t_name == "single_tnc_min_mismatched" else ""
    return (
        RuleCheck(
            "TNC dose, single unit" + suffix,
            f"{tnc:.2f} x10^7/kg{note}",
            f"{op} {t_single:g}",
            PASS if tnc_ok else _below_single(r),
            r.settings[t_name].label,
        ),
    )


def cd34_checks(r: RuleInput) -> tuple[RuleCheck, ...]:
    """CD34+ dose: flagged when not recorded, else the pre-filter and the single-unit minimum
    [settings: prefilter_cd34_min, single_cd34_min]."""
    facts, th, s = r.facts, r.th, r.settings
    cd = facts.cd34_per_kg
    single = f">= {th.single_cd34:g}"
    if cd is None:
        no_cd34 = "not recorded: one unit's adequacy rests on TNC alone"
        return (RuleCheck("CD34+ dose", no_cd34, single, FLAG, s["single_cd34_min"].label),)
    cd_ok = cd >= th.single_cd34
    return (
        RuleCheck(
            "CD34+ dose, search pre-filter",
            f"{cd:.2f} x10^5/kg",
            f">= {th.prefilter_cd34:g}",
            PASS if cd >= th.prefilter_cd34 else FAIL,
            s["prefilter_cd34_min"].label,
        ),
        RuleCheck(
            "CD34+ dose, single unit",
            f"{cd:.2f} x10^5/kg" + ("" if cd_ok or not facts.in_double else ": in a double graft only"),
            single,
            PASS if cd_ok else _below_single(r),
            s["single_cd34_min"].label,
        ),
    )


def dsa_checks(r: RuleInput) -> tuple[RuleCheck, ...]:
    """Donor-specific antibodies (virtual crossmatch): definite ones fail or flag by the policy, possible
    and not-assessed ones flag [Dehn 2019, Eurocord [V]; settings: dsa_mfi]."""
    facts, s = r.facts, r.settings
    lab = f"Dehn 2019, Eurocord [V]; MFI threshold {s['dsa_mfi'].label}"
    thr = f"MFI >= {s.value('dsa_mfi'):g}"
    out: list[RuleCheck] = []
    if facts.dsa_definite:
        verdict = FAIL if r.policy.dsa_action == "exclude" else FLAG
        out.append(RuleCheck(DSA_RULE, ", ".join(facts.dsa_definite), thr, verdict, lab))
    if facts.dsa_possible:
        out.append(RuleCheck(DSA_RULE, "possible: " + "; ".join(facts.dsa_possible), thr, FLAG, lab))
    if facts.dsa_not_assessed:
        out.append(RuleCheck(DSA_RULE, "not assessed: " + "; ".join(facts.dsa_not_assessed), thr, FLAG, lab))
    if not out:
        out.append(RuleCheck(DSA_RULE, "none", thr, PASS, lab))
    return tuple(out)


def dsa_below_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """Antibodies against the unit below the MFI threshold, shown for information [settings: dsa_mfi]."""
    below = r.facts.dsa_below
    if not below:
        return ()
    s = r.settings
    return (
        RuleCheck(
            "antibodies below the MFI threshold against this unit",
            ", ".join(below),
            f"MFI < {s.value('dsa_mfi'):g}",
            INFO,
            s["dsa_mfi"].label,
        ),
    )


def nima_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """NIMA match, a tie-breaker [Eurocord [V]]."""
    nima = r.facts.nima_match
    if nima is None:
        return (RuleCheck("NIMA match (tie-breaker)", "NIMA not recorded", "", INFO, EUROCORD),)
    return (RuleCheck("NIMA match (tie-breaker)", "yes" if nima else "no", "", PASS if nima else INFO, EUROCORD),)


def accreditation_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """Bank accreditation, preferred [Eurocord, NMDP-algo [V]]."""
    u = r.facts.record
    status = "FACT/NetCord or AABB accredited" if u.accredited else "not accredited"
    value = f"{u.bank or 'unknown bank'}: {status}"
    return (
        RuleCheck("bank accreditation", value, "accredited preferred", PASS if u.accredited else FLAG, EUROCORD_NMDP),
    )


def red_cells_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """Red cell depletion, preferred [Eurocord, NMDP-algo [V]]."""
    depleted = r.facts.record.rbc_depleted
    value = "RBC depleted" if depleted else "RBC replete"
    return (RuleCheck("red cells", value, "depleted preferred", PASS if depleted else FLAG, EUROCORD_NMDP),)


def abo_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """ABO compatibility, preferred [Eurocord, Sanz 2020 [V]]."""
    u, rel = r.facts.record, r.facts.abo_relation
    value = f"unit {u.abo or '?'}{u.rh or ''}: " + (rel or "patient or unit ABO unknown")
    verdict = INFO if rel is None else PASS if rel == "identical" else FLAG
    return (RuleCheck("ABO", value, "compatible preferred", verdict, "Eurocord, Sanz 2020 [V]"),)


def segment_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """An attached segment, needed for confirmatory typing [Eurocord [V]]."""
    present = r.facts.record.attached_segment
    value = "present" if present else "absent"
    return (
        RuleCheck("attached segment", value, "needed for confirmatory typing", PASS if present else FLAG, EUROCORD),
    )


def unit_age_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """Unit age at most the maximum [settings: unit_age_max_years]; unknown collection date is info."""
    s, age = r.settings, r.facts.age_years
    max_age = s.value("unit_age_max_years")
    thr, lab = f"<= {max_age:g} years", s["unit_age_max_years"].label
    if age is None:
        return (RuleCheck("unit age", "collection date unknown", thr, INFO, lab),)
    return (RuleCheck("unit age", f"{age:.1f} years", thr, PASS if age <= max_age else FLAG, lab),)


def untyped_loci_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """Loci of the 8-allele match the unit is not typed at: flagged, never assumed to match [Dehn 2019 [V]]."""
    loci = r.facts.untyped_loci
    if not loci:
        return ()
    value = (
        ", ".join(f"HLA-{locus} not typed" for locus in loci) + ": its match there is unknown (not assumed to match)"
    )
    source = "Dehn 2019 (8-allele match: A, B, C, DRB1) [V]"
    return (RuleCheck("unit typing", value, "A, B, C, DRB1 typed", FLAG, source),)


def graded_by_check(r: RuleInput) -> tuple[RuleCheck, ...]:
    """How an ambiguous typing was graded (not by the coded kernel), for information [cordmatch]."""
    how = r.facts.graded_by
    if how == "coded":
        return ()
    return (RuleCheck("typing", f"graded {how} (ambiguous typing)", "", INFO, "cordmatch"),)


#: Every rule, in the order a coordinator reads them.
RULES: tuple[Rule, ...] = (
    match_8_check,
    match_6_check,
    mismatch_limit_check,
    c_match_check,
    tnc_prefilter_check,
    tnc_single_check,
    cd34_checks,
    dsa_checks,
    dsa_below_check,
    nima_check,
    accreditation_check,
    red_cells_check,
    abo_check,
    segment_check,
    unit_age_check,
    untyped_loci_check,
    graded_by_check,
)


def unit_checks(
    facts: UnitFacts, th: DoseThresholds, settings: SelectionSettings, policy: PolicySpec
) -> tuple[RuleCheck, ...]:
    """Every rule for one unit, in the order a coordinator reads them (:data:`RULES`)."""
    given = RuleInput(facts, th, settings, policy)
    return tuple(check for rule in RULES for check in rule(given))
