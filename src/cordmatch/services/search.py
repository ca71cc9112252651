"""The search pipeline of every entry point (CLI, API, pages, batch): a :class:`SearchRequest` (strings and
numbers) to an explained, ranked outcome.

:func:`run_search` is the whole pipeline: :func:`build_patient` (the patient typing parsed once, antibodies,
diagnosis) -> the registry (:func:`load_registry`, or the caller's own index) -> :func:`search_outcome`
(``cordmatch.selection.search`` and the engraftment estimates) -> :func:`finish_outcome` (the investigational
gate and the service's notes). Errors name the request's fields in domain words (``patient_gl``,
``weight_kg``, ``abo``, ``top``, ``policy``, ``population``, ``antibodies``: :attr:`CordmatchError.field`);
each entry point renders them in its own words (CLI options, API fields).

It brings in:
- ``cordmatch.outcomes.lookup_indication(diagnosis)``: when the caller did not say whether the disease is
  malignant, its answer decides the disease-specific dose threshold;
- ``cordmatch.probability``: match probabilities for units whose 8-allele count is unresolved
  (:func:`probability_grader`, a :data:`cordmatch.selection.search.ProbabilityGrader`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace

from cordmatch.errors import CordmatchError, InvalidInputError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.hla.typing import HlaTyping, parse_typing
from cordmatch.plausibility import check_length, check_number
from cordmatch.probability.populations import MIX_WEIGHTS, check_population
from cordmatch.selection.crossmatch import parse_antibodies
from cordmatch.selection.index import UnitIndex
from cordmatch.selection.model import FLAG, INFO, Antibody, Patient, RankedUnit, RuleCheck, SearchOutcome
from cordmatch.selection.search import ProbabilityGrader, UnitSource, check_patient_loci, search
from cordmatch.selection.settings import SelectionSettings, default_settings
from cordmatch.services.registry import open_registry
from cordmatch.sourced import ABO_GROUPS

ABO = ABO_GROUPS


@dataclass(frozen=True)
class SearchRequest:
    """A search as a coordinator states it."""

    target: str
    patient_gl: str
    weight_kg: float
    antibodies_text: str | None = None
    antibodies_source: str = "antibodies"
    policy: str = "nmdp"
    top: int = 10
    explain: str | None = None
    diagnosis: str | None = None
    malignant: bool | None = None
    abo: str | None = None
    research: bool = False  # rank grafts for an investigational use (every result says INVESTIGATIONAL)
    population: str | None = None  # haplotype frequencies for match probabilities (CAU, AFA, API, HIS, mix)


#: Opens the registry a search ranks: its search index and where the full unit records are read.
RegistryOpener = Callable[[], tuple[UnitIndex, UnitSource]]


@contextmanager
def about(field: str) -> Iterator[None]:
    """Errors raised inside name the request field ``field`` (unless they already name one)."""
    try:
        yield
    except CordmatchError as exc:
        if exc.field is None:
            exc.field = field
        raise


_opened: dict[tuple[str, float, str, int], tuple[NomenclatureTables, UnitIndex, UnitSource]] = {}


def load_registry(target: str, tables: NomenclatureTables) -> tuple[UnitIndex, UnitSource]:
    """Open a registry, reusing the index built for the same file and tables in this process (the last four;
    a database keeps its own persistent index, brought up to date on every open:
    :mod:`cordmatch.services.store_index`)."""
    from cordmatch.services.registry import is_database

    if is_database(target):
        return open_registry(target, tables)
    try:
        mtime = os.stat(target).st_mtime
    except OSError:
        return open_registry(target, tables)
    key = (target, mtime, tables.release, id(tables))
    hit = _opened.get(key)
    if hit is None or hit[0] is not tables:
        index, source = open_registry(target, tables)
        while len(_opened) >= 4:
            del _opened[next(iter(_opened))]
        hit = _opened[key] = (tables, index, source)
    return hit[1], hit[2]


MALIGNANT_GROUPS = frozenset({"AML", "ALL", "CML", "MDS", "Hodgkin", "NHL", "JMML"})
NON_MALIGNANT_GROUPS = frozenset(
    {"Haemoglobinopathy", "Immunodeficiency", "Inherited metabolic disorder", "Marrow failure"}
)


def malignancy_from_diagnosis(diagnosis: str | None, weight_kg: float | None = None) -> tuple[bool | None, list[str]]:
    """(malignant?, notes) from the indication table of cordmatch.outcomes (groups AML, ALL, ... are
    malignant; haemoglobinopathies, immunodeficiencies, metabolic disorders, marrow failure are not)."""
    if not diagnosis:
        return None, []
    from cordmatch.outcomes import lookup_indication
    from cordmatch.outcomes.indications import patient_population

    found = lookup_indication(diagnosis).for_population(patient_population(None, weight_kg))
    notes = [f"indication: {line}" for line in found.explanations]
    groups = {i.group for i in found.indications}
    if found.listed and groups and groups <= MALIGNANT_GROUPS:
        return True, notes
    if found.listed and groups and groups <= NON_MALIGNANT_GROUPS:
        return False, notes
    notes.append("malignant or not could not be told from the diagnosis: standard dose thresholds apply")
    return None, notes


INVESTIGATIONAL_SOURCE = "cordmatch.outcomes indications table (domain.md section 8, investigational uses) [V]"


def investigational_use(diagnosis: str | None) -> str | None:
    """The investigational-use text when ``diagnosis`` is an investigational use of cord blood (not an
    indication: spinal cord injury, sepsis, cerebral palsy, autism, HIE, BPD, NEC), else None."""
    if not diagnosis:
        return None
    from cordmatch.outcomes import lookup_indication

    found = lookup_indication(diagnosis)
    if found.status != "investigational":
        return None
    return " ".join(u.text for u in found.investigational)


def gate_investigational(outcome: SearchOutcome, req: SearchRequest) -> SearchOutcome:
    """Investigational indications: no grafts are ranked unless the research option is given; then every
    result and double graft says INVESTIGATIONAL."""
    text = investigational_use(req.diagnosis)
    if text is None:
        return outcome
    if not req.research:
        return replace(
            outcome,
            results=(),
            double_units=(),
            notes=(
                f"INVESTIGATIONAL: {text} No grafts are ranked for an investigational use; a registered research "
                "protocol may search with the research option (--research, API field research).",
                *outcome.notes,
            ),
        )
    check = RuleCheck("indication", f"INVESTIGATIONAL: {text}", "research protocol only", FLAG, INVESTIGATIONAL_SOURCE)
    return replace(
        outcome,
        results=tuple(replace(r, checks=(check, *r.checks)) for r in outcome.results),
        double_units=tuple(replace(d, checks=(check, *d.checks)) for d in outcome.double_units),
        notes=(f"INVESTIGATIONAL (research option given): {text}", *outcome.notes),
    )


EXTRAPOLATED = (
    "single-unit dose effect extrapolated: the dose hazard ratios come from double-unit data (Sanz 2020), "
    "not re-derived from single-unit cohorts (docs/outcomes.md)"
)


def with_engraftment(outcome: SearchOutcome) -> SearchOutcome:
    """Add cordmatch.outcomes' engraftment estimate to every result and double-unit graft (an info check)."""
    from cordmatch.outcomes import estimate_for_search_result

    def check(tnc: float, cd34: float | None, m8: int | None, m6: int | None, dsa: bool, double: bool) -> RuleCheck:
        try:
            e = estimate_for_search_result(tnc, cd34, m8, m6, dsa, double)
        except CordmatchError as exc:
            return RuleCheck(
                "estimated neutrophil engraftment", f"not estimated: {exc}", "", INFO, "cordmatch.outcomes"
            )
        lo, hi = e.interval_days
        caveat = "" if double else f"; {EXTRAPOLATED}"
        return RuleCheck(
            "estimated neutrophil engraftment",
            f"median day {e.median_days:.0f} (day {lo:.0f}-{hi:.0f}); P(engraft by day 42) {e.p_engraft_day42:.0%}"
            + caveat,
            "",
            INFO,
            "cordmatch.outcomes model (docs/outcomes.md) [U]"
            if not double
            else "cordmatch.outcomes model (docs/outcomes.md)",
        )

    def dsa_of(r: RankedUnit) -> bool:
        return any(
            c.rule.startswith("donor-specific") and c.verdict in ("flag", "fail") and "possible" not in c.value
            for c in r.checks
        )

    results = tuple(
        replace(r, checks=(*r.checks, check(r.tnc_per_kg, r.cd34_per_kg, r.match_8, r.match_6, dsa_of(r), False)))
        for r in outcome.results
    )
    doubles = []
    for d in outcome.double_units:
        worst8 = [m for m in (d.first.match_8, d.second.match_8) if m is not None]
        worst6 = [m for m in (d.first.match_6, d.second.match_6) if m is not None]
        c = check(
            d.combined_tnc_per_kg,
            d.combined_cd34_per_kg,
            min(worst8) if len(worst8) == 2 else None,
            min(worst6) if len(worst6) == 2 else None,
            False,
            True,
        )
        doubles.append(replace(d, checks=(*d.checks, c)))
    return replace(outcome, results=results, double_units=tuple(doubles))


