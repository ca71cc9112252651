"""What every part of the bank services shares: the store, the clock, the log-in throttle, and the
plumbing of one call (one transaction, role check, audit row, unit look-up)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from cordmatch.bank.din import parse_din
from cordmatch.bank.lifecycle import UnitState
from cordmatch.bank.roles import Permission, require
from cordmatch.errors import ConflictError, NotFoundError, PermissionDeniedError
from cordmatch.plausibility import check_length
from cordmatch.services.auth import Principal
from cordmatch.services.throttle import Throttle
from cordmatch.store import audit
from cordmatch.store.engine import Store
from cordmatch.store.models import Unit
from cordmatch.store.types import utcnow

if TYPE_CHECKING:
    from cordmatch.hla.tables import NomenclatureTables

DEFAULT_RESERVATION_DAYS = 30  # [U] bank policy; configurable per call
QC_SETTING = "qc_criteria"
SIGNATURES = frozenset({Permission.UNIT_RELEASE})  # acts that sign: only the person, never a delegate
_CONSTRAINT_MESSAGES = {
    "uq_units_din": ("a unit with this DIN is already registered", "din"),
    "uq_units_storage_position": ("storage position already taken by another unit", "storage"),
    "uq_reservations_one_active": ("unit already has an active reservation", "din"),
    "uq_users_username": ("user name already taken", "username"),
    "uq_banks_code": ("bank code already exists", "bank_code"),
    "pk_product_codes": ("product code listed twice", "product_code"),
}
_SQLITE_MESSAGES = {
    "UNIQUE constraint failed: units.tank": ("storage position already taken by another unit", "storage"),
    "UNIQUE constraint failed: units.din": ("a unit with this DIN is already registered", "din"),
    "UNIQUE constraint failed: reservations.unit_id": ("unit already has an active reservation", "din"),
}


def require_permission(actor: Principal, permission: Permission) -> None:
    """PermissionDeniedError unless ``actor`` may do ``permission``; a signature is never delegated."""
    require(actor.role, permission, who=actor.username)
    if actor.delegated_by and permission in SIGNATURES:
        raise PermissionDeniedError(
            f"{actor.delegated_by} acts with a token issued for {actor.username}: a signature "
            f"({permission.value}) must be given by {actor.username} with their own log-in",
            where="role",
        )


def _conflict(exc: IntegrityError) -> ConflictError:
    """The ConflictError naming the field of a violated constraint."""
    text = str(exc.orig)
    for table in (_CONSTRAINT_MESSAGES, _SQLITE_MESSAGES):
        for name, (msg, where) in table.items():
            if name in text:
                return ConflictError(msg, where=where)
    return ConflictError(f"the change conflicts with stored data: {text.splitlines()[0]}")


@dataclass(slots=True)
class BankContext:
    """A store, a clock (aware UTC now; tests may fix it), the log-in throttle, the nomenclature tables (loaded
    when first needed: ``tables``, else the current settings') and the helpers every part uses."""

    store: Store
    clock: Callable[[], datetime] = utcnow
    throttle: Throttle = field(default_factory=Throttle)
    tables: Callable[[], NomenclatureTables] | None = None

    def nomenclature(self) -> NomenclatureTables:
        """The tables typings are checked against (the application's, when it built this service)."""
        from cordmatch.imgt import current_tables

        return (self.tables or current_tables)()

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """One transaction; constraint violations and concurrent changes become ConflictError."""
        try:
            with self.store.transaction() as session:
                yield session
        except IntegrityError as exc:
            raise _conflict(exc) from None
        except StaleDataError:
            raise ConflictError("the unit was changed concurrently; reload and retry", where="version") from None

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction (never blocks on SQLite's write lock)."""
        with self.store.read() as session:
            yield session

    @staticmethod
    def require(actor: Principal, permission: Permission) -> None:
        """PermissionDeniedError unless ``actor`` may do ``permission``."""
        require_permission(actor, permission)

    @staticmethod
    def audit(
        s: Session,
        actor: Principal,
        action: str,
        entity: str,
        entity_id: str | int,
        before: Any = None,
        after: Any = None,
        reason: str | None = None,
    ) -> None:
        """Append one audit row in the caller's transaction (every reason and note is length-checked here)."""
        check_length(reason, "reason", "reason")
        audit.append(
            s,
            actor=actor.actor_name,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=before,
            after=after,
            reason=reason,
        )

    @staticmethod
    def unit(s: Session, din: str, *, lock: bool = False) -> Unit:
        """The unit with DIN ``din`` (NotFoundError); ``lock`` = row lock on PostgreSQL."""
        code = str(parse_din(din))
        q = select(Unit).where(Unit.din == code)
        if lock:
            q = q.with_for_update(of=Unit)  # PostgreSQL row lock; SQLite already holds the write lock
        found = s.execute(q).unique().scalar_one_or_none()
        if found is None:
            raise NotFoundError(f"no unit with DIN {code}", where="din")
        return found


def require_state(unit: Unit, allowed: tuple[UnitState, ...], what: str) -> None:
    """ConflictError unless the unit is in one of the ``allowed`` states (``what`` names the act)."""
    if unit.state not in allowed:
        names = ", ".join(a.value for a in allowed)
        raise ConflictError(f"cannot {what} unit {unit.din} in state {unit.state} (needs {names})", where="state")


def bump(unit: Unit) -> None:
    """Make SQLAlchemy write the unit row (and so bump its version) when only related rows changed."""
    flag_modified(unit, "segments")
