from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from cordmatch.errors import InvalidInputError
from cordmatch.store import open_store, resolve_url
from cordmatch.store.migrate import current_revision, head_revision


def test_migrated_to_head_and_reopen_is_noop(store, db_url: str) -> None:  # type: ignore[no-untyped-def]
    head = head_revision()
    assert head is not None and current_revision(store.engine) == head
    tables = set(inspect(store.engine).get_table_names())
    assert {"units", "audit_log", "reservations", "users", "api_tokens", "hla_typings"} <= tables
    again = open_store(db_url)
    assert current_revision(again.engine) == head
    again.close()


def test_models_match_migrations(store) -> None:  # type: ignore[no-untyped-def]
    """The shipped migrations create exactly the schema the models describe."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from cordmatch.store.models import Base

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_resolve_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORDMATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CORDMATCH_DB", raising=False)
    assert resolve_url(None) == f"sqlite:///{tmp_path / 'data' / 'cordmatch.sqlite3'}"
    assert resolve_url(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    assert resolve_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    monkeypatch.setenv("CORDMATCH_DB", str(tmp_path / "env.db"))
    assert resolve_url(None) == f"sqlite:///{tmp_path / 'env.db'}"
    with pytest.raises(InvalidInputError, match="unsupported database"):
        resolve_url("mysql://u@h/db")


def test_default_store_is_sqlite_file_in_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORDMATCH_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CORDMATCH_DB", raising=False)
    with open_store() as s:
        assert s.dialect == "sqlite"
    assert (tmp_path / "cordmatch.sqlite3").exists()


def test_read_transactions_are_read_only_and_do_not_wait_for_writers(store) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from cordmatch.store.models import Setting

    with store.transaction() as s:
        s.add(Setting(key="k", value="1"))
        # while this write transaction is open, a read transaction proceeds and sees the committed state
        with store.read() as r:
            assert r.execute(text("SELECT count(*) FROM settings")).scalar_one() == 0
    with store.read() as r:
        assert r.get(Setting, "k") is not None
    if store.dialect == "postgresql":
        with pytest.raises(DBAPIError, match="read-only"), store.read() as r:
            r.execute(text("DELETE FROM settings"))


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    from cordmatch.errors import CordmatchError

    with pytest.raises(CordmatchError, match="cannot open the bank store at postgresql") as exc:
        open_store("postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    assert "secret" not in str(exc.value) and exc.value.where == "--db"
    with pytest.raises(CordmatchError, match="cannot open the bank store"):
        open_store(f"sqlite:///{tmp_path}/missing-dir/x/../y.sqlite3")


def test_upgrade_from_0003_adds_the_bank_contact_and_keeps_the_change_log(tmp_path: Path) -> None:
    """A store made before the bank contact (revision 0003) upgrades in place: the column is added and a bank
    update still logs its units for the search index (a batch copy of ``banks`` would drop that trigger)."""
    from sqlalchemy import create_engine, text

    from cordmatch.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_engine(url)
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO banks (id, code, name, accreditation) VALUES (1, 'B1', 'Old bank', 'none')"))
        conn.execute(text(
            "INSERT INTO units (id, din, bank_id, product_code, state, version, collected_at, registered_at, "
            "segments, exceptional_release) VALUES (1, 'X999926000001', 1, 'X0001', 'available', 1, "
            "'2026-01-01 00:00:00', '2026-01-02 00:00:00', 0, 0)"
        ))  # fmt: skip
    upgrade(engine, "head")
    assert current_revision(engine) == head_revision()
    with engine.begin() as conn:
        before = conn.execute(text("SELECT count(*) FROM search_changes")).scalar_one()
        conn.execute(text("UPDATE banks SET contact = 'desk@old.invalid' WHERE id = 1"))
        after = conn.execute(text("SELECT count(*) FROM search_changes")).scalar_one()
        assert conn.execute(text("SELECT contact FROM banks")).scalar_one() == "desk@old.invalid"
    assert after == before + 1  # the bank's one unit logged
    engine.dispose()
