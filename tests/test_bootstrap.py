"""The composition root: one application built from the settings; the entry points run on what it built."""

from __future__ import annotations

from pathlib import Path

import pytest

from cordmatch.bootstrap import Application, build, settings_tables, worker_tables
from cordmatch.config import Settings


@pytest.fixture
def application(tmp_path: Path) -> Application:
    app = build(Settings(db=str(tmp_path / "bank.sqlite3")))
    yield app  # type: ignore[misc]
    app.close()


def test_builds_on_sqlite_lazily(application: Application, tmp_path: Path) -> None:
    assert "store" not in application.__dict__ and not application.has_tables  # nothing built yet
    assert application.store.dialect == "sqlite" and (tmp_path / "bank.sqlite3").exists()
    assert application.store is application.store  # built once, then kept


def test_one_object_graph(application: Application, tables: object) -> None:
    bank = application.bank
    search = application.search_backend
    assert bank is application.bank and bank.store is application.store
    assert search is application.search_backend
    assert search.store is application.store and search.tables is application.tables  # type: ignore[union-attr]
    assert application.tables is tables  # the tables of the same settings are one object per process
    assert settings_tables(application.settings) is application.tables


def test_the_store_options_come_from_the_settings(tmp_path: Path) -> None:
    app = build(Settings(db=str(tmp_path / "sub" / "b.sqlite3"), db_busy_timeout_s=2.0))
    try:
        assert (tmp_path / "sub" / "b.sqlite3").exists() is False  # nothing opened yet
        with app.store.read() as s:
            assert s.connection().exec_driver_sql("PRAGMA busy_timeout").scalar() == 2000
    finally:
        app.close()


def test_a_given_store_is_used_and_not_closed(store_path: Path) -> None:
    from cordmatch.store import open_store

    with open_store(store_path) as given:
        app = build(Settings(), store=given, search_backend=None)
        assert app.store is given and app.bank.store is given and app.search_backend is None
        app.close()
        with given.read():  # still open
            pass


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "given.sqlite3"


def test_create_app_receives_the_application(application: Application) -> None:
    from cordmatch.server import create_app

    app = create_app(application=application)
    assert app.state.application is application
    assert app.state.store is application.store and app.state.bank is application.bank
    assert app.state.search_backend is application.search_backend


def test_create_app_takes_secret_and_cookies_from_the_settings(tmp_path: Path) -> None:
    from cordmatch.server import create_app

    app = create_app(
        application=build(Settings(db=str(tmp_path / "c.sqlite3"), secret="shared", secure_cookies=True),
                          search_backend=None)
    )  # fmt: skip
    assert app.state.secret == b"shared" and app.state.secure_cookies is True


def test_the_worker_factory_builds_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cordmatch import config
    from cordmatch.server import app_from_env

    monkeypatch.setenv("CORDMATCH_DB", str(tmp_path / "w.sqlite3"))
    monkeypatch.setenv("CORDMATCH_SECRET", "worker-secret")
    monkeypatch.setattr(config, "_active", None)  # the factory activates the worker's settings: undone here
    app = app_from_env()
    assert app.state.secret == b"worker-secret"
    assert app.state.application.settings.db == str(tmp_path / "w.sqlite3")
    app.state.application.close()


def test_worker_tables_are_the_process_tables(tables: object) -> None:
    assert worker_tables() is tables


def test_serve_workers_get_the_settings_through_their_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --workers N`: one child uvicorn, the settings in its environment, one secret for all workers."""
    import subprocess
    from typing import Any

    from cordmatch.cli import serve_cmd

    seen: dict[str, Any] = {}

    class Child:
        def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
            seen.update(cmd=cmd, env=env)

        def __enter__(self) -> Child:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def wait(self) -> int:
            return 0

    monkeypatch.setattr(subprocess, "Popen", Child)
    serve_cmd._serve_workers(Settings(db=str(tmp_path / "w.sqlite3"), secure_cookies=True), "127.0.0.1", 8001, 3)
    given = Settings.from_env(seen["env"])
    assert given.db == f"sqlite:///{tmp_path / 'w.sqlite3'}" and given.secure_cookies and given.secret
    assert "cordmatch.server:app_from_env" in seen["cmd"] and seen["cmd"][-2:] == ["--workers", "3"]
