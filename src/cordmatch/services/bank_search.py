"""Unit search on the bank's own store, for the REST API and the pages (the search seam of ADR 0502).

The search index is built from the store's persistent coded index (:mod:`cordmatch.services.store_index`):
every search first reads the store's change log since the last one (triggers log every write to units,
typings, measurements and banks) and reloads only the units it names, so a unit that was just reserved,
released or retyped is never ranked from stale data, and no search parses the other units' typings again.
The ranking, rules and explanations are those of ``cordmatch.selection`` and ``cordmatch.services.search``.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from cordmatch.bank.roles import Permission, require
from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.selection.index import UnitIndex
from cordmatch.services.auth import Principal
from cordmatch.services.store_index import CodedUnits, StoreSource, build_index, coded_units
from cordmatch.store.engine import Store

# Where the search service names a CLI option, the API names its field.
_FIELDS = {"--patient": "patient_gl", "--weight": "weight_kg", "--abo": "abo", "--top": "top",
           "--policy": "policy", "--explain": "explain", "--population": "population"}  # fmt: skip


class BankSearch:
    """``search(actor, query)`` on one store: a search backend for ``cordmatch.server.create_app``."""

    def __init__(self, store: Store, tables: NomenclatureTables | None = None) -> None:
        self.store = store
        self._tables = tables
        self._lock = threading.Lock()
        self._coded: CodedUnits | None = None
        self._index: tuple[UnitIndex, StoreSource] | None = None

    @property
    def tables(self) -> NomenclatureTables:
        if self._tables is None:
            from cordmatch.imgt import default_nomenclature

            self._tables = default_nomenclature()
        return self._tables

    def index(self) -> tuple[UnitIndex, StoreSource]:
        """The index of the available units now: the store's persistent coded index brought up to date with
        its change log (only changed units are read again); rebuilt from the codes when they changed."""
        with self._lock:
            coded = coded_units(self.store, self.tables)
            if self._index is None or coded is not self._coded:
                self._index = (build_index(coded, self.tables.release), StoreSource(self.store))
                self._coded = coded
            return self._index

    def __call__(self, actor: Principal, query: Any) -> dict[str, Any]:
        """Rank the available units for the patient of ``query`` (a ``cordmatch.api.search.SearchQuery``)."""
        from cordmatch.selection.search import search
        from cordmatch.selection.settings import default_settings
        from cordmatch.services.search import (
            SearchRequest,
            build_patient,
            gate_investigational,
            probability_grader,
            with_engraftment,
        )

        require(actor.role, Permission.UNIT_SEARCH, who=actor.username)
        req = SearchRequest(
            target="bank store",
            patient_gl=query.patient_gl,
            weight_kg=query.weight_kg,
            antibodies_text=query.antibodies,
            antibodies_source="antibodies",
            policy=query.policy,
            top=query.top,
            explain=query.explain,
            diagnosis=query.diagnosis,
            malignant=query.malignant,
            abo=query.abo,
            research=query.research,
            population=query.population,
        )
        try:
            settings = default_settings()
            settings.policy(req.policy)
            patient, notes = build_patient(req, self.tables)
            index, source = self.index()
            outcome = search(index, source, patient, self.tables, policy=req.policy, top=req.top,
                             settings=settings, explain=req.explain,
                             probability=probability_grader(req.population))  # fmt: skip
        except InvalidInputError as exc:
            raise _api_error(exc) from None
        outcome = gate_investigational(with_engraftment(outcome), req)
        outcome = replace(outcome, patient={**outcome.patient, "population": req.population, "research": req.research})
        if notes:
            outcome = replace(outcome, notes=(*outcome.notes, *notes))
        return outcome.to_dict()


def _api_error(exc: InvalidInputError) -> InvalidInputError:
    """The same error, naming the API field instead of the CLI option."""
    message, where = exc.message, exc.where
    for option, field in _FIELDS.items():
        if message.startswith(option) or where == option:
            message = message.replace(f"{option}: ", f"{field}: ", 1).replace(option, field)
            return InvalidInputError(message, where=field)
    if where and where.startswith(("antibodies", "line")):  # "antibodies line 3": keep the line in the text
        label = where if where.startswith("antibodies") else f"antibodies {where}"
        return InvalidInputError(f"{label}: {message}", where="antibodies")
    return InvalidInputError(message, where=where or "patient_gl")
