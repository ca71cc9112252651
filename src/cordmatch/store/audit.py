"""The hash-chained, append-only audit trail.

Each row's hash is SHA-256 over the previous row's hash + the canonical JSON of the row (time, actor,
action, entity, before, after, reason). Rows are only ever inserted (triggers refuse UPDATE/DELETE);
``prev_hash`` is unique so the chain cannot fork. On PostgreSQL appends are serialised by a
transaction-scoped advisory lock; on SQLite by ``BEGIN IMMEDIATE``. Removing rows from the tail is
not detectable from the chain alone, nor is a rewrite of the whole chain by the database owner: export
an *anchor* (``anchor()``: row id, hash, time, optionally signed with HMAC-SHA256 under a key kept
outside the database) and keep it elsewhere; ``verify(anchor=...)`` then detects truncation below the
anchored row and any rewrite of the rows up to it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from cordmatch.store.models import AuditRow
from cordmatch.store.types import utcnow

GENESIS = "0" * 64
_LOCK_KEY = 0x636D_6175  # pg_advisory_xact_lock key of the audit chain


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8, datetimes as ISO strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)


def row_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


def _fields(row: AuditRow) -> dict[str, Any]:
    return {
        "ts": row.ts,
        "actor": row.actor,
        "action": row.action,
        "entity": row.entity,
        "entity_id": row.entity_id,
        "before": row.before,
        "after": row.after,
        "reason": row.reason,
    }


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit row to append (the fields ``append`` takes)."""

    actor: str
    action: str
    entity: str
    entity_id: str | int
    before: Any = None
    after: Any = None
    reason: str | None = None


def _head(session: Session) -> str:
    """The chain's last hash, with the chain lock taken (PostgreSQL; SQLite holds its write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = session.execute(select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)).scalar()
    return last or GENESIS


def _chained(prev: str, e: Entry) -> AuditRow:
    """The row of ``e`` linked after ``prev`` (time now, hash set)."""
    row = AuditRow(
        ts=utcnow().isoformat(timespec="microseconds"),
        actor=e.actor,
        action=e.action,
        entity=e.entity,
        entity_id=str(e.entity_id),
        before=canonical(e.before),
        after=canonical(e.after),
        reason=e.reason,
        prev_hash=prev,
    )
    row.hash = row_hash(prev, _fields(row))
    return row


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
) -> AuditRow:
    """Append one row in the caller's transaction (call it last: it holds the chain lock until commit)."""
    row = _chained(_head(session), Entry(actor, action, entity, entity_id, before, after, reason))
    session.add(row)
    session.flush()
    return row


_COLUMNS = ("ts", "actor", "action", "entity", "entity_id", "before", "after", "reason", "prev_hash", "hash")


