"""Plumbing shared by the bank services: one transaction per call, role checks, audit rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
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

P = Permission
S = UnitState
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


class ServiceBase:
    """A store, a clock (aware UTC now; tests may fix it) and the helpers every service uses."""

    def __init__(
        self, store: Store, *, clock: Callable[[], datetime] = utcnow, throttle: Throttle | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.throttle = throttle or Throttle()

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def _tx(self) -> Iterator[Session]:
        """One transaction; constraint violations and concurrent changes become ConflictError."""
        try:
            with self.store.transaction() as session:
                yield session
        except IntegrityError as exc:
            text = str(exc.orig)
            for name, (msg, field) in _CONSTRAINT_MESSAGES.items():
                if name in text:
                    raise ConflictError(msg, where=field) from None
            if "UNIQUE constraint failed: units.tank" in text:
                raise ConflictError("storage position already taken by another unit", where="storage") from None
            if "UNIQUE constraint failed: units.din" in text:
                raise ConflictError("a unit with this DIN is already registered", where="din") from None
            if "UNIQUE constraint failed: reservations.unit_id" in text:
                raise ConflictError("unit already has an active reservation", where="din") from None
            raise ConflictError(f"the change conflicts with stored data: {text.splitlines()[0]}") from None
        except StaleDataError:
            raise ConflictError("the unit was changed concurrently; reload and retry", where="version") from None

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A read-only transaction (never blocks on SQLite's write lock)."""
        with self.store.read() as session:
            yield session

    @classmethod
    def require(cls, actor: Principal, permission: Permission) -> None:
        """PermissionDeniedError unless ``actor`` may do ``permission`` (adapters check before costly work)."""
        cls._require(actor, permission)

    @staticmethod
    def _require(actor: Principal, permission: Permission) -> None:
        require(actor.role, permission, who=actor.username)
        if actor.delegated_by and permission in SIGNATURES:
            raise PermissionDeniedError(
                f"{actor.delegated_by} acts with a token issued for {actor.username}: a signature "
                f"({permission.value}) must be given by {actor.username} with their own log-in",
                where="role",
            )

    @staticmethod
    def _audit(
        s: Session,
        actor: Principal,
        action: str,
        entity: str,
        entity_id: str | int,
        before: Any = None,
        after: Any = None,
        reason: str | None = None,
    ) -> None:
        check_length(reason, "reason", "reason")  # every reason and note passes here (API, pages, CLI)
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

    def _unit(self, s: Session, din: str, *, lock: bool = False) -> Unit:
        code = str(parse_din(din))
        q = select(Unit).where(Unit.din == code)
        if lock:
            q = q.with_for_update(of=Unit)  # PostgreSQL row lock; SQLite already holds the write lock
        unit = s.execute(q).unique().scalar_one_or_none()
        if unit is None:
            raise NotFoundError(f"no unit with DIN {code}", where="din")
        return unit
