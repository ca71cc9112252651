"""What the selection search index reads from the bank: available units with their current typing.

``iter_available_units(store)`` streams listed (``available``) units in DIN-id order, in batches, with
the current HLA typing GL string and the attributes selection ranks on. Counts are cells (pre-cryo).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from cordmatch.bank.lifecycle import UnitState
from cordmatch.selection.model import UnitRecord
from cordmatch.services.search_rows import UNACCREDITED, light_row, search_record
from cordmatch.store.engine import Store
from cordmatch.store.models import Bank, HlaTyping, Measurement, Unit


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


# --------------------------------------------------------------------------- bulk reads for the search index
def search_select(columns: Callable[[Any, Any], Sequence[Any]]) -> Any:
    """A select of one row per unit joined to its bank, current typing, pre-cryopreservation and
    post-processing counts; ``columns(pre, post)``: what to read (``pre``/``post``: the two measurements)."""
    pre = aliased(Measurement)
    post = aliased(Measurement)
    return (
        select(*columns(pre, post))
        .join(Bank, Bank.id == Unit.bank_id)
        .outerjoin(HlaTyping, and_(HlaTyping.unit_id == Unit.id, HlaTyping.superseded_by.is_(None)))
        .outerjoin(pre, and_(pre.unit_id == Unit.id, pre.stage == "pre_cryo"))
        .outerjoin(post, and_(post.unit_id == Unit.id, post.stage == "post_processing"))
    )


def _unit_select(collected: Any = Unit.collected_at) -> Any:
    """Columns search needs per unit (the layout of :mod:`cordmatch.services.search_rows`); ``collected``: the
    collection time column."""
    return search_select(
        lambda pre, post: (
            Unit.id, Unit.din, Unit.state, HlaTyping.gl, pre.id, pre.tnc, pre.cd34, pre.volume_ml, post.tnc,
            post.cd34, post.volume_ml, Unit.abo, Unit.rh, Bank.name, Bank.accreditation, collected,
            Unit.red_cell_depleted, Unit.segments, Unit.nima_gl,
        )
    )  # fmt: skip


def iter_search_records(
    session: Session,
    *,
    unit_ids: Sequence[int] | None = None,
    dins: Sequence[str] | None = None,
    batch: int = 20_000,
    light: bool = False,
) -> Iterator[list[tuple[int, UnitRecord]]]:
    """Searchable units (listed, typed, with a TNC) as (unit id, record), in unit-id order, ``batch`` at a
    time: all of them, or those of ``unit_ids`` / ``dins`` (up to 500 per query). ``light``: :class:`SearchRow`
    objects (typed as records: they carry the same fields) for coding a whole store."""
    convert = light_row if light else search_record
    if unit_ids is None and dins is None:
        q = _unit_select().where(Unit.state == UnitState.AVAILABLE.value).order_by(Unit.id)
        result = session.connection().execution_options(yield_per=batch).execute(q)  # Core rows, streamed
        for part in result.partitions():
            yield [r for r in map(convert, part) if r is not None]
        return
    keys: Sequence[Any] = list(unit_ids) if unit_ids is not None else list(dins or ())
    column = Unit.id if unit_ids is not None else Unit.din
    for start in range(0, len(keys), 500):
        q = _unit_select().where(column.in_(keys[start : start + 500])).order_by(Unit.id)
        yield [r for r in map(convert, session.connection().execute(q)) if r is not None]
