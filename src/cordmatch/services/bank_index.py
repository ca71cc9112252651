"""What the selection search index reads from the bank: available units with their current typing.

``iter_available_units(store)`` streams listed (``available``) units in DIN-id order, in batches, with
the current HLA typing GL string and the attributes selection ranks on. Counts are cells (pre-cryo).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from cordmatch.bank.lifecycle import UnitState
from cordmatch.store.engine import Store
from cordmatch.store.models import Bank, HlaTyping, Measurement, Unit

UNACCREDITED = frozenset({"", "none", "no"})


@dataclass(frozen=True, slots=True)
class AvailableUnit:
    din: str
    typing_gl: str | None  # current typing (a confirmatory one supersedes the initial)
    tnc: float | None  # pre-cryopreservation TNC, cells (post-processing count when no pre-cryo)
    cd34: float | None  # pre-cryopreservation CD34+, cells
    cryo_volume_ml: float | None
    abo: str | None
    rh: str | None  # pos / neg
    bank_code: str
    bank_name: str
    accreditation: str  # e.g. "FACT-NetCord", "AABB", "none"
    accredited: bool
    collected_at: datetime
    red_cell_depleted: bool | None
    attached_segments: int
    nima_gl: str | None
    exceptional_release: bool


def iter_available_units(store: Store, *, batch: int = 1000) -> Iterator[AvailableUnit]:
    """Every available unit, streamed ``batch`` at a time (keyset pagination on the unit id)."""
    pre = aliased(Measurement)
    post = aliased(Measurement)
    last_id = 0
    while True:
        q = (
            select(Unit, Bank, HlaTyping.gl, pre, post)
            .join(Bank, Bank.id == Unit.bank_id)
            .outerjoin(HlaTyping, and_(HlaTyping.unit_id == Unit.id, HlaTyping.superseded_by.is_(None)))
            .outerjoin(pre, and_(pre.unit_id == Unit.id, pre.stage == "pre_cryo"))
            .outerjoin(post, and_(post.unit_id == Unit.id, post.stage == "post_processing"))
            .where(Unit.state == UnitState.AVAILABLE.value, Unit.id > last_id)
            .order_by(Unit.id)
            .limit(batch)
        )
        with store.read() as s:
            rows = s.execute(q).unique().all()
        if not rows:
            return
        for unit, bank, gl, m_pre, m_post in rows:
            m = m_pre if m_pre is not None else m_post
            yield AvailableUnit(
                din=unit.din,
                typing_gl=gl,
                tnc=m.tnc if m else None,
                cd34=m.cd34 if m else None,
                cryo_volume_ml=m.volume_ml if m else None,
                abo=unit.abo,
                rh=unit.rh,
                bank_code=bank.code,
                bank_name=bank.name,
                accreditation=bank.accreditation,
                accredited=bank.accreditation.strip().lower() not in UNACCREDITED,
                collected_at=unit.collected_at,
                red_cell_depleted=unit.red_cell_depleted,
                attached_segments=unit.segments,
                nima_gl=unit.nima_gl,
                exceptional_release=unit.exceptional_release,
            )
        last_id = rows[-1][0].id
