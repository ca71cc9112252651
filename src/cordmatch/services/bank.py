"""The bank's operations on one store, as one object with a part per use case.

``BankService(store)`` is what the entry points (API, pages, CLI, reports) receive; it holds

- ``units``: registration (one or many), processing, counts and corrections, tests, typing, storage, state;
- ``release``: QC criteria, the release checklist and the signed (or exceptional) release;
- ``reservations``: reserve, cancel, confirmatory typing, expiry, shipment, infusion;
- ``users``: accounts, log-in, API tokens;
- ``catalogue``: unit look-up and listing, history, banks, product codes, the audit chain check.

The parts share one ``BankContext`` (store, clock, log-in throttle, transaction and audit plumbing).
Every operation takes the acting ``Principal`` first, checks its role, validates the input and writes
the change and its audit rows in ONE transaction. See docs/adr (bank services by use case).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from cordmatch.bank.roles import Permission
from cordmatch.services.auth import Principal
from cordmatch.services.bank_catalogue import CatalogueServices
from cordmatch.services.bank_context import BankContext, require_permission
from cordmatch.services.bank_release import ReleaseServices
from cordmatch.services.bank_reservations import ReservationServices
from cordmatch.services.bank_units import UnitServices
from cordmatch.services.throttle import Throttle
from cordmatch.services.users import UserServices
from cordmatch.store.engine import Store
from cordmatch.store.types import utcnow

if TYPE_CHECKING:
    from cordmatch.hla.tables import NomenclatureTables


class BankService:
    """The bank's operations on one store. ``clock`` returns aware UTC now (tests may fix it)."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = utcnow,
        throttle: Throttle | None = None,
        tables: Callable[[], NomenclatureTables] | None = None,
    ) -> None:
        """``tables``: gives the nomenclature tables typings are checked against (default: the settings')."""
        self.ctx = BankContext(store, clock, throttle or Throttle(), tables)
        self.units = UnitServices(self.ctx)
        self.release = ReleaseServices(self.ctx)
        self.reservations = ReservationServices(self.ctx)
        self.users = UserServices(self.ctx)
        self.catalogue = CatalogueServices(self.ctx)

    @property
    def store(self) -> Store:
        return self.ctx.store

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.ctx.clock

    @property
    def throttle(self) -> Throttle:
        return self.ctx.throttle

    @throttle.setter
    def throttle(self, throttle: Throttle) -> None:
        """Replace the log-in throttle (an app may set its own limits after start-up)."""
        self.ctx.throttle = throttle

    @staticmethod
    def require(actor: Principal, permission: Permission) -> None:
        """PermissionDeniedError unless ``actor`` may do ``permission`` (adapters check before costly work)."""
        require_permission(actor, permission)
