"""The one place that builds cordmatch: store, nomenclature tables, haplotype index, bank service, search.

The entry points (``cli``, the server's ``api``/``web`` app) read :class:`cordmatch.config.Settings` once,
call :func:`build` and run on the :class:`Application` it returns; nothing below them builds these parts
or fetches a process-wide default on its own. Each part is built on first use (a ``grade`` never opens the
store, a ``bank unit list`` never loads the tables) and then shared: one object graph per application.

Several server processes (``cordmatch serve --workers N``): the parent hands its settings to the children
through their environment (:func:`cordmatch.config.child_environment`) and uvicorn calls the factory
``cordmatch.server:app_from_env`` in each, which reads them back and builds the same application there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from cordmatch.config import Settings

if TYPE_CHECKING:
    from cordmatch.hla.tables import NomenclatureTables
    from cordmatch.imgt.build import Progress
    from cordmatch.probability.index import HaplotypeIndex
    from cordmatch.services.bank import BankService
    from cordmatch.store.engine import Store

#: The API's search seam: ``(actor, query) -> the outcome's dict`` (``cordmatch.services.search_query.SearchBackend``).
SearchBackend = Callable[[Any, Any], dict[str, Any]]


def _utcnow() -> datetime:
    from cordmatch.store.types import utcnow

    return utcnow()


class Application:
    """What an entry point runs on, built from one :class:`Settings`; each part on first use, then kept.

    ``store``: an already opened store to use instead of opening the settings' one (then not closed here).
    ``search_backend``: the API's search seam ("auto" = the bank store's search, None = no search).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        clock: Callable[[], datetime] = _utcnow,
        search_backend: SearchBackend | Literal["auto"] | None = "auto",
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._given_store = store
        self._search_backend = search_backend
        self._tables: NomenclatureTables | None = None
        self._lock = threading.RLock()

    @cached_property
    def store(self) -> Store:
        """The bank store: the one given, else the settings' (``$CORDMATCH_DB`` or the data directory's file)."""
        with self._lock:
            return self._given_store if self._given_store is not None else self.open_store()

    def open_store(self, **options: Any) -> Store:
        """A new store on the settings' database (``options`` as for ``cordmatch.store.open_store``)."""
        from cordmatch.store.engine import default_url, open_store

        s = self.settings
        target = s.db or default_url(s)  # a file path as given: open_store makes its folder
        return open_store(target, pool_size=s.db_pool, busy_s=s.db_busy_timeout_s, **options)

    @property
    def tables(self) -> NomenclatureTables:
        """The nomenclature tables of the settings' release (built on first use, then cached on disk)."""
        return self.nomenclature()

    @property
    def has_tables(self) -> bool:
        """Whether the tables are loaded already."""
        return self._tables is not None

    def nomenclature(self, progress: Progress | None = None) -> NomenclatureTables:
        """The tables, loading them (``progress`` told of a first build) unless loaded already."""
        with self._lock:
            if self._tables is None:
                self._tables = settings_tables(self.settings, progress)
            return self._tables

    @cached_property
    def haplotype_index(self) -> HaplotypeIndex:
        """The haplotype frequencies of the shipped sets, on these tables (for match probabilities)."""
        from cordmatch.io.frequency_sets import load_index

        with self._lock:
            return load_index(tables=self.tables, base=self.settings.data_dir)

    @cached_property
    def bank(self) -> BankService:
        """The bank's use cases on this store."""
        from cordmatch.services.bank import BankService
        from cordmatch.services.throttle import IN_PROCESS, Throttle

        with self._lock:
            throttle = Throttle(storage=self.settings.throttle_storage or IN_PROCESS)
            return BankService(self.store, clock=self.clock, tables=self.nomenclature, throttle=throttle)

    @cached_property
    def search_backend(self) -> SearchBackend | None:
        """The API's and the pages' unit search: the bank store's available units, on these tables."""
        with self._lock:
            if self._search_backend != "auto":
                return self._search_backend
            from cordmatch.services.bank_search import BankSearch

            return BankSearch(self.store, self.tables)

    def close(self) -> None:
        """Close the store if this application opened it."""
        if "store" in self.__dict__ and self._given_store is None:
            self.store.close()


def build(settings: Settings, **options: Any) -> Application:
    """The application of ``settings`` (``options``: as for :class:`Application`)."""
    return Application(settings, **options)


def settings_tables(settings: Settings, progress: Progress | None = None) -> NomenclatureTables:
    """The nomenclature tables the settings name (release, data directory, py-ard fallback); one per process."""
    from cordmatch.imgt.cache import settings_nomenclature

    return settings_nomenclature(settings, progress)


def worker_tables() -> NomenclatureTables:
    """The tables in a Dask worker process (no entry point there): ``cordmatch.imgt.current_tables``, the
    tables of the settings the cluster handed the worker. Every ``scale`` task loads its tables here."""
    from cordmatch.imgt.cache import current_tables

    return current_tables()
