"""QC release of a unit: the configured criteria, the checklist now, and the signed release
(quarantine -> available), plain or exceptional. A failed release leaves the unit in quarantine."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cordmatch.bank.lifecycle import UnitState, check_transition
from cordmatch.bank.qc import (
    DEFAULT_CRITERIA,
    Criterion,
    ReleaseDecision,
    criteria_from_json,
    criteria_to_json,
    evaluate,
    qc_values,
)
from cordmatch.bank.roles import Permission
from cordmatch.errors import ConflictError, InvalidInputError
from cordmatch.services.auth import Principal
from cordmatch.services.bank_context import QC_SETTING, BankContext, require_state
from cordmatch.services.bank_views import current_typing, snapshot, unit_out
from cordmatch.services.schemas import CriterionOut, ReleaseOut
from cordmatch.store.models import Measurement, ReleaseRecord, Setting, Unit

P = Permission
S = UnitState


def read_criteria(ctx: BankContext) -> tuple[Criterion, ...]:
    """The configured QC release criteria (defaults until a bank sets its own)."""
    with ctx.read() as s:
        row = s.get(Setting, QC_SETTING)
        return criteria_from_json(row.value) if row else DEFAULT_CRITERIA


def unit_qc_values(s: Session, unit: Unit) -> dict[str, Any]:
    """What the release criteria are checked on: the unit, its counts per stage, its current typing."""
    stages = {m.stage: m for m in s.execute(select(Measurement).where(Measurement.unit_id == unit.id)).scalars()}
    typing = current_typing(s, unit.id)
    return qc_values(unit, stages, typing.gl if typing else None)


def _refusal(din: str, decision: ReleaseDecision) -> ConflictError:
    listed = "; ".join(
        f"{f.text}: {f.verdict}" + ("" if f.value is None else f" (value {f.value})") for f in decision.failures
    )
    return ConflictError(
        f"unit {din} does not meet the release criteria: {listed}. "
        "Give an exceptional-release reason to release it anyway.",
        where="qc",
    )


class ReleaseServices:
    """QC criteria and the director's release of quarantined units."""

    def __init__(self, ctx: BankContext) -> None:
        self.ctx = ctx

    def qc_criteria(self) -> tuple[Criterion, ...]:
        """The configured QC release criteria (defaults until a bank sets its own)."""
        return read_criteria(self.ctx)

    def set_qc_criteria(self, actor: Principal, criteria: tuple[Criterion, ...] | str) -> tuple[Criterion, ...]:
        """Replace the QC release criteria (a tuple, or their JSON)."""
        self.ctx.require(actor, P.CONFIG)
        parsed = criteria_from_json(criteria) if isinstance(criteria, str) else tuple(criteria)
        if not parsed:
            raise InvalidInputError("at least one QC criterion is needed", where="criteria")
        text = criteria_to_json(parsed)
        with self.ctx.tx() as s:
            row = s.get(Setting, QC_SETTING)
            before = json.loads(row.value) if row else None
            if row is None:
                s.add(Setting(key=QC_SETTING, value=text))
            else:
                row.value = text
            s.flush()
            self.ctx.audit(s, actor, "qc_criteria.set", "settings", QC_SETTING, before, json.loads(text))
        return parsed

    def release_check(self, actor: Principal, din: str) -> ReleaseDecision:
        """The release checklist now: every criterion with value and verdict (nothing is written)."""
        self.ctx.require(actor, P.UNIT_READ)
        criteria = read_criteria(self.ctx)
        with self.ctx.read() as s:
            return evaluate(criteria, unit_qc_values(s, self.ctx.unit(s, din)))

    def release(self, actor: Principal, din: str, *, exceptional_reason: str | None = None) -> ReleaseOut:
        """QC release quarantine -> available, signed by ``actor`` (bank director).

        When a criterion fails or is missing the release is refused (ConflictError listing them) unless
        ``exceptional_reason`` is given: an exceptional release, flagged on the unit and its reservations.
        """
        self.ctx.require(actor, P.UNIT_RELEASE)
        reason = (exceptional_reason or "").strip() or None
        criteria = read_criteria(self.ctx)
        with self.ctx.tx() as s:
            unit = self.ctx.unit(s, din, lock=True)
            check_transition(unit.state, S.AVAILABLE, din=unit.din)
            require_state(unit, (S.QUARANTINE,), "release")
            before = snapshot(unit_out(s, unit))
            decision = evaluate(criteria, unit_qc_values(s, unit))
            if not decision.passed and reason is None:
                raise _refusal(unit.din, decision)
            return self._sign(s, actor, unit, decision, reason, before)

    def _sign(
        self,
        s: Session,
        actor: Principal,
        unit: Unit,
        decision: ReleaseDecision,
        reason: str | None,
        before: dict[str, Any],
    ) -> ReleaseOut:
        """Write the release record, make the unit available and audit it (in the caller's transaction)."""
        exceptional = not decision.passed
        now = self.ctx.clock()
        items = decision.to_dict()["items"]
        s.add(
            ReleaseRecord(
                unit_id=unit.id,
                decided_by=actor.user_id,
                decided_at=now,
                passed=decision.passed,
                released=True,
                exceptional=exceptional,
                reason=reason,
                items=json.dumps(items, sort_keys=True, default=str),
            )
        )
        unit.state = S.AVAILABLE.value
        unit.released_at, unit.released_by = now, actor.user_id
        unit.exceptional_release = exceptional
        unit.exceptional_reason = reason if exceptional else None
        s.flush()
        after = snapshot(unit_out(s, unit))
        after["release_decision"] = {"passed": decision.passed, "exceptional": exceptional, "items": items}
        action = "unit.release.exceptional" if exceptional else "unit.release"
        self.ctx.audit(s, actor, action, "unit", unit.din, before, after, reason)
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
