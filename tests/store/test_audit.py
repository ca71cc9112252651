from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from cordmatch.store import audit


def _fill(store, n: int = 5) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        with store.transaction() as s:
            audit.append(s, actor="tech", action="unit.test", entity="unit", entity_id=f"U{i}",
                         before={"n": i}, after={"n": i + 1, "text": "Grüße"}, reason=None)  # fmt: skip


def test_chain_verifies(store) -> None:  # type: ignore[no-untyped-def]
    _fill(store)
    with store.transaction() as s:
        report = audit.verify(s)
        assert report.ok and report.rows == 5 and len(report.head) == 64
        hist = audit.history(s, "unit", "U3")
        assert hist[0]["after"] == {"n": 4, "text": "Grüße"}


def test_empty_chain(store) -> None:  # type: ignore[no-untyped-def]
    with store.transaction() as s:
        assert audit.verify(s) == audit.ChainReport(0, audit.GENESIS)


@pytest.mark.parametrize("sql", ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"])
def test_database_refuses_update_and_delete(store, sql: str) -> None:  # type: ignore[no-untyped-def]
    _fill(store, 2)
    with pytest.raises(DBAPIError, match="append-only"), store.transaction() as s:
        s.execute(text(sql))
    with store.transaction() as s:
        assert audit.verify(s).rows == 2


def _bypass_triggers(store, sql: str) -> None:  # type: ignore[no-untyped-def]
    """Tamper as someone with direct database access would (dropping/disabling the guard first)."""
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER USER")
        conn.exec_driver_sql(sql)


def test_tampered_content_is_found(store) -> None:  # type: ignore[no-untyped-def]
    _fill(store)
    _bypass_triggers(store, "UPDATE audit_log SET after = '{\"n\":99}' WHERE id = 3")
    with store.transaction() as s:
        report = audit.verify(s)
    assert not report.ok and report.broken_at == 3 and report.rows == 2
    assert "content does not match" in (report.problem or "")


def test_deleted_row_is_found(store) -> None:  # type: ignore[no-untyped-def]
    _fill(store)
    _bypass_triggers(store, "DELETE FROM audit_log WHERE id = 2")
    with store.transaction() as s:
        report = audit.verify(s)
    assert report.broken_at == 3 and "link broken" in (report.problem or "")


def test_chain_cannot_fork(store) -> None:  # type: ignore[no-untyped-def]
    """prev_hash is unique: two rows claiming the same predecessor are refused."""
    from sqlalchemy.exc import IntegrityError

    from cordmatch.store.models import AuditRow

    _fill(store, 1)
    with pytest.raises(IntegrityError), store.transaction() as s:
        s.add(AuditRow(ts="x", actor="a", action="a", entity="e", entity_id="1", before="null", after="null",
                       reason=None, prev_hash=audit.GENESIS, hash="f" * 64))  # fmt: skip
