"""Audit integrity beyond the database owner: a signed anchor kept outside the database detects
truncation of the tail and a rewrite of the whole chain; on PostgreSQL the application role of a
separate-owner deployment cannot alter the audit table at all."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from cordmatch.store import audit
from store.test_audit import _bypass_triggers, _fill

KEY = b"a key kept outside the database"


def _rewrite_chain(store: Any) -> None:
    """What a database owner could do: change row 2 and re-hash every row (the chain alone verifies)."""
    from sqlalchemy import select, text

    from cordmatch.store.models import AuditRow

    with store.read() as s:
        rows = [(r.id, audit._fields(r)) for r in s.execute(select(AuditRow).order_by(AuditRow.id)).scalars()]
    _bypass_triggers(store, "SELECT 1")  # the guard goes first
    with store.engine.begin() as conn:
        for rid, _ in rows:  # temporary values keep the unique constraints quiet mid-way
            conn.execute(text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :i"),
                         {"p": f"p{rid}", "h": f"h{rid}", "i": rid})  # fmt: skip
        prev = audit.GENESIS
        for rid, fields in rows:
            if rid == rows[1][0]:
                fields["actor"] = "mallory"
            h = audit.row_hash(prev, fields)
            conn.execute(text("UPDATE audit_log SET actor = :a, prev_hash = :p, hash = :h WHERE id = :i"),
                         {"a": fields["actor"], "p": prev, "h": h, "i": rid})  # fmt: skip
            prev = h


def test_anchor_detects_truncation_and_rewrite(store: Any) -> None:
    _fill(store, 5)
    with store.read() as s:
        a = audit.anchor(s, KEY)
        assert a.rows == 5 and a.mac and audit.verify(s, anchor=a, key=KEY).ok
        forged = audit.Anchor(a.row_id, a.rows, a.hash, a.time, "0" * 64)
        assert not audit.verify(s, anchor=forged, key=KEY).ok  # the database owner cannot forge an anchor
    _fill(store, 2)  # the trail grows after the anchor: still fine
    with store.read() as s:
        assert audit.verify(s, anchor=a, key=KEY).ok
    _rewrite_chain(store)
    with store.read() as s:
        assert audit.verify(s).ok  # a full re-hash fools the chain alone ...
        report = audit.verify(s, anchor=a, key=KEY)
    assert not report.ok and "rewritten" in (report.problem or "")  # ... not the anchor


def test_anchor_detects_truncated_tail(store: Any) -> None:
    _fill(store, 5)
    with store.read() as s:
        a = audit.anchor(s, KEY)
    _bypass_triggers(store, "DELETE FROM audit_log WHERE id >= 4")
    with store.read() as s:
        assert audit.verify(s).ok  # cutting the tail is invisible to the chain alone
        report = audit.verify(s, anchor=a, key=KEY)
    assert not report.ok and "truncated" in (report.problem or "")


def test_cli_anchor_and_verify(run_cli: Any, tmp_path: Path, monkeypatch: Any) -> None:
    from cordmatch.store import open_store

    db = tmp_path / "bank.sqlite3"
    with open_store(str(db)) as store:
        _fill(store, 3)
    key = tmp_path / "audit.key"
    key.write_bytes(KEY)
    anchor = tmp_path / "anchor.json"
    code, out, err = run_cli(["audit", "anchor", "--db", str(db), "--out", str(anchor), "--key-file", str(key)])
    assert code == 0, err
    assert json.loads(anchor.read_text())["rows"] == 3 and "signed" in out
    code, out, err = run_cli(["audit", "verify", "--db", str(db), "--anchor", str(anchor), "--key-file", str(key)])
    assert code == 0 and "anchor row 3 present" in " ".join(out.split()), (out, err)
    with open_store(str(db)) as store:
        _bypass_triggers(store, "DELETE FROM audit_log WHERE id = 3")
    code, out, err = run_cli(["audit", "verify", "--db", str(db), "--anchor", str(anchor), "--key-file", str(key)])
    assert code == 2 and "truncated" in " ".join(err.split())
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    code, out, err = run_cli(["audit", "verify", "--db", str(db), "--anchor", str(bad)])
    assert code == 2 and "--anchor" in err and "Traceback" not in err


@pytest.mark.postgres
def test_postgres_application_role_cannot_alter_the_audit_table(pg_schema_url: str) -> None:
    """Deployment of docs/bank.md: an owner role runs the migrations, the application role may only
    SELECT/INSERT the audit table (no UPDATE, DELETE, TRUNCATE, ALTER, DROP TRIGGER)."""
    import psycopg

    from cordmatch.store import open_store
    from cordmatch.store.deploy import grant_application_role

    base = pg_schema_url.split("?")[0].replace("postgresql+psycopg://", "postgresql://")
    schema = pg_schema_url.split("search_path%3D")[1]
    app_role = f"cm_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{app_role}" LOGIN')
    try:
        with open_store(pg_schema_url) as owner:  # migrations as the owner (here: postgres)
            _fill(owner, 2)
            grant_application_role(owner, app_role)
        from cordmatch.cli.main import main

        with pytest.raises(SystemExit) as exit_:  # the CLI form of the same grant (idempotent)
            main(["bank", "grant-app-role", app_role, "--db", pg_schema_url])
        assert not exit_.value.code
        app_url = pg_schema_url.replace("postgres@", f"{app_role}@", 1)
        with open_store(app_url) as app:
            _fill(app, 1)  # the application appends ...
            for sql in ("ALTER TABLE audit_log DISABLE TRIGGER USER", "DROP TRIGGER audit_log_no_change ON audit_log",
                        "TRUNCATE audit_log", "DELETE FROM audit_log", "UPDATE audit_log SET actor = 'x'",
                        "DROP TABLE audit_log"):  # fmt: skip
                with pytest.raises(DBAPIError), app.engine.begin() as conn:  # ... and can do nothing else
                    conn.exec_driver_sql(sql)
            with app.read() as s:
                assert audit.verify(s).ok and audit.verify(s).rows == 3
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{app_role}"')
            conn.execute(f'DROP ROLE "{app_role}"')
        del schema
