"""Indications table: what allogeneic transplantation (cord blood as one donor source) is used for.

Each disease carries its ASTCT category (S/C/R/D/N) and EBMT 2022 category (S/CO/D/GNR, grade) with the
source labels; investigational uses (spinal cord injury, sepsis, BPD/NEC/HIE in preterm infants) are
kept apart, marked INVESTIGATIONAL with their registered trials, and never presented as treatment.

Lookup is by free text (case-insensitive, British/American spelling, synonyms and abbreviations such
as "AML"). An unknown disease gives a "not listed" result, not an exception. The data file
``indications.toml`` is read once by the thin loader :func:`load_indications`; the rest is pure.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, TypeVar

from cordmatch.errors import InvalidInputError
from cordmatch.sourced import plain_dict

ASTCT_CATEGORIES = {
    "S": "standard of care",
    "C": "standard of care, clinical evidence available",
    "R": "standard of care, rare indication",
    "D": "developmental",
    "N": "not generally recommended",
}
EBMT_CATEGORIES = {
    "S": "standard of care",
    "CO": "clinical option",
    "D": "developmental",
    "GNR": "generally not recommended",
}
LISTED = "listed"
INVESTIGATIONAL = "investigational"
NOT_LISTED = "not_listed"

_SPELLING = (
    ("leukaemia", "leukemia"),
    ("anaemia", "anemia"),
    ("haemo", "hemo"),
    ("haema", "hema"),
    ("ischaem", "ischem"),
    ("septicaem", "septicem"),
    ("bacteraem", "bacterem"),
    ("thalassaem", "thalassem"),
    ("necrotising", "necrotizing"),
)


def normalise(text: str) -> str:
    """Case-fold, unify British/American spelling, drop punctuation (keeps '+'), collapse spaces."""
    s = text.casefold().replace("'s ", " ").replace("’s ", " ")
    for british, american in _SPELLING:
        s = s.replace(british, american)
    s = re.sub(r"\bnon[\s-]+hodgkin", "nonhodgkin", s)  # "non-Hodgkin" is not "Hodgkin"
    s = re.sub(r"[^0-9a-z+]+", " ", s)
    return " ".join(s.split())


@dataclass(frozen=True, slots=True)
class Indication:
    """One disease (and stage) with its evidence categories and their sources."""

    id: str
    name: str
    population: str
    group: str
    synonyms: tuple[str, ...]
    astct: str  # S/C/R/D/N, "" when not in the retrieved rows
    astct_source: str
    astct_status: str
    ebmt: str  # S/CO/D/GNR, "" when not in the retrieved rows
    ebmt_grade: str
    ebmt_source: str
    ebmt_status: str
    cord_blood_role: str

    @property
    def astct_text(self) -> str:
        if not self.astct:
            return f"not in the retrieved {self.astct_source} rows [U]"
        return f"{self.astct} ({ASTCT_CATEGORIES[self.astct]}; {self.astct_source} [{self.astct_status}])"

    @property
    def ebmt_text(self) -> str:
        if not self.ebmt:
            return f"not in the retrieved {self.ebmt_source} rows [U]"
        grade = f"/{self.ebmt_grade}" if self.ebmt_grade else ""
        return f"{self.ebmt}{grade} ({EBMT_CATEGORIES[self.ebmt]}; {self.ebmt_source} [{self.ebmt_status}])"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "population": self.population,
            "group": self.group,
            "synonyms": list(self.synonyms),
            "astct_category": self.astct or None,
            "astct_meaning": ASTCT_CATEGORIES.get(self.astct),
            "astct_source": self.astct_source,
            "astct_status": self.astct_status,
            "ebmt_category": self.ebmt or None,
            "ebmt_meaning": EBMT_CATEGORIES.get(self.ebmt),
            "ebmt_grade": self.ebmt_grade or None,
            "ebmt_source": self.ebmt_source,
            "ebmt_status": self.ebmt_status,
            "cord_blood_role": self.cord_blood_role,
            "kind": "indication",
        }


@dataclass(frozen=True, slots=True)
class Trial:
    nct: str
    note: str

    def to_dict(self) -> dict[str, str]:
        return plain_dict(self)


@dataclass(frozen=True, slots=True)
class InvestigationalUse:
    """A use of cord blood studied only in trials: never an indication, never a treatment."""

    id: str
    name: str
    synonyms: tuple[str, ...]
    summary: str
    trials: tuple[Trial, ...]
    status: str

    label = "INVESTIGATIONAL"

    @property
    def text(self) -> str:
        trials = ", ".join(t.nct for t in self.trials) or "no registered trial number retrieved"
        return (
            f"{self.name}: INVESTIGATIONAL - not a treatment and not an indication; only within "
            f"registered trials ({trials}). {self.summary}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "label": self.label,
            "is_treatment": False,
            "synonyms": list(self.synonyms),
            "summary": self.summary,
            "trials": [t.to_dict() for t in self.trials],
            "status": self.status,
            "kind": "investigational",
        }


@dataclass(frozen=True, slots=True)
class IndicationLookup:
    """Result of a free-text lookup: listed indications, investigational uses, or not listed."""

    query: str
    status: str  # "listed", "investigational" or "not_listed"
    indications: tuple[Indication, ...]
    investigational: tuple[InvestigationalUse, ...]
    note: str = ""

    @property
    def listed(self) -> bool:
        return self.status == LISTED

    def for_population(self, population: str | None) -> IndicationLookup:
        """Only the rows of the patient's population (``adult`` or ``paediatric``); when the table has no row
        for it, all rows stay and a note says so. ``None`` keeps every row."""
        if population is None or not self.indications:
            return self
        rows = tuple(i for i in self.indications if i.population == population)
        if rows:
            return IndicationLookup(self.query, self.status, rows, self.investigational, self.note)
        others = ", ".join(sorted({i.population for i in self.indications}))
        note = f"no {population} row retrieved for {self.query!r}; the rows shown are for: {others}"
        return IndicationLookup(self.query, self.status, self.indications, self.investigational, note)

    @property
    def explanations(self) -> list[str]:
        if self.status == NOT_LISTED:
            return [
                f"{self.query!r} is not listed in the indications table (domain.md section 8). "
                "This is not a judgement that transplantation is inappropriate; ask the transplant centre."
            ]
        lines = [
            f"{i.name} ({i.population}): ASTCT {i.astct_text}; EBMT 2022 {i.ebmt_text}. {i.cord_blood_role}"
            for i in self.indications
        ]
        lines.extend(u.text for u in self.investigational)
        if self.note:
            lines.append(self.note)
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "status": self.status,
            "indications": [i.to_dict() for i in self.indications],
            "investigational": [u.to_dict() for u in self.investigational],
            "explanations": self.explanations,
            "note": self.note or None,
        }


@dataclass(frozen=True, slots=True)
class IndicationTable:
    """All diseases and investigational uses, with their normalised search phrases."""

    indications: tuple[Indication, ...]
    investigational: tuple[InvestigationalUse, ...]

    def lookup(self, diagnosis: str) -> IndicationLookup:
        """Find ``diagnosis`` by name, synonym or abbreviation; never raises for unknown diseases."""
        if not isinstance(diagnosis, str) or not normalise(diagnosis):
            raise InvalidInputError("diagnosis must be a non-empty text", where="diagnosis")
        query = normalise(diagnosis)
        hits_d = _match(query, self.indications)
        hits_i = _match(query, self.investigational)
        if hits_d:
            status = LISTED
        elif hits_i:
            status = INVESTIGATIONAL
        else:
            status = NOT_LISTED
        return IndicationLookup(diagnosis.strip(), status, hits_d, hits_i)


_E = TypeVar("_E", "Indication", "InvestigationalUse")


def _phrases(entry: Indication | InvestigationalUse) -> list[str]:
    phrases = [entry.id.replace("-", " "), entry.name, *entry.synonyms]
    if isinstance(entry, Indication):
        phrases.append(entry.group)
    return [normalise(p) for p in phrases]


def _match(query: str, entries: Sequence[_E]) -> tuple[_E, ...]:
    tokens = set(query.split())
    return tuple(e for e in entries if any(tokens <= set(p.split()) for p in _phrases(e)))


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise InvalidInputError(f"{key} must be text", where=where)
    return value


def build_table(raw: Mapping[str, Any]) -> IndicationTable:
    """Validate the parsed data file (categories, statuses, trial ids) and build the table."""
    indications: list[Indication] = []
    for row in raw.get("disease", []):
        where = f"disease {row.get('id', '?')}"
        ind = Indication(
            id=_text(row, "id", where),
            name=_text(row, "name", where),
            population=_text(row, "population", where),
            group=_text(row, "group", where),
            synonyms=tuple(str(s) for s in row.get("synonyms", [])),
            astct=_text(row, "astct", where),
            astct_source=_text(row, "astct_source", where),
            astct_status=_text(row, "astct_status", where),
            ebmt=_text(row, "ebmt", where),
            ebmt_grade=_text(row, "ebmt_grade", where),
            ebmt_source=_text(row, "ebmt_source", where),
            ebmt_status=_text(row, "ebmt_status", where),
            cord_blood_role=_text(row, "cord_blood_role", where),
        )
        if ind.astct and ind.astct not in ASTCT_CATEGORIES:
            raise InvalidInputError(f"unknown ASTCT category {ind.astct!r}", where=where)
        if ind.ebmt and ind.ebmt not in EBMT_CATEGORIES:
            raise InvalidInputError(f"unknown EBMT category {ind.ebmt!r}", where=where)
        if ind.ebmt_grade not in ("", "I", "II", "III"):
            raise InvalidInputError(f"unknown EBMT grade {ind.ebmt_grade!r}", where=where)
        if {ind.astct_status, ind.ebmt_status} - {"V", "U"}:
            raise InvalidInputError("status must be V or U", where=where)
        indications.append(ind)
    uses: list[InvestigationalUse] = []
    for row in raw.get("investigational", []):
        where = f"investigational {row.get('id', '?')}"
        trials = tuple(Trial(str(t["nct"]), str(t.get("note", ""))) for t in row.get("trials", []))
        for t in trials:
            if not re.fullmatch(r"NCT\d{8}", t.nct):
                raise InvalidInputError(f"not an NCT number: {t.nct!r}", where=where)
        uses.append(
            InvestigationalUse(
                id=_text(row, "id", where),
                name=_text(row, "name", where),
                synonyms=tuple(str(s) for s in row.get("synonyms", [])),
                summary=_text(row, "summary", where),
                trials=trials,
                status=_text(row, "status", where),
            )
        )
    return IndicationTable(tuple(indications), tuple(uses))


def read_indications_text() -> str:
    """The text of the packaged ``indications.toml`` (thin loader)."""
    return resources.files("cordmatch.outcomes").joinpath("indications.toml").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def load_indications() -> IndicationTable:
    """The packaged indications table, parsed and validated once per process."""
    return build_table(tomllib.loads(read_indications_text()))


ADULT_AGE_YEARS = 18.0
ADULT_WEIGHT_KG = 50.0  # [U] proxy when the age is not given: most patients above 50 kg are adults


def patient_population(age_years: float | None = None, weight_kg: float | None = None) -> str | None:
    """``adult`` or ``paediatric`` from the age (>= 18 years: adult), else from the weight ([U] proxy:
    >= 50 kg adult); None when neither is given."""
    if age_years is not None:
        return "adult" if age_years >= ADULT_AGE_YEARS else "paediatric"
    if weight_kg is not None:
        return "adult" if weight_kg >= ADULT_WEIGHT_KG else "paediatric"
    return None


def lookup_indication(diagnosis: str) -> IndicationLookup:
    """Look up a patient's diagnosis (free text) in the packaged table. Unknown -> status 'not_listed'."""
    return load_indications().lookup(diagnosis)