def probability_grader(
    population: str | Mapping[str, float] | None = None, tables: NomenclatureTables | None = None
) -> ProbabilityGrader | None:
    """Match probabilities for units whose 8-allele count is unresolved (cordmatch.probability): P(8/8),
    P(>=7/8) and P(6/6) under the haplotype frequencies of ``population`` (default: the US mix of the
    shipped NMDP 2007 sets), on ``tables`` (the search's; default: those of the current settings)."""
    from cordmatch.services.probability import match_probability

    if tables is None:
        from cordmatch.imgt import current_tables

        tables = current_tables()
    on: NomenclatureTables = tables

    pop: str | Mapping[str, float] = MIX_WEIGHTS
    if isinstance(population, str):
        pop = MIX_WEIGHTS if check_population(population) == "MIX" else check_population(population)
    elif population is not None:
        pop = population

    def grader(patient: HlaTyping, unit: HlaTyping) -> Mapping[str, float] | None:
        try:
            mp = match_probability(patient, unit, pop, tables=on)
        except CordmatchError:
            return None
        if not mp.ok:
            return None
        return {"P(8/8)": mp.at_least_8(8), "P(>=7/8)": mp.at_least_8(7), "P(6/6)": mp.at_least_6(6)}

    return grader


def build_patient(req: SearchRequest, tables: NomenclatureTables) -> tuple[Patient, list[str]]:
    """The patient of ``req`` (its typing parsed here, once, and passed on) and the service's notes."""
    notes: list[str] = []
    with about("weight_kg"):
        if not (req.weight_kg > 0):
            raise InvalidInputError(f"weight must be a positive number of kg, got {req.weight_kg:g}", where="weight_kg")
        check_number(req.weight_kg, "weight_kg", "weight_kg")
    with about("patient_gl"):
        check_length(req.patient_gl, "gl", "patient_gl")
        typing = parse_typing(req.patient_gl, tables)
        check_patient_loci(typing)  # A, B, DRB1 typed (InvalidInputError naming the missing loci)
    with about("antibodies"):
        check_length(req.antibodies_text, "antibodies", "antibodies")  # a long text would tie up the search
    if req.population is not None:
        with about("population"):
            check_population(req.population, where="population")
    antibodies: tuple[Antibody, ...] = ()
    if req.antibodies_text is not None:
        with about("antibodies"):
            antibodies = parse_antibodies(req.antibodies_text, req.antibodies_source)
    abo = req.abo.upper() if req.abo else None
    if abo is not None and abo not in ABO:
        raise InvalidInputError(f"ABO must be one of {', '.join(ABO)}, got {req.abo!r}", where="abo", field="abo")
    malignant = req.malignant
    if malignant is None:
        malignant, found = malignancy_from_diagnosis(req.diagnosis, req.weight_kg)
        notes.extend(found)
    return Patient(typing, req.weight_kg, req.diagnosis, malignant, abo, antibodies), notes


