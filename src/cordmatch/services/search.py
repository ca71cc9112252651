"""Search service: one call from a patient (strings and numbers) to an explained, ranked outcome.

Seams waiting for other branches:
- ``cordmatch.outcomes.lookup_indication(diagnosis)`` (branch ``outcomes``): when present and the caller did
  not say whether the disease is malignant, its answer decides the disease-specific dose threshold;
- ``cordmatch.probability`` (branch ``probability``): match probabilities for ambiguous units
  (:data:`cordmatch.selection.search.ProbabilityGrader`), attached when the module provides one.
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.hla.typing import parse_typing
from cordmatch.selection.crossmatch import parse_antibodies
from cordmatch.selection.index import UnitIndex
from cordmatch.selection.model import Antibody, Patient, SearchOutcome
from cordmatch.selection.search import ProbabilityGrader, UnitSource, search
from cordmatch.selection.settings import SelectionSettings, default_settings
from cordmatch.services.registry import open_registry

ABO = ("O", "A", "B", "AB")


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


@lru_cache(maxsize=4)
def _cached_registry(target: str, mtime: float, release: str, tables_id: int) -> tuple[UnitIndex, UnitSource]:
    from cordmatch.imgt import default_nomenclature

    return open_registry(target, default_nomenclature())


def load_registry(target: str, tables: NomenclatureTables) -> tuple[UnitIndex, UnitSource]:
    """Open a registry, reusing the index built for the same file in this process."""
    try:
        mtime = os.stat(target).st_mtime
    except OSError:
        return open_registry(target, tables)
    from cordmatch.imgt import default_nomenclature

    if tables is not default_nomenclature():
        return open_registry(target, tables)
    return _cached_registry(target, mtime, tables.release, id(tables))


def malignancy_from_diagnosis(diagnosis: str | None) -> tuple[bool | None, str | None]:
    """(malignant?, note) from the outcomes branch's indication look-up, when it is available."""
    if not diagnosis:
        return None, None
    try:
        outcomes = importlib.import_module("cordmatch.outcomes")
    except ImportError:
        return None, "diagnosis not classified (cordmatch.outcomes not available): standard dose thresholds apply"
    lookup: Callable[[str], Any] | None = getattr(outcomes, "lookup_indication", None)
    if lookup is None:
        return None, None
    try:
        found = lookup(diagnosis)
    except Exception:  # the outcomes service raises its own errors for unknown diagnoses
        return None, f"diagnosis {diagnosis!r} not found in the indication tables: standard thresholds apply"
    malignant = getattr(found, "malignant", None)
    if malignant is None and isinstance(found, Mapping):
        malignant = found.get("malignant")
    return (bool(malignant) if malignant is not None else None), None


def probability_grader() -> ProbabilityGrader | None:
    """The probability branch's grader for ambiguous units, when it is on this branch."""
    try:
        prob = importlib.import_module("cordmatch.probability")
    except ImportError:
        return None
    grader = getattr(prob, "unit_match_probabilities", None)
    return grader if callable(grader) else None


def build_patient(req: SearchRequest, tables: NomenclatureTables) -> tuple[Patient, list[str]]:
    notes: list[str] = []
    if not (req.weight_kg > 0):
        raise InvalidInputError(f"weight must be a positive number of kg, got {req.weight_kg:g}", where="--weight")
    try:
        typing = parse_typing(req.patient_gl, tables)
    except InvalidInputError as exc:
        raise InvalidInputError(f"--patient: {exc.message}", where=exc.where) from None
    antibodies: tuple[Antibody, ...] = ()
    if req.antibodies_text is not None:
        antibodies = parse_antibodies(req.antibodies_text, req.antibodies_source)
    abo = req.abo.upper() if req.abo else None
    if abo is not None and abo not in ABO:
        raise InvalidInputError(f"ABO must be one of {', '.join(ABO)}, got {req.abo!r}", where="--abo")
    malignant = req.malignant
    if malignant is None:
        malignant, note = malignancy_from_diagnosis(req.diagnosis)
        if note:
            notes.append(note)
    return Patient(typing, req.weight_kg, req.diagnosis, malignant, abo, antibodies), notes


def run_search(
    req: SearchRequest,
    tables: NomenclatureTables,
    settings: SelectionSettings | None = None,
    today: dt.date | None = None,
) -> SearchOutcome:
    """Load the registry, build the patient, search, and add the service's notes."""
    settings = settings or default_settings()
    settings.policy(req.policy)  # unknown policy: fail before loading anything
    patient, notes = build_patient(req, tables)
    index, source = load_registry(req.target, tables)
    outcome = search(
        index,
        source,
        patient,
        tables,
        policy=req.policy,
        top=req.top,
        settings=settings,
        explain=req.explain,
        today=today,
        probability=probability_grader(),
    )
    if notes:
        outcome = SearchOutcome(
            outcome.policy,
            outcome.patient,
            outcome.results,
            outcome.double_units,
            outcome.counts,
            (*outcome.notes, *notes),
            outcome.explanation,
        )
    return outcome
