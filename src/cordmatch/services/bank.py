"""Bank services: collections, results, lifecycle, QC release, reservations, users and tokens.

Every public method takes the acting ``Principal`` first, checks its role (PermissionDeniedError),
validates the input (InvalidInputError naming the field), changes the store and appends the audit
trail in ONE transaction: either all of it is written or nothing is. Reservations lock the unit row
(``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite) and a partial unique index
allows one active reservation per unit.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cordmatch.bank.din import parse_din
from cordmatch.bank.lifecycle import GUARDED, UnitState, allowed_next, check_transition, state_of
from cordmatch.bank.product_codes import ProductCodeTable, validate_code
from cordmatch.bank.qc import (
    DEFAULT_CRITERIA,
    Criterion,
    ReleaseDecision,
    criteria_from_json,
    evaluate,
    qc_values,
)
from cordmatch.bank.roles import Permission, Role
from cordmatch.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from cordmatch.plausibility import check_length, check_number
from cordmatch.services import bank_bulk as bulk
from cordmatch.services import bank_validate as v
from cordmatch.services.auth import SYSTEM, Principal
from cordmatch.services.bank_base import DEFAULT_RESERVATION_DAYS, QC_SETTING
from cordmatch.services.bank_bulk import UnitImport
from cordmatch.services.schemas import (
    STAGES,
    BankOut,
    CriterionOut,
    MeasurementIn,
    MeasurementOut,
    Page,
    ReleaseOut,
    ReservationOut,
    StoragePosition,
    TestResultsIn,
    TypingOut,
    UnitFilter,
    UnitOut,
    UnitRegistration,
    parse_model,
)
from cordmatch.services.users import UserServices
from cordmatch.store import audit
from cordmatch.store.audit import ChainReport
from cordmatch.store.models import (
    Bank,
    HlaTyping,
    Measurement,
    ProductCode,
    ReleaseRecord,
    Reservation,
    Setting,
    Unit,
    User,
)

P = Permission
S = UnitState


class BankService(UserServices):
    """The bank's operations on one store. ``clock`` returns aware UTC now (tests may fix it)."""

    # ------------------------------------------------------------------ views
    def _current_typing(self, s: Session, unit_id: int) -> HlaTyping | None:
        return s.execute(
            select(HlaTyping)
            .where(HlaTyping.unit_id == unit_id, HlaTyping.superseded_by.is_(None))
            .order_by(HlaTyping.id.desc())
            .limit(1)
        ).scalar_one_or_none()

    def _active_reservation(self, s: Session, unit_id: int) -> Reservation | None:
        return s.execute(
            select(Reservation).where(Reservation.unit_id == unit_id, Reservation.status == "active")
        ).scalar_one_or_none()

    def _reservation_out(
        self, s: Session, r: Reservation, unit: Unit | None = None, *, by: Principal | None = None
    ) -> ReservationOut:
        unit = unit or s.get(Unit, r.unit_id)
        assert unit is not None
        user = by if by is not None and by.user_id == r.user_id else s.get(User, r.user_id)
        return ReservationOut(
            id=r.id,
            din=unit.din,
            centre=r.centre,
            patient_ref=r.patient_ref,
            reserved_by=user.username if user else "?",
            status=r.status,
            created_at=r.created_at,
            expires_at=r.expires_at,
            ended_at=r.ended_at,
            ct_status=r.ct_status,
            ct_requested_at=r.ct_requested_at,
            exceptional_release=unit.exceptional_release,
            note=r.note,
            alert=r.alert,
        )

    def _unit_out(
        self,
        s: Session,
        unit: Unit,
        *,
        detail: bool = True,
        prefetched: tuple[list[HlaTyping], list[Measurement]] | None = None,
    ) -> UnitOut:
        """The unit as the services return it; ``prefetched`` = its typings and measurements (lists)."""
        din = parse_din(unit.din)
        if prefetched is None:
            typings: Sequence[HlaTyping] = (
                s.execute(select(HlaTyping).where(HlaTyping.unit_id == unit.id).order_by(HlaTyping.id)).scalars().all()
            )
            measurements: Sequence[Measurement] = (
                s.execute(select(Measurement).where(Measurement.unit_id == unit.id)).scalars().all()
            )
        else:
            typings, measurements = prefetched
        current = [t for t in typings if t.superseded_by is None]
        active = self._active_reservation(s, unit.id) if detail else None
        storage = (
            StoragePosition(tank=unit.tank, rack=unit.rack, box=unit.box, slot=unit.slot)
            if unit.tank and unit.rack and unit.box and unit.slot
            else None
        )
        return UnitOut(
            din=unit.din,
            din_labelled=din.labelled,
            product_code=unit.product_code,
            bank_code=unit.bank.code,
            bank_name=unit.bank.name,
            accreditation=unit.bank.accreditation,
            state=unit.state,
            version=unit.version,
            collected_at=unit.collected_at,
            registered_at=unit.registered_at,
            collection_volume_ml=unit.collection_volume_ml,
            abo=unit.abo,
            rh=unit.rh,
            idm_result=unit.idm_result,
            idm_markers=json.loads(unit.idm_markers) if unit.idm_markers else None,
            sterility=unit.sterility,
            hb_screen=unit.hb_screen,
            segments=unit.segments,
            storage=storage,
            nima_gl=unit.nima_gl,
            red_cell_depleted=unit.red_cell_depleted,
            exceptional_release=unit.exceptional_release,
            exceptional_reason=unit.exceptional_reason,
            released_at=unit.released_at,
            hla_gl=current[-1].gl if current else None,
            typings=[
                TypingOut(
                    id=t.id,
                    gl=t.gl,
                    kind=t.kind,
                    lab=t.lab,
                    recorded_at=t.recorded_at,
                    superseded_by=t.superseded_by,
                )
                for t in typings
            ]
            if detail
            else [],
            measurements={
                m.stage: MeasurementOut(
                    stage=m.stage,
                    volume_ml=m.volume_ml,
                    tnc=m.tnc,
                    cd34=m.cd34,
                    viability_pct=m.viability_pct,
                    viable_cd34_pct=m.viable_cd34_pct,
                    viable_cd45_pct=m.viable_cd45_pct,
                    cfu=m.cfu,
                    recorded_at=m.recorded_at,
                )
                for m in measurements
            },
            active_reservation=self._reservation_out(s, active, unit) if active else None,
            allowed_next=[x.value for x in allowed_next(unit.state)],
        )

    @staticmethod
    def _snapshot(out: UnitOut) -> dict[str, Any]:
        """The audited picture of a unit (no nested history)."""
        d = out.model_dump(mode="json", exclude={"typings", "active_reservation", "allowed_next"})
        return d

    def _can_see(self, actor: Principal, unit: Unit, s: Session | None = None) -> bool:
        """Bank staff see every unit; a coordinator sees listed (available) units and the units their
        own centre reserved, shipped or infused, and cannot tell that any other unit exists."""
        if actor.role != Role.COORDINATOR:
            return True
        if unit.state == S.AVAILABLE:
            return True
        if s is None or unit.state not in (S.RESERVED, S.SHIPPED, S.INFUSED):
            return False
        ours = select(Reservation.id).where(
            Reservation.unit_id == unit.id,
            Reservation.centre == (actor.centre or ""),
            Reservation.status.in_(("active", "shipped")),
        )
        return s.execute(ours.limit(1)).first() is not None

    # ------------------------------------------------------------------ configuration
    def add_bank(
        self,
        actor: Principal,
        code: str,
        name: str,
        *,
        accreditation: str = "none",
        facility_id: str | None = None,
    ) -> BankOut:
        """Register a bank (code, name, accreditation such as ``FACT-NetCord`` or ``AABB``)."""
        self._require(actor, P.CONFIG)
        code = v.check_text(code, "bank_code", max_len=32)
        name = v.check_text(name, "name")
        accreditation = v.check_text(accreditation, "accreditation", max_len=64)
        if facility_id is not None:
            from cordmatch.bank.din import issue_din

            facility_id = issue_din(facility_id, 0, 1).facility
        with self._tx() as s:
            if s.execute(select(Bank).where(Bank.code == code)).scalar_one_or_none():
                raise ConflictError(f"bank {code} already exists", where="bank_code")
            bank = Bank(code=code, name=name, accreditation=accreditation, facility_id=facility_id)
            s.add(bank)
            s.flush()
            out = BankOut(code=code, name=name, facility_id=facility_id, accreditation=accreditation)
            self._audit(s, actor, "bank.add", "bank", code, None, out.model_dump())
            return out

    def list_banks(self, actor: Principal) -> list[BankOut]:
        self._require(actor, P.UNIT_SEARCH)
        with self._read() as s:
            return [
                BankOut(code=b.code, name=b.name, facility_id=b.facility_id, accreditation=b.accreditation)
                for b in s.execute(select(Bank).order_by(Bank.code)).scalars()
            ]

    def load_product_codes(self, actor: Principal, table: ProductCodeTable) -> int:
        """Load (add or update) the bank's licensed product description codes; returns how many."""
        self._require(actor, P.CONFIG)
        with self._tx() as s:
            before = {p.code: p.description for p in s.execute(select(ProductCode)).scalars()}
            for code, description in table.codes.items():
                row = s.get(ProductCode, code)
                if row is None:
                    s.add(ProductCode(code=code, description=description))
                else:
                    row.description = description
            s.flush()
            after = {**before, **dict(table.codes)}
            self._audit(s, actor, "product_codes.load", "product_codes", "table", before, after)
            return len(table.codes)

    def product_codes(self) -> ProductCodeTable:
        with self._read() as s:
            return ProductCodeTable({p.code: p.description for p in s.execute(select(ProductCode)).scalars()})

    def qc_criteria(self) -> tuple[Criterion, ...]:
        """The configured QC release criteria (defaults until a bank sets its own)."""
        with self._read() as s:
            row = s.get(Setting, QC_SETTING)
            return criteria_from_json(row.value) if row else DEFAULT_CRITERIA

    def set_qc_criteria(self, actor: Principal, criteria: tuple[Criterion, ...] | str) -> tuple[Criterion, ...]:
        """Replace the QC release criteria (a tuple, or their JSON)."""
        self._require(actor, P.CONFIG)
        from cordmatch.bank.qc import criteria_to_json

        parsed = criteria_from_json(criteria) if isinstance(criteria, str) else tuple(criteria)
        if not parsed:
            raise InvalidInputError("at least one QC criterion is needed", where="criteria")
        text = criteria_to_json(parsed)
        with self._tx() as s:
            row = s.get(Setting, QC_SETTING)
            before = json.loads(row.value) if row else None
            if row is None:
                s.add(Setting(key=QC_SETTING, value=text))
            else:
                row.value = text
            s.flush()
            self._audit(s, actor, "qc_criteria.set", "settings", QC_SETTING, before, json.loads(text))
        return parsed

    # ------------------------------------------------------------------ units
    def register_unit(self, actor: Principal, data: UnitRegistration | dict[str, Any]) -> UnitOut:
        """Register a collection (state ``collected``)."""
        self._require(actor, P.UNIT_WRITE)
        reg = parse_model(UnitRegistration, data)
        with self._tx() as s:
            unit = self._register(s, actor, reg)
            return self._unit_out(s, unit)

    def register_units(self, actor: Principal, items: Sequence[UnitImport]) -> list[str]:
        """Register many collections in ONE transaction, or none: each unit checked and audited exactly as
        :meth:`register_unit` does, written with bulk inserts, then one ``units.import`` audit row.
        Returns the DINs; ``UnitsRefusedError`` lists every refused item by its index."""
        self._require(actor, P.UNIT_WRITE)
        with self._tx() as s:
            return bulk.register_units(self, s, actor, items)

    def _register(self, s: Session, actor: Principal, reg: UnitRegistration) -> Unit:
        """Validate and insert one unit with its audit row, in the caller's transaction."""
        new = self._new_unit(reg, bulk.SessionLookup(s))
        s.add(new.unit)
        s.flush()
        s.add_all(new.children(actor.user_id))
        s.flush()
        self._audit(s, actor, "unit.register", "unit", new.unit.din, None, self._snapshot(self._unit_out(s, new.unit)))
        return new.unit

    def _new_unit(self, reg: UnitRegistration, lookup: bulk.Lookup) -> bulk.NewUnit:
        """The checked, not yet stored unit of ``reg`` (InvalidInputError/ConflictError naming the field)."""
        din = str(parse_din(reg.din))
        code = validate_code(reg.product_code)
        if not lookup.product_code_known(code):
            raise InvalidInputError(
                f"product code {code} is not in the bank's product code table", where="product_code"
            )
        bank = lookup.bank(reg.bank_code)
        if bank is None:
            raise InvalidInputError(f"unknown bank {reg.bank_code!r}", where="bank_code")
        collected_at = v.check_collected_at(reg.collected_at, self.clock())
        volume = v.check_nonneg(reg.collection_volume_ml, "collection_volume_ml")
        check_number(volume, "volume_ml", "collection_volume_ml")
        collection = v.check_measurement(reg.collection, prefix="collection.") if reg.collection else None
        tests = v.check_tests(reg.tests) if reg.tests else TestResultsIn()
        hla = v.check_typing(reg.hla_gl) if reg.hla_gl else None
        nima = v.check_nima(reg.nima_gl) if reg.nima_gl else None
        if lookup.din_taken(din):
            raise ConflictError(f"a unit with DIN {din} is already registered", where="din")
        if reg.storage is not None:
            other = lookup.slot_taken_by(reg.storage)
            if other is not None:
                raise ConflictError(f"storage position {reg.storage} is already taken by unit {other}", where="storage")
        unit = Unit(
            din=din,
            product_code=code,
            bank_id=bank.id,
            bank=bank,
            state=S.COLLECTED.value,
            collected_at=collected_at,
            registered_at=self.clock(),
            collection_volume_ml=volume,
            nima_gl=nima,
            red_cell_depleted=reg.red_cell_depleted,
            segments=0,
            exceptional_release=False,
        )
        self._apply_tests(unit, tests)
        if reg.storage is not None:
            self._apply_storage(unit, reg.storage)
        return bulk.NewUnit(unit, collection, hla, self.clock)

    @staticmethod
    def _apply_tests(unit: Unit, t: TestResultsIn) -> None:
        for field in ("abo", "rh", "idm_result", "sterility", "hb_screen", "segments"):
            value = getattr(t, field)
            if value is not None:
                setattr(unit, field, value)
        if t.idm_markers is not None:
            unit.idm_markers = json.dumps(t.idm_markers, sort_keys=True)

    @staticmethod
    def _apply_storage(unit: Unit, pos: StoragePosition) -> None:
        unit.tank, unit.rack, unit.box, unit.slot = pos.tank, pos.rack, pos.box, pos.slot

    @staticmethod
    def _check_slot_free(s: Session, pos: StoragePosition, own_din: str | None) -> None:
        other = s.execute(
            select(Unit.din).where(
                Unit.tank == pos.tank, Unit.rack == pos.rack, Unit.box == pos.box, Unit.slot == pos.slot
            )
        ).first()
        if other is not None and other[0] != own_din:
            raise ConflictError(f"storage position {pos} is already taken by unit {other[0]}", where="storage")

    def get_unit(self, actor: Principal, din: str) -> UnitOut:
        self._require(actor, P.UNIT_SEARCH)
        with self._read() as s:
            unit = self._unit(s, din)
            if not self._can_see(actor, unit, s):
                raise NotFoundError(f"no unit with DIN {unit.din}", where="din")
            out = self._unit_out(s, unit)
            if actor.role == Role.COORDINATOR:
                # centres see neither storage positions nor other centres' reservations (patients)
                own = out.active_reservation is not None and out.active_reservation.centre == actor.centre
                return out.model_copy(
                    update={"storage": None, "active_reservation": out.active_reservation if own else None}
                )
            return out

    def list_units(
        self,
        actor: Principal,
        filters: UnitFilter | dict[str, Any] | None = None,
        *,
        limit: int = 50,
        offset: int = 0,
    ) -> Page:
        """Units matching ``filters``, newest collection first; coordinators see available units only."""
        self._require(actor, P.UNIT_SEARCH)
        f = parse_model(UnitFilter, filters or {})
        if not 1 <= limit <= 1000:
            raise InvalidInputError("limit must be 1..1000", where="limit")
        if offset < 0:
            raise InvalidInputError("offset must not be negative", where="offset")
        q = select(Unit)
        if actor.role == Role.COORDINATOR:
            q = q.where(Unit.state == S.AVAILABLE.value)
        if f.state:
            q = q.where(Unit.state == state_of(f.state).value)
        if f.bank_code:
            q = q.join(Bank, Unit.bank_id == Bank.id).where(Bank.code == f.bank_code)
        if f.abo:
            q = q.where(Unit.abo == f.abo.upper())
        if f.din_prefix:
            q = q.where(Unit.din.startswith(f.din_prefix.upper().replace(" ", ""), autoescape=True))
        if f.collected_from:
            q = q.where(Unit.collected_at >= f.collected_from)
        if f.collected_to:
            q = q.where(Unit.collected_at < f.collected_to)
        if f.exceptional_release is not None:
            q = q.where(Unit.exceptional_release.is_(f.exceptional_release))
        if f.min_tnc is not None:
            q = q.where(
                Unit.id.in_(
                    select(Measurement.unit_id).where(Measurement.stage == "pre_cryo", Measurement.tnc >= f.min_tnc)
                )
            )
        with self._read() as s:
            total = s.execute(select(func.count()).select_from(q.subquery())).scalar_one()
            rows = s.execute(q.order_by(Unit.collected_at.desc(), Unit.id.desc()).limit(limit).offset(offset))
            units = list(rows.unique().scalars())
            ids = [u.id for u in units]
            pre: dict[int, tuple[list[HlaTyping], list[Measurement]]] = {i: ([], []) for i in ids}
            for t in s.execute(select(HlaTyping).where(HlaTyping.unit_id.in_(ids)).order_by(HlaTyping.id)).scalars():
                pre[t.unit_id][0].append(t)
            for m in s.execute(select(Measurement).where(Measurement.unit_id.in_(ids))).scalars():
                pre[m.unit_id][1].append(m)
            items = [self._unit_out(s, u, detail=False, prefetched=pre[u.id]) for u in units]
            return Page(items=items, total=total, limit=limit, offset=offset)

    def timeline(self, actor: Principal, din: str) -> list[dict[str, Any]]:
        """The unit's audit history, oldest first (for the unit detail page)."""
        self._require(actor, P.UNIT_READ)
        with self._read() as s:
            unit = self._unit(s, din)
            return audit.history(s, "unit", unit.din)

    def _change(
        self,
        actor: Principal,
        din: str,
        action: str,
        mutate: Callable[[Session, Unit], None],
        *,
        reason: str | None = None,
        lock: bool = True,
    ) -> UnitOut:
        """Lock the unit, apply ``mutate``, audit before/after, all in one transaction."""
        with self._tx() as s:
            unit = self._unit(s, din, lock=lock)
            before = self._snapshot(self._unit_out(s, unit))
            mutate(s, unit)
            s.flush()
            out = self._unit_out(s, unit)
            self._audit(s, actor, action, "unit", unit.din, before, self._snapshot(out), reason)
            return out

    @staticmethod
    def _require_state(unit: Unit, allowed: tuple[UnitState, ...], what: str) -> None:
        if unit.state not in allowed:
            names = ", ".join(a.value for a in allowed)
            raise ConflictError(f"cannot {what} unit {unit.din} in state {unit.state} (needs {names})", where="state")

    def record_measurement(
        self, actor: Principal, din: str, stage: str, values: MeasurementIn | dict[str, Any]
    ) -> UnitOut:
        """Record (or correct, audited) the counts of a stage (collection ... post_thaw)."""
        self._require(actor, P.UNIT_WRITE)
        if stage not in STAGES:
            raise InvalidInputError(f"stage {stage!r} is not one of {', '.join(STAGES)}", where="stage")
        m = v.check_measurement(parse_model(MeasurementIn, values))

        def mutate(s: Session, unit: Unit) -> None:
            if unit.state in (S.AVAILABLE, S.RESERVED):
                raise ConflictError(
                    f"unit {unit.din} is released ({unit.state}): its counts change only through an audited "
                    "correction with a reason (the release check is run again)",
                    where="state",
                )
            self._require_state(unit, _PRE_RELEASE, f"record {stage} counts of")
            self._write_measurement(s, unit, stage, m, actor)

        return self._change(actor, din, f"unit.measure.{stage}", mutate)

    def _write_measurement(self, s: Session, unit: Unit, stage: str, m: MeasurementIn, actor: Principal) -> None:
        row = s.execute(
            select(Measurement).where(Measurement.unit_id == unit.id, Measurement.stage == stage)
        ).scalar_one_or_none()
        if row is None:
            row = Measurement(unit_id=unit.id, stage=stage)
            s.add(row)
        for k, val in m.model_dump().items():
            if val is not None:
                setattr(row, k, val)
        row.recorded_at, row.recorded_by = self.clock(), actor.user_id
        s.flush()
        _bump(unit)

    def correct_measurement(
        self, actor: Principal, din: str, stage: str, values: MeasurementIn | dict[str, Any], *, reason: str
    ) -> UnitOut:
        """Correct the counts of a released (available or reserved) unit: audited with ``reason``, the
        release check is run again on the corrected values, and the holder of an active reservation is
        alerted (``ReservationOut.alert``). When the check now fails, an available unit goes back to
        quarantine (no longer listed); a reserved unit stays reserved with the alert saying so."""
        self._require(actor, P.UNIT_WRITE)
        if stage not in STAGES:
            raise InvalidInputError(f"stage {stage!r} is not one of {', '.join(STAGES)}", where="stage")
        reason = v.check_text(reason, "reason", max_len=2000)
        m = v.check_measurement(parse_model(MeasurementIn, values))
        criteria = self.qc_criteria()
        with self._tx() as s:
            unit = self._unit(s, din, lock=True)
            self._require_state(unit, (S.AVAILABLE, S.RESERVED), f"correct the {stage} counts of")
            before = self._snapshot(self._unit_out(s, unit))
            self._write_measurement(s, unit, stage, m, actor)
            decision = evaluate(criteria, self._qc_values(s, unit))
            failing = "; ".join(f"{f.text}: {f.verdict} (value {f.value})" for f in decision.failures)
            verdict = "passes" if decision.passed else f"FAILS ({failing})"
            if not decision.passed and unit.state == S.AVAILABLE and not unit.exceptional_release:
                unit.state = S.QUARANTINE.value  # not listed until a director decides again
            active = self._active_reservation(s, unit.id)
            if active is not None:
                when = self.clock().isoformat(timespec="minutes")
                active.alert = (
                    f"{when}: {stage} counts of unit {unit.din} corrected by {actor.actor_name} ({reason}); "
                    f"release check now {verdict}. Review before shipment."
                )
            s.flush()
            after = self._snapshot(self._unit_out(s, unit))
            after["release_check"] = {"passed": decision.passed, "items": decision.to_dict()["items"]}
            self._audit(s, actor, f"unit.correct.{stage}", "unit", unit.din, before, after, reason)
            return self._unit_out(s, unit)

    def record_processing(
        self, actor: Principal, din: str, values: MeasurementIn | dict[str, Any], *, red_cell_depleted: bool
    ) -> UnitOut:
        """Record the post-processing counts and RBC depletion, and move received -> processed."""
        self._require(actor, P.UNIT_WRITE)
        m = v.check_measurement(parse_model(MeasurementIn, values))
        if m.tnc is None:
            raise InvalidInputError("the post-processing TNC count is required to record processing", where="tnc")

        def mutate(s: Session, unit: Unit) -> None:
            check_transition(unit.state, S.PROCESSED, din=unit.din)
            s.add(Measurement(unit_id=unit.id, stage="post_processing", recorded_by=actor.user_id,
                              recorded_at=self.clock(), **m.model_dump()))  # fmt: skip
            unit.red_cell_depleted = red_cell_depleted
            unit.state = S.PROCESSED.value

        return self._change(actor, din, "unit.process", mutate)

    def record_tests(self, actor: Principal, din: str, results: TestResultsIn | dict[str, Any]) -> UnitOut:
        """Record test results (ABO/Rh, IDM, sterility, haemoglobinopathy screen, segments) before release."""
        self._require(actor, P.UNIT_WRITE)
        t = v.check_tests(parse_model(TestResultsIn, results))

        def mutate(s: Session, unit: Unit) -> None:
            self._require_state(unit, _PRE_RELEASE, "record test results of")
            self._apply_tests(unit, t)
            _bump(unit)

        return self._change(actor, din, "unit.tests", mutate)

    def record_typing(
        self, actor: Principal, din: str, gl: str, *, kind: str = "initial", lab: str | None = None
    ) -> UnitOut:
        """Add an HLA typing (GL string); it supersedes the current one, which is kept in the history."""
        self._require(actor, P.UNIT_WRITE)
        if kind not in ("initial", "confirmatory", "extended"):
            raise InvalidInputError(f"typing kind {kind!r} is not initial, confirmatory or extended", where="kind")
        text = v.check_typing(gl)

        def mutate(s: Session, unit: Unit) -> None:
            self._require_state(unit, _OPEN_STATES, "record a typing of")
            self._add_typing(s, actor, unit, text, kind, lab)
            _bump(unit)

        return self._change(actor, din, f"unit.typing.{kind}", mutate)

    def _add_typing(self, s: Session, actor: Principal, unit: Unit, gl: str, kind: str, lab: str | None) -> HlaTyping:
        old = self._current_typing(s, unit.id)
        new = HlaTyping(unit_id=unit.id, gl=gl, kind=kind, lab=lab, recorded_by=actor.user_id, recorded_at=self.clock())
        s.add(new)
        s.flush()
        if old is not None:
            old.superseded_by = new.id
        return new

    def set_nima(self, actor: Principal, din: str, gl: str | None) -> UnitOut:
        """Record (or clear, with None) the non-inherited maternal antigens as a GL string."""
        self._require(actor, P.UNIT_WRITE)
        text = v.check_nima(gl) if gl else None

        def mutate(s: Session, unit: Unit) -> None:
            self._require_state(unit, _OPEN_STATES, "record the NIMA of")
            unit.nima_gl = text

        return self._change(actor, din, "unit.nima", mutate)

    def set_storage(self, actor: Principal, din: str, position: StoragePosition | dict[str, Any]) -> UnitOut:
        """Put the unit at a storage position (tank/rack/box/slot); refused when the slot is taken."""
        self._require(actor, P.UNIT_WRITE)
        pos = parse_model(StoragePosition, position, where="storage.")
        for part in ("tank", "rack", "box", "slot"):
            v.check_text(getattr(pos, part), f"storage.{part}", max_len=20)

        def mutate(s: Session, unit: Unit) -> None:
            self._require_state(unit, _OPEN_STATES, "store")
            self._check_slot_free(s, pos, unit.din)
            self._apply_storage(unit, pos)

        return self._change(actor, din, "unit.storage", mutate)

    def transition(self, actor: Principal, din: str, target: UnitState | str, *, reason: str | None = None) -> UnitOut:
        """Move a unit along the plain steps (received, processed, cryopreserved, quarantine).

        Release, reservation, shipment, infusion, discard and research have their own calls.
        """
        self._require(actor, P.UNIT_WRITE)
        tgt = state_of(target)
        if tgt in (S.DISCARDED, S.RESEARCH):
            return self.discard(actor, din, reason or "", research=tgt == S.RESEARCH)

        def mutate(s: Session, unit: Unit) -> None:
            cur = state_of(unit.state)
            check_transition(cur, tgt, din=unit.din)
            if (cur, tgt) in GUARDED:
                raise ConflictError(
                    f"unit {unit.din}: {cur.value} -> {tgt.value} is done by '{GUARDED[(cur, tgt)]}'",
                    where="state",
                )
            if (cur, tgt) == (S.RECEIVED, S.PROCESSED) and not self._has_tnc(s, unit.id, "post_processing"):
                raise ConflictError(
                    f"unit {unit.din}: record the post-processing counts (at least the TNC) to move it to processed",
                    where="tnc",
                )
            unit.state = tgt.value

        return self._change(actor, din, f"unit.state.{tgt.value}", mutate, reason=reason)

    @staticmethod
    def _has_tnc(s: Session, unit_id: int, stage: str) -> bool:
        """Whether the unit has a TNC count recorded for ``stage``."""
        found = s.scalar(
            select(Measurement.id).where(
                Measurement.unit_id == unit_id, Measurement.stage == stage, Measurement.tnc.is_not(None)
            )
        )
        return found is not None

    def discard(self, actor: Principal, din: str, reason: str, *, research: bool = False) -> UnitOut:
        """Discard a unit (or release it for research); the reason is required and audited."""
        self._require(actor, P.UNIT_DISCARD)
        reason = v.check_text(reason, "reason", max_len=2000)
        tgt = S.RESEARCH if research else S.DISCARDED

        def mutate(s: Session, unit: Unit) -> None:
            check_transition(unit.state, tgt, din=unit.din)
            active = self._active_reservation(s, unit.id)
            if active is not None:
                active.status, active.ended_at = "cancelled", self.clock()
                active.note = f"unit {tgt.value}: {reason}"
            unit.state = tgt.value
            unit.tank = unit.rack = unit.box = unit.slot = None  # leaves the tank: the slot is free again

        return self._change(actor, din, f"unit.state.{tgt.value}", mutate, reason=reason)

    # ------------------------------------------------------------------ QC release
    def _qc_values(self, s: Session, unit: Unit) -> dict[str, Any]:
        stages = {m.stage: m for m in s.execute(select(Measurement).where(Measurement.unit_id == unit.id)).scalars()}
        typing = self._current_typing(s, unit.id)
        return qc_values(unit, stages, typing.gl if typing else None)

    def release_check(self, actor: Principal, din: str) -> ReleaseDecision:
        """The release checklist now: every criterion with value and verdict (nothing is written)."""
        self._require(actor, P.UNIT_READ)
        criteria = self.qc_criteria()
        with self._read() as s:
            return evaluate(criteria, self._qc_values(s, self._unit(s, din)))

    def release(self, actor: Principal, din: str, *, exceptional_reason: str | None = None) -> ReleaseOut:
        """QC release quarantine -> available, signed by ``actor`` (bank director).

        When a criterion fails or is missing the release is refused (ConflictError listing them) unless
        ``exceptional_reason`` is given: an exceptional release, flagged on the unit and its reservations.
        """
        self._require(actor, P.UNIT_RELEASE)
        reason = (exceptional_reason or "").strip() or None
        criteria = self.qc_criteria()
        with self._tx() as s:
            unit = self._unit(s, din, lock=True)
            check_transition(unit.state, S.AVAILABLE, din=unit.din)
            self._require_state(unit, (S.QUARANTINE,), "release")
            before = self._snapshot(self._unit_out(s, unit))
            decision = evaluate(criteria, self._qc_values(s, unit))
            if not decision.passed and reason is None:
                listed = "; ".join(f"{f.text}: {f.verdict}" + ("" if f.value is None else f" (value {f.value})")
                                   for f in decision.failures)  # fmt: skip
                raise ConflictError(
                    f"unit {unit.din} does not meet the release criteria: {listed}. "
                    "Give an exceptional-release reason to release it anyway.",
                    where="qc",
                )
            exceptional = not decision.passed
            now = self.clock()
            items = decision.to_dict()["items"]
            rec = ReleaseRecord(
                unit_id=unit.id,
                decided_by=actor.user_id,
                decided_at=now,
                passed=decision.passed,
                released=True,
                exceptional=exceptional,
                reason=reason,
                items=json.dumps(items, sort_keys=True, default=str),
            )
            s.add(rec)
            unit.state = S.AVAILABLE.value
            unit.released_at, unit.released_by = now, actor.user_id
            unit.exceptional_release = exceptional
            unit.exceptional_reason = reason if exceptional else None
            s.flush()
            after = self._snapshot(self._unit_out(s, unit))
            after["release_decision"] = {
                "passed": decision.passed,
                "exceptional": exceptional,
                "items": items,
            }
            action = "unit.release.exceptional" if exceptional else "unit.release"
            self._audit(s, actor, action, "unit", unit.din, before, after, reason)
            return ReleaseOut(
                din=unit.din,
                passed=decision.passed,
                released=True,
                exceptional=exceptional,
                reason=reason,
                decided_by=actor.username,
                decided_at=now,
                items=[CriterionOut(**i) for i in items],
            )

    # ------------------------------------------------------------------ reservations
    def _expire_for_unit(self, s: Session, actor: Principal, unit: Unit) -> Reservation | None:
        """Expire the unit's reservation when past its end; returns the reservation still active."""
        active = self._active_reservation(s, unit.id)
        if active is not None and active.expires_at <= self.clock():
            active.status, active.ended_at = "expired", self.clock()
            if unit.state == S.RESERVED:
                unit.state = S.AVAILABLE.value
            s.flush()
            before = {"state": S.RESERVED.value, "reservation": {"id": active.id, "status": "active"}}
            after = {"state": unit.state, "reservation": {"id": active.id, "status": "expired"}}
            self._audit(s, actor, "unit.reservation_expired", "unit", unit.din, before, after)
            return None
        return active

    def reserve(
        self,
        actor: Principal,
        din: str,
        patient_ref: str,
        *,
        centre: str | None = None,
        days: int = DEFAULT_RESERVATION_DAYS,
        request_ct: bool = False,
        note: str | None = None,
    ) -> ReservationOut:
        """Reserve an available unit for a patient (one active reservation per unit; ends after ``days``)."""
        self._require(actor, P.RESERVE)
        patient_ref = v.check_text(patient_ref, "patient_ref", max_len=100)
        check_length(note, "reason", "note")
        if actor.role == Role.COORDINATOR and centre and centre != actor.centre:
            raise PermissionDeniedError(
                f"{actor.username} reserves for {actor.centre}, not for {centre}", where="centre"
            )
        centre = v.check_text(centre or actor.centre, "centre")
        if not 1 <= days <= 365:
            raise InvalidInputError("reservation length must be 1..365 days", where="days")
        with self._tx() as s:
            unit = self._unit(s, din, lock=True)
            if unit.state == S.RESERVED and self._expire_for_unit(s, actor, unit) is not None:
                raise ConflictError(f"unit {unit.din} is already reserved", where="din")
            if actor.role == Role.COORDINATOR and unit.state != S.AVAILABLE:
                # a centre learns no more than "not available" (never that a unit is in quarantine)
                if not self._can_see(actor, unit, s):
                    raise NotFoundError(f"no unit with DIN {unit.din}", where="din")
                raise ConflictError(f"unit {unit.din} is not available", where="din")
            if unit.state != S.AVAILABLE:
                raise ConflictError(f"unit {unit.din} is {unit.state}, not available", where="state")
            now = self.clock()
            r = Reservation(
                unit_id=unit.id,
                user_id=actor.user_id,
                centre=centre,
                patient_ref=patient_ref,
                status="active",
                created_at=now,
                expires_at=now + timedelta(days=days),
                ct_status="requested" if request_ct else "none",
                ct_requested_at=now if request_ct else None,
                note=note,
            )
            s.add(r)
            unit.state = S.RESERVED.value
            s.flush()
            out = self._reservation_out(s, r, unit, by=actor)
            self._audit(s, actor, "unit.reserve", "unit", unit.din, {"state": "available"},
                        {"state": "reserved", "reservation": out.model_dump(mode="json")})  # fmt: skip
            return out

    def _reservation(self, s: Session, reservation_id: int, *, lock: bool = True) -> tuple[Reservation, Unit]:
        r = s.get(Reservation, reservation_id)
        if r is None:
            raise NotFoundError(f"no reservation {reservation_id}", where="reservation_id")
        unit = self._unit(s, s.get_one(Unit, r.unit_id).din, lock=lock)
        s.refresh(r)
        return r, unit

    def _own_or_manage(self, actor: Principal, r: Reservation) -> None:
        if actor.role == Role.COORDINATOR:
            if r.user_id != actor.user_id and r.centre != actor.centre:  # another centre's: not disclosed
                raise NotFoundError(f"no reservation {r.id}", where="reservation_id")
        else:
            self._require(actor, P.RESERVATION_MANAGE)

    def cancel_reservation(self, actor: Principal, reservation_id: int, reason: str) -> ReservationOut:
        """Cancel an active reservation (its centre, or bank staff); the unit becomes available again."""
        reason = v.check_text(reason, "reason", max_len=2000)
        with self._tx() as s:
            r, unit = self._reservation(s, reservation_id)
            self._own_or_manage(actor, r)
            if r.status != "active":
                raise ConflictError(f"reservation {r.id} is {r.status}, not active", where="reservation_id")
            r.status, r.ended_at = "cancelled", self.clock()
            if unit.state == S.RESERVED:
                unit.state = S.AVAILABLE.value
            s.flush()
            out = self._reservation_out(s, r, unit, by=actor)
            after = {"state": unit.state, "reservation": out.model_dump(mode="json")}
            self._audit(s, actor, "unit.unreserve", "unit", unit.din, {"state": "reserved"}, after, reason)
            return out

    def request_confirmatory_typing(self, actor: Principal, reservation_id: int) -> ReservationOut:
        """Ask the bank for confirmatory typing from the attached segment."""
        with self._tx() as s:
            r, unit = self._reservation(s, reservation_id)
            self._own_or_manage(actor, r)
            if r.status != "active":
                raise ConflictError(f"reservation {r.id} is {r.status}, not active", where="reservation_id")
            if r.ct_status != "none":
                raise ConflictError(f"confirmatory typing already {r.ct_status}", where="ct_status")
            if unit.segments < 1:
                raise ConflictError(
                    f"unit {unit.din} has no attached segment for confirmatory typing", where="segments"
                )
            r.ct_status, r.ct_requested_at = "requested", self.clock()
            s.flush()
            out = self._reservation_out(s, r, unit)
            before = {"reservation": {"id": r.id, "ct_status": "none"}}
            after = {"reservation": {"id": r.id, "ct_status": "requested"}}
            self._audit(s, actor, "unit.ct_request", "unit", unit.din, before, after)
            return out

    def record_confirmatory_typing(
        self, actor: Principal, reservation_id: int, gl: str, *, lab: str | None = None
    ) -> ReservationOut:
        """Record the confirmatory typing result: it supersedes the unit's typing (history kept)."""
        self._require(actor, P.RESERVATION_MANAGE)
        text = v.check_typing(gl)
        with self._tx() as s:
            r, unit = self._reservation(s, reservation_id)
            if r.status != "active" or r.ct_status != "requested":
                raise ConflictError(
                    f"reservation {r.id} has no open confirmatory-typing request ({r.status}, CT {r.ct_status})",
                    where="reservation_id",
                )
            before = self._snapshot(self._unit_out(s, unit))
            typing = self._add_typing(s, actor, unit, text, "confirmatory", lab)
            r.ct_status, r.ct_typing_id = "done", typing.id
            _bump(unit)
            s.flush()
            self._audit(s, actor, "unit.typing.confirmatory", "unit", unit.din, before,
                        self._snapshot(self._unit_out(s, unit)), f"reservation {r.id}")  # fmt: skip
            return self._reservation_out(s, r, unit)

    def expire_reservations(self, actor: Principal) -> int:
        """Expire every active reservation past its end; returns how many."""
        if actor != SYSTEM:  # the system identity (id 0) is never a stored user
            self._require(actor, P.RESERVATION_MANAGE)
        with self._read() as s:
            rows = s.execute(
                select(Reservation.unit_id).where(
                    Reservation.status == "active", Reservation.expires_at <= self.clock()
                )
            ).all()
        n = 0
        for (unit_id,) in rows:
            with self._tx() as s:
                unit = s.get_one(Unit, unit_id)
                unit = self._unit(s, unit.din, lock=True)
                before = self._active_reservation(s, unit.id)
                self._expire_for_unit(s, actor, unit)
                n += before is not None and before.status == "expired"
        return n

    def list_reservations(
        self, actor: Principal, *, status: str | None = "active", din: str | None = None
    ) -> list[ReservationOut]:
        """Reservations (a coordinator sees those of their centre)."""
        self._require(actor, P.UNIT_SEARCH)
        q = select(Reservation).order_by(Reservation.id)
        if status:
            q = q.where(Reservation.status == status)
        if actor.role == Role.COORDINATOR:
            q = q.where(Reservation.centre == (actor.centre or ""))
        with self._read() as s:
            if din:  # a filter: an empty list whether or not the unit exists (nothing disclosed)
                code = str(parse_din(din))
                q = q.where(Reservation.unit_id.in_(select(Unit.id).where(Unit.din == code)))
            return [self._reservation_out(s, r) for r in s.execute(q).scalars()]

    def ship(self, actor: Principal, din: str, *, note: str | None = None) -> UnitOut:
        """Ship a reserved unit to its centre (a requested confirmatory typing must be recorded first)."""
        self._require(actor, P.RESERVATION_MANAGE)

        def mutate(s: Session, unit: Unit) -> None:
            check_transition(unit.state, S.SHIPPED, din=unit.din)
            r = self._active_reservation(s, unit.id)
            if r is None:
                raise ConflictError(f"unit {unit.din} has no active reservation", where="din")
            if r.ct_status == "requested":
                raise ConflictError(
                    f"unit {unit.din}: confirmatory typing requested but not recorded", where="ct_status"
                )
            r.status, r.ended_at = "shipped", self.clock()
            unit.state = S.SHIPPED.value
            unit.tank = unit.rack = unit.box = unit.slot = None  # leaves the tank: the slot is free again

        return self._change(actor, din, "unit.ship", mutate, reason=note)

    def infuse(self, actor: Principal, din: str, *, note: str | None = None) -> UnitOut:
        """Record that the shipped unit was infused."""
        self._require(actor, P.RESERVATION_MANAGE)

        def mutate(s: Session, unit: Unit) -> None:
            check_transition(unit.state, S.INFUSED, din=unit.din)
            unit.state = S.INFUSED.value

        return self._change(actor, din, "unit.infuse", mutate, reason=note)

    # ------------------------------------------------------------------ audit
    def verify_audit(self, actor: Principal) -> ChainReport:
        self._require(actor, P.AUDIT)
        with self._read() as s:
            return audit.verify(s)


_OPEN_STATES = (S.COLLECTED, S.RECEIVED, S.PROCESSED, S.CRYOPRESERVED, S.QUARANTINE, S.AVAILABLE, S.RESERVED)
_PRE_RELEASE = (S.COLLECTED, S.RECEIVED, S.PROCESSED, S.CRYOPRESERVED, S.QUARANTINE)


def _bump(unit: Unit) -> None:
    """Make SQLAlchemy write the unit row (and so bump its version) when only related rows changed."""
    from sqlalchemy.orm.attributes import flag_modified

    flag_modified(unit, "segments")
