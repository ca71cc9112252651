"""Unit search on the bank's own store, for the REST API and the pages (the search seam of ADR 0502).

The search index is built from the store's persistent coded index (:mod:`cordmatch.services.store_index`):
every search first reads the store's change log since the last one (triggers log every write to units,
typings, measurements and banks) and reloads only the units it names, so a unit that was just reserved,
released or retyped is never ranked from stale data, and no search parses the other units' typings again.
The ranking, rules and explanations are those of the one search pipeline, :func:`cordmatch.services.search.run_search`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from cordmatch.bank.roles import Permission, require
from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.selection.index import UnitIndex
from cordmatch.services.auth import Principal
from cordmatch.services.store_index import CodedUnits, StoreSource, coded_units, index_of, index_path
from cordmatch.store.engine import Store

if TYPE_CHECKING:
    from cordmatch.services.search_query import SearchQuery


class BankSearch:
    """``search(actor, query)`` on one store: a search backend for ``cordmatch.server.create_app``."""

    def __init__(self, store: Store, tables: NomenclatureTables) -> None:
        self.store = store
        self.tables = tables
        self._lock = threading.Lock()
        self._coded: CodedUnits | None = None
        self._index: tuple[UnitIndex, StoreSource] | None = None

    def index(self) -> tuple[UnitIndex, StoreSource]:
        """The index of the available units now: the store's persistent coded index brought up to date with
        its change log (only changed units are read again); rebuilt from the codes when they changed (the
        first time: the index saved in the index file when the store did not change since it was written)."""
        with self._lock:
            path = index_path(self.store)
            coded = coded_units(self.store, self.tables, path=path)
            if self._index is None or coded is not self._coded:
                self._index = (index_of(coded, self.tables.release, path), StoreSource(self.store))
                self._coded = coded
            return self._index

    def __call__(self, actor: Principal, query: SearchQuery) -> dict[str, Any]:
        """Rank the available units for the patient of ``query``; errors name the query's fields."""
        from cordmatch.services.search import run_search
        from cordmatch.services.search_query import query_field_error

        require(actor.role, Permission.UNIT_SEARCH, who=actor.username)
        try:
            outcome = run_search(query.request(), self.tables, registry=self.index)
        except InvalidInputError as exc:
            raise query_field_error(exc) from None
        return outcome.to_dict()