def search_outcome(
    req: SearchRequest,
    patient: Patient,
    index: UnitIndex,
    source: UnitSource,
    tables: NomenclatureTables,
    *,
    top: int | None = None,
    settings: SelectionSettings | None = None,
    today: dt.date | None = None,
) -> SearchOutcome:
    """The selection's ranking of ``index`` for ``patient`` (``top`` units, default the request's), with the
    engraftment estimates."""
    with about("top"):
        outcome = search(
            index,
            source,
            patient,
            tables,
            policy=req.policy,
            top=req.top if top is None else top,
            settings=settings,
            explain=req.explain,
            today=today,
            probability=probability_grader(req.population, tables),
        )
    return with_engraftment(outcome)


def with_notes(outcome: SearchOutcome, notes: list[str]) -> SearchOutcome:
    """``outcome`` with the service's notes after the selection's."""
    return replace(outcome, notes=(*outcome.notes, *notes)) if notes else outcome


def finish_outcome(outcome: SearchOutcome, req: SearchRequest, notes: list[str]) -> SearchOutcome:
    """The investigational gate, the request's population and research option, and the service's notes."""
    outcome = gate_investigational(outcome, req)
    outcome = replace(outcome, patient={**outcome.patient, "population": req.population, "research": req.research})
    return with_notes(outcome, notes)


def run_search(
    req: SearchRequest,
    tables: NomenclatureTables,
    settings: SelectionSettings | None = None,
    today: dt.date | None = None,
    *,
    registry: RegistryOpener | None = None,
) -> SearchOutcome:
    """The whole pipeline: build the patient, open the registry (``registry``, default the request's target),
    search, add the engraftment estimates, the investigational gate and the service's notes."""
    settings = settings or default_settings()
    with about("policy"):
        settings.policy(req.policy)  # unknown policy: fail before loading anything
    patient, notes = build_patient(req, tables)
    index, source = registry() if registry is not None else load_registry(req.target, tables)
    outcome = search_outcome(req, patient, index, source, tables, settings=settings, today=today)
    return finish_outcome(outcome, req, notes)