def append_many(session: Session, entries: Iterable[Entry]) -> int:
    """Append ``entries`` in order, chained exactly as one ``append`` each, with one executemany insert in
    the caller's transaction (call it last: it holds the chain lock until commit); returns how many."""
    session.flush()
    prev = _head(session)
    rows: list[dict[str, Any]] = []
    for e in entries:
        row = _chained(prev, e)
        rows.append({c: getattr(row, c) for c in _COLUMNS})
        prev = row.hash
    if rows:
        session.execute(insert(AuditRow), rows)
    return len(rows)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of ``verify``: rows checked, the head hash, and the first broken link (None = intact)."""

    rows: int
    head: str
    broken_at: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def iter_rows(session: Session, batch: int = 1000) -> Iterator[AuditRow]:
    last_id = 0
    while True:
        rows = (
            session.execute(select(AuditRow).where(AuditRow.id > last_id).order_by(AuditRow.id).limit(batch))
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


@dataclass(frozen=True, slots=True)
class Anchor:
    """The chain's head at one moment: keep it outside the database (``mac`` signs it when keyed)."""

    row_id: int
    rows: int
    hash: str
    time: str
    mac: str | None = None

    def payload(self) -> str:
        return canonical({"row_id": self.row_id, "rows": self.rows, "hash": self.hash, "time": self.time})

    def to_dict(self) -> dict[str, Any]:
        return {"row_id": self.row_id, "rows": self.rows, "hash": self.hash, "time": self.time, "mac": self.mac}

    @classmethod
    def from_dict(cls, data: Any) -> Anchor:
        """An anchor from its JSON form; ValueError naming what is missing or malformed."""
        if not isinstance(data, dict):
            raise ValueError("an anchor is a JSON object with row_id, rows, hash and time")
        try:
            row_id, rows, digest, time = int(data["row_id"]), int(data["rows"]), str(data["hash"]), str(data["time"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"anchor field missing or malformed: {exc}") from None
        mac = data.get("mac")
        if len(digest) != 64 or (mac is not None and not isinstance(mac, str)):
            raise ValueError("anchor hash must be 64 hex characters and mac a string")
        return cls(row_id, rows, digest, time, mac)


def sign(payload: str, key: bytes) -> str:
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def anchor(session: Session, key: bytes | None = None) -> Anchor:
    """The head of the verified chain now (signed with ``key`` when given); ValueError if the chain is broken."""
    report = verify(session)
    if not report.ok:
        raise ValueError(f"the audit chain is broken, no anchor made: {report.problem}")
    last = session.execute(select(AuditRow.id).order_by(AuditRow.id.desc()).limit(1)).scalar() or 0
    a = Anchor(int(last), report.rows, report.head, utcnow().isoformat(timespec="seconds"))
    return Anchor(a.row_id, a.rows, a.hash, a.time, sign(a.payload(), key)) if key else a


def _check_anchor(session: Session, a: Anchor, key: bytes | None, report: ChainReport) -> ChainReport:
    if key is not None and (a.mac is None or not hmac.compare_digest(a.mac, sign(a.payload(), key))):
        return ChainReport(report.rows, report.head, a.row_id, "the anchor's signature does not match the key")
    if a.row_id == 0:
        return report
    row = session.get(AuditRow, a.row_id)
    if row is None or report.rows < a.rows:
        return ChainReport(report.rows, report.head, a.row_id,
                           f"audit row {a.row_id} of the anchor is gone: the trail was truncated")  # fmt: skip
    if row.hash != a.hash:
        return ChainReport(report.rows, report.head, a.row_id,
                           f"audit row {a.row_id} differs from the anchor: the trail was rewritten")  # fmt: skip
    return report


def verify(session: Session, *, anchor: Anchor | None = None, key: bytes | None = None) -> ChainReport:
    """Walk the chain in id order; report the first row whose link or content does not check out, and,
    with an ``anchor``, whether the anchored row is still there with the anchored hash (``key`` checks
    the anchor's signature)."""
    report = _walk(session)
    if anchor is None or not report.ok:
        return report
    return _check_anchor(session, anchor, key, report)


def _walk(session: Session) -> ChainReport:
    prev = GENESIS
    n = 0
    for row in iter_rows(session):
        n += 1
        if row.prev_hash != prev:
            return ChainReport(
                n - 1,
                prev,
                row.id,
                f"audit row {row.id}: previous-hash link broken (a row before it was removed, inserted or changed)",
            )
        if row_hash(prev, _fields(row)) != row.hash:
            return ChainReport(n - 1, prev, row.id, f"audit row {row.id}: content does not match its hash")
        prev = row.hash
    return ChainReport(n, prev)


def history(session: Session, entity: str, entity_id: str | int) -> list[dict[str, Any]]:
    """The audit rows of one entity (oldest first), before/after decoded: a unit's timeline."""
    rows = session.execute(
        select(AuditRow).where(AuditRow.entity == entity, AuditRow.entity_id == str(entity_id)).order_by(AuditRow.id)
    ).scalars()
    return [
        {
            "id": r.id,
            "ts": r.ts,
            "actor": r.actor,
            "action": r.action,
            "before": json.loads(r.before),
            "after": json.loads(r.after),
            "reason": r.reason,
        }
        for r in rows
    ]
