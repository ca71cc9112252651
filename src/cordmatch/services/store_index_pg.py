"""PostgreSQL: every searchable unit of a store in one ``COPY ... TO STDOUT``, parsed by Arrow as it streams.

The first open of a large bank's search index reads every listed unit. Rows through a cursor cost a Python
object per value and per unit; here the server writes CSV, Arrow's reader turns it into columns, and the
units are coded column-wise (:mod:`cordmatch.services.coded_columns`). Same rows, same codes as the
cursor read (tests), in the session's transaction and snapshot. Collection dates are the UTC dates (what
the store's UTC type returns), whatever the session's time zone.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv
from sqlalchemy import cast, func, literal
from sqlalchemy.orm import Session
from sqlalchemy.types import Date

from cordmatch.bank.lifecycle import UnitState
from cordmatch.selection.columns import UnitColumnsRaw
from cordmatch.services.bank_index import search_select
from cordmatch.services.search_rows import UNACCREDITED
from cordmatch.store.models import Bank, HlaTyping, Unit

#: (column, Arrow type) of the COPY, in order
COLUMNS = (
    ("id", pa.int64()),
    ("din", pa.string()),
    ("gl", pa.string()),
    ("pre_id", pa.int64()),
    ("pre_tnc", pa.float64()),
    ("pre_cd34", pa.float64()),
    ("post_tnc", pa.float64()),
    ("post_cd34", pa.float64()),
    ("abo", pa.string()),
    ("rh", pa.string()),
    ("accreditation", pa.string()),
    ("collected_day", pa.int64()),
    ("rbc", pa.bool_()),
    ("segments", pa.int64()),
    ("nima", pa.string()),
)
_RH = {"pos": "+", "neg": "-"}
#: Arrow's block: about 40,000 units per batch
BLOCK_BYTES = 8 << 20


def copy_sql(session: Session) -> str:
    """The COPY of the listed units' search columns, in unit-id order (SQL of the session's dialect)."""
    utc_day = cast(func.timezone("UTC", Unit.collected_at), Date) - cast(literal("1970-01-01"), Date)

    def columns(pre: Any, post: Any) -> tuple[Any, ...]:
        return (Unit.id, Unit.din, HlaTyping.gl, pre.id, pre.tnc, pre.cd34, post.tnc, post.cd34, Unit.abo,
                Unit.rh, Bank.accreditation, utc_day, Unit.red_cell_depleted, Unit.segments, Unit.nima_gl)  # fmt: skip

    q = search_select(columns).where(Unit.state == UnitState.AVAILABLE.value).order_by(Unit.id)
    sql = str(q.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}))
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"


class _CopyStream(io.RawIOBase):
    """The bytes of a running COPY as a readable file (for Arrow's streaming reader)."""

    def __init__(self, chunks: Iterator[Any]) -> None:
        self._chunks = chunks
        self._view = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._view:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._view = memoryview(bytes(chunk))
        n = min(len(buffer), len(self._view))
        buffer[:n] = self._view[:n]
        self._view = self._view[n:]
        return n


def _strings(col: pa.ChunkedArray | pa.Array) -> list[Any]:
    return col.to_pylist()  # type: ignore[no-any-return]


def _per_distinct(values: list[Any], fn: Any) -> list[Any]:
    seen: dict[Any, Any] = {}
    return [seen[v] if v in seen else seen.setdefault(v, fn(v)) for v in values]


def _raw_of(batch: pa.RecordBatch) -> UnitColumnsRaw | None:
    """The searchable units of one batch (typed, with a TNC), as the cursor read selects them."""
    col = {name: batch.column(i) for i, (name, _) in enumerate(COLUMNS)}
    pre = pc.is_valid(col["pre_id"])
    tnc = pc.if_else(pre, col["pre_tnc"], col["post_tnc"])
    cd34 = pc.if_else(pre, col["pre_cd34"], col["post_cd34"])
    keep = pc.and_(pc.and_(pc.is_valid(col["gl"]), pc.not_equal(col["gl"], "")),
                   pc.and_(pc.is_valid(tnc), pc.not_equal(tnc, 0.0)))  # fmt: skip
    keep = pc.fill_null(keep, False)
    if not pc.any(keep).as_py():
        return None
    col = {k: pc.filter(v, keep) for k, v in col.items()}
    tnc, cd34 = pc.filter(tnc, keep), pc.filter(cd34, keep)
    day = col["collected_day"]
    return UnitColumnsRaw(
        db_id=col["id"].to_numpy(),
        din=_strings(col["din"]),
        gl=_strings(col["gl"]),
        tnc=tnc.to_numpy(zero_copy_only=False),
        cd34=pc.fill_null(cd34, np.nan).to_numpy(zero_copy_only=False),
        accredited=np.array(
            _per_distinct(_strings(col["accreditation"]), lambda a: (a or "").strip().lower() not in UNACCREDITED),
            dtype=np.bool_,
        ),
        rbc_depleted=pc.fill_null(col["rbc"], True).to_numpy(zero_copy_only=False),
        attached_segment=pc.greater(pc.fill_null(col["segments"], 0), 0).to_numpy(zero_copy_only=False),
        abo=_strings(col["abo"]),
        rh=_per_distinct(_strings(col["rh"]), lambda r: _RH.get(r or "")),
        nima=_strings(col["nima"]),
        collected_days=pc.fill_null(day, 0).to_numpy(zero_copy_only=False),
        collected_known=pc.is_valid(day).to_numpy(zero_copy_only=False),
    )


def iter_unit_columns(session: Session, *, block_bytes: int = BLOCK_BYTES) -> Iterator[UnitColumnsRaw]:
    """The listed, searchable units of the store, a batch of raw columns at a time (Arrow blocks of
    ``block_bytes``), in unit-id order."""
    driver: Any = session.connection().connection.dbapi_connection  # psycopg
    with driver.cursor() as cursor, cursor.copy(copy_sql(session)) as copy:
        chunks = iter(copy)
        first = next(chunks, None)
        if first is None:  # no listed unit (Arrow refuses an empty file)
            return
        reader = csv.open_csv(
            io.BufferedReader(_CopyStream(itertools.chain([first], chunks)), buffer_size=1 << 20),
            read_options=csv.ReadOptions(
                column_names=[n for n, _ in COLUMNS], block_size=block_bytes, use_threads=True
            ),
            # a quoted field may hold a line break (free text such as an accreditation)
            parse_options=csv.ParseOptions(newlines_in_values=True),
            convert_options=csv.ConvertOptions(
                column_types=dict(COLUMNS),
                true_values=["t"],
                false_values=["f"],
                strings_can_be_null=True,  # an unquoted empty field is NULL in PostgreSQL's CSV
                quoted_strings_can_be_null=False,  # "" is the empty string
            ),
        )
        for batch in reader:
            raw = _raw_of(batch)
            if raw is not None:
                yield raw
