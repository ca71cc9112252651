"""A unit's life in the bank before release and after it: registration (one or many), processing,
counts per stage and their audited corrections, tests, HLA typing, NIMA, storage, state steps, discard.

Every public method takes the acting ``Principal`` first, checks its role (PermissionDeniedError),
validates the input (InvalidInputError naming the field), changes the store and appends the audit
trail in ONE transaction: either all of it is written or nothing is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cordmatch.bank.lifecycle import GUARDED, UnitState, check_transition, state_of
from cordmatch.bank.qc import evaluate
from cordmatch.bank.roles import Permission
from cordmatch.errors import ConflictError, InvalidInputError
from cordmatch.services import bank_bulk as bulk
from cordmatch.services import bank_validate as v
from cordmatch.services.auth import Principal
from cordmatch.services.bank_context import BankContext, bump, require_state
from cordmatch.services.bank_registration import SessionLookup, apply_storage, apply_tests, new_unit
from cordmatch.services.bank_release import read_criteria, unit_qc_values
from cordmatch.services.bank_views import active_reservation, current_typing, snapshot, unit_out
from cordmatch.services.schemas import (
    STAGES,
    MeasurementIn,
    StoragePosition,
    TestResultsIn,
    UnitOut,
    UnitRegistration,
    parse_model,
)
from cordmatch.store.models import HlaTyping, Measurement, Unit

P = Permission
S = UnitState
OPEN_STATES = (S.COLLECTED, S.RECEIVED, S.PROCESSED, S.CRYOPRESERVED, S.QUARANTINE, S.AVAILABLE, S.RESERVED)
PRE_RELEASE = (S.COLLECTED, S.RECEIVED, S.PROCESSED, S.CRYOPRESERVED, S.QUARANTINE)
TYPING_KINDS = ("initial", "confirmatory", "extended")


def change(
    ctx: BankContext,
    actor: Principal,
    din: str,
    action: str,
    mutate: Callable[[Session, Unit], None],
    *,
    reason: str | None = None,
    lock: bool = True,
) -> UnitOut:
    """Lock the unit, apply ``mutate``, audit before/after, all in one transaction."""
    with ctx.tx() as s:
        unit = ctx.unit(s, din, lock=lock)
        before = snapshot(unit_out(s, unit))
        mutate(s, unit)
        s.flush()
        out = unit_out(s, unit)
        ctx.audit(s, actor, action, "unit", unit.din, before, snapshot(out), reason)
        return out


def add_typing(
    ctx: BankContext, s: Session, actor: Principal, unit: Unit, gl: str, kind: str, lab: str | None
) -> HlaTyping:
    """Add a typing to the unit; it supersedes the current one (kept in the history)."""
    old = current_typing(s, unit.id)
    new = HlaTyping(unit_id=unit.id, gl=gl, kind=kind, lab=lab, recorded_by=actor.user_id, recorded_at=ctx.clock())
    s.add(new)
    s.flush()
    if old is not None:
        old.superseded_by = new.id
    return new


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise InvalidInputError(f"stage {stage!r} is not one of {', '.join(STAGES)}", where="stage")


def _check_slot_free(s: Session, pos: StoragePosition, own_din: str | None) -> None:
    other = s.execute(
        select(Unit.din).where(Unit.tank == pos.tank, Unit.rack == pos.rack, Unit.box == pos.box, Unit.slot == pos.slot)
    ).first()
    if other is not None and other[0] != own_din:
        raise ConflictError(f"storage position {pos} is already taken by unit {other[0]}", where="storage")


def _has_tnc(s: Session, unit_id: int, stage: str) -> bool:
    """Whether the unit has a TNC count recorded for ``stage``."""
    found = s.scalar(
        select(Measurement.id).where(
            Measurement.unit_id == unit_id, Measurement.stage == stage, Measurement.tnc.is_not(None)
        )
    )
    return found is not None


class UnitServices:
    """Registering units and recording what happens to them (counts, tests, typing, storage, state)."""

    def __init__(self, ctx: BankContext) -> None:
        self.ctx = ctx

    # ------------------------------------------------------------------ registration
    def register_unit(self, actor: Principal, data: UnitRegistration | dict[str, Any]) -> UnitOut:
        """Register a collection (state ``collected``)."""
        self.ctx.require(actor, P.UNIT_WRITE)
        reg = parse_model(UnitRegistration, data)
        with self.ctx.tx() as s:
            new = new_unit(reg, SessionLookup(s), self.ctx.clock, tables=self.ctx.nomenclature)
            s.add(new.unit)
            s.flush()
            s.add_all(new.children(actor.user_id))
            s.flush()
            out = unit_out(s, new.unit)
            self.ctx.audit(s, actor, "unit.register", "unit", new.unit.din, None, snapshot(out))
            return unit_out(s, new.unit)

    def register_many(self, actor: Principal, items: Sequence[bulk.UnitImport]) -> list[str]:
        """Register many collections in ONE transaction, or none: each unit checked and audited exactly as
        :meth:`register_unit` does, written with bulk inserts, then one ``units.import`` audit row.
        Returns the DINs; ``UnitsRefusedError`` lists every refused item by its index."""
        self.ctx.require(actor, P.UNIT_WRITE)
        with self.ctx.tx() as s:
            return bulk.register_units(self.ctx, s, actor, items)

    # ------------------------------------------------------------------ counts
    def record_measurement(
        self, actor: Principal, din: str, stage: str, values: MeasurementIn | dict[str, Any]
    ) -> UnitOut:
        """Record (or correct, audited) the counts of a stage (collection ... post_thaw)."""
        self.ctx.require(actor, P.UNIT_WRITE)
        _check_stage(stage)
        m = v.check_measurement(parse_model(MeasurementIn, values))

        def mutate(s: Session, unit: Unit) -> None:
            if unit.state in (S.AVAILABLE, S.RESERVED):
                raise ConflictError(
                    f"unit {unit.din} is released ({unit.state}): its counts change only through an audited "
                    "correction with a reason (the release check is run again)",
                    where="state",
                )
            require_state(unit, PRE_RELEASE, f"record {stage} counts of")
            self._write_measurement(s, unit, stage, m, actor)

        return change(self.ctx, actor, din, f"unit.measure.{stage}", mutate)

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
        row.recorded_at, row.recorded_by = self.ctx.clock(), actor.user_id
        s.flush()
        bump(unit)

    def correct_measurement(
        self, actor: Principal, din: str, stage: str, values: MeasurementIn | dict[str, Any], *, reason: str
    ) -> UnitOut:
        """Correct the counts of a released (available or reserved) unit: audited with ``reason``, the
        release check is run again on the corrected values, and the holder of an active reservation is
        alerted (``ReservationOut.alert``). When the check now fails, an available unit goes back to
        quarantine (no longer listed); a reserved unit stays reserved with the alert saying so."""
        self.ctx.require(actor, P.UNIT_WRITE)
        _check_stage(stage)
        reason = v.check_text(reason, "reason", max_len=2000)
        m = v.check_measurement(parse_model(MeasurementIn, values))
        criteria = read_criteria(self.ctx)
        with self.ctx.tx() as s:
            unit = self.ctx.unit(s, din, lock=True)
            require_state(unit, (S.AVAILABLE, S.RESERVED), f"correct the {stage} counts of")
            before = snapshot(unit_out(s, unit))
            self._write_measurement(s, unit, stage, m, actor)
            decision = evaluate(criteria, unit_qc_values(s, unit))
            failing = "; ".join(f"{f.text}: {f.verdict} (value {f.value})" for f in decision.failures)
            verdict = "passes" if decision.passed else f"FAILS ({failing})"
            if not decision.passed and unit.state == S.AVAILABLE and not unit.exceptional_release:
                unit.state = S.QUARANTINE.value  # not listed until a director decides again
            active = active_reservation(s, unit.id)
            if active is not None:
                when = self.ctx.clock().isoformat(timespec="minutes")
                active.alert = (
                    f"{when}: {stage} counts of unit {unit.din} corrected by {actor.actor_name} ({reason}); "
                    f"release check now {verdict}. Review before shipment."
                )
            s.flush()
            after = snapshot(unit_out(s, unit))
            after["release_check"] = {"passed": decision.passed, "items": decision.to_dict()["items"]}
            self.ctx.audit(s, actor, f"unit.correct.{stage}", "unit", unit.din, before, after, reason)
            return unit_out(s, unit)

    def record_processing(
        self, actor: Principal, din: str, values: MeasurementIn | dict[str, Any], *, red_cell_depleted: bool
    ) -> UnitOut:
        """Record the post-processing counts and RBC depletion, and move received -> processed."""
        self.ctx.require(actor, P.UNIT_WRITE)
        m = v.check_measurement(parse_model(MeasurementIn, values))
        if m.tnc is None:
            raise InvalidInputError("the post-processing TNC count is required to record processing", where="tnc")

        def mutate(s: Session, unit: Unit) -> None:
            check_transition(unit.state, S.PROCESSED, din=unit.din)
            s.add(Measurement(unit_id=unit.id, stage="post_processing", recorded_by=actor.user_id,
                              recorded_at=self.ctx.clock(), **m.model_dump()))  # fmt: skip
            unit.red_cell_depleted = red_cell_depleted
            unit.state = S.PROCESSED.value

        return change(self.ctx, actor, din, "unit.process", mutate)

    # ------------------------------------------------------------------ tests, typing, NIMA, storage
    def record_tests(self, actor: Principal, din: str, results: TestResultsIn | dict[str, Any]) -> UnitOut:
        """Record test results (ABO/Rh, IDM, sterility, haemoglobinopathy screen, segments) before release."""
        self.ctx.require(actor, P.UNIT_WRITE)
        t = v.check_tests(parse_model(TestResultsIn, results))

        def mutate(s: Session, unit: Unit) -> None:
            require_state(unit, PRE_RELEASE, "record test results of")
            apply_tests(unit, t)
            bump(unit)

        return change(self.ctx, actor, din, "unit.tests", mutate)

    def record_typing(
        self, actor: Principal, din: str, gl: str, *, kind: str = "initial", lab: str | None = None
    ) -> UnitOut:
        """Add an HLA typing (GL string); it supersedes the current one, which is kept in the history."""
        self.ctx.require(actor, P.UNIT_WRITE)
        if kind not in TYPING_KINDS:
            raise InvalidInputError(f"typing kind {kind!r} is not initial, confirmatory or extended", where="kind")
        text = v.check_typing(gl, tables=self.ctx.nomenclature)

        def mutate(s: Session, unit: Unit) -> None:
            require_state(unit, OPEN_STATES, "record a typing of")
            add_typing(self.ctx, s, actor, unit, text, kind, lab)
            bump(unit)

        return change(self.ctx, actor, din, f"unit.typing.{kind}", mutate)

    def set_nima(self, actor: Principal, din: str, gl: str | None) -> UnitOut:
        """Record (or clear, with None) the non-inherited maternal antigens as a GL string."""
        self.ctx.require(actor, P.UNIT_WRITE)
        text = v.check_nima(gl, tables=self.ctx.nomenclature) if gl else None

        def mutate(s: Session, unit: Unit) -> None:
            require_state(unit, OPEN_STATES, "record the NIMA of")
            unit.nima_gl = text

        return change(self.ctx, actor, din, "unit.nima", mutate)

    def set_storage(self, actor: Principal, din: str, position: StoragePosition | dict[str, Any]) -> UnitOut:
        """Put the unit at a storage position (tank/rack/box/slot); refused when the slot is taken."""
        self.ctx.require(actor, P.UNIT_WRITE)
        pos = parse_model(StoragePosition, position, where="storage.")
        for part in ("tank", "rack", "box", "slot"):
            v.check_text(getattr(pos, part), f"storage.{part}", max_len=20)

        def mutate(s: Session, unit: Unit) -> None:
            require_state(unit, OPEN_STATES, "store")
            _check_slot_free(s, pos, unit.din)
            apply_storage(unit, pos)

        return change(self.ctx, actor, din, "unit.storage", mutate)

    # ------------------------------------------------------------------ state
    def transition(self, actor: Principal, din: str, target: UnitState | str, *, reason: str | None = None) -> UnitOut:
        """Move a unit along the plain steps (received, processed, cryopreserved, quarantine).

        Release, reservation, shipment, infusion, discard and research have their own calls.
        """
        self.ctx.require(actor, P.UNIT_WRITE)
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
            if (cur, tgt) == (S.RECEIVED, S.PROCESSED) and not _has_tnc(s, unit.id, "post_processing"):
                raise ConflictError(
                    f"unit {unit.din}: record the post-processing counts (at least the TNC) to move it to processed",
                    where="tnc",
                )
            unit.state = tgt.value

        return change(self.ctx, actor, din, f"unit.state.{tgt.value}", mutate, reason=reason)

    def discard(self, actor: Principal, din: str, reason: str, *, research: bool = False) -> UnitOut:
        """Discard a unit (or release it for research); the reason is required and audited."""
        self.ctx.require(actor, P.UNIT_DISCARD)
        reason = v.check_text(reason, "reason", max_len=2000)
        tgt = S.RESEARCH if research else S.DISCARDED

        def mutate(s: Session, unit: Unit) -> None:
            check_transition(unit.state, tgt, din=unit.din)
            active = active_reservation(s, unit.id)
            if active is not None:
                active.status, active.ended_at = "cancelled", self.ctx.clock()
                active.note = f"unit {tgt.value}: {reason}"
            unit.state = tgt.value
            unit.tank = unit.rack = unit.box = unit.slot = None  # leaves the tank: the slot is free again

        return change(self.ctx, actor, din, f"unit.state.{tgt.value}", mutate, reason=reason)
