"""The settings: every CORDMATCH_* variable parsed in one place, with defaults, clear errors and precedence."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from cordmatch.config import VARIABLES, Settings, child_environment, current, env_table, using
from cordmatch.errors import CordmatchError

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src" / "cordmatch"


def test_defaults_when_nothing_is_set() -> None:
    s = Settings.from_env({})
    assert s == Settings()
    assert s.data_dir is None and s.db is None and s.db_pool is None and s.secret is None
    assert s.db_busy_timeout_s == 30.0 and s.secure_cookies is False and s.pyard_fallback is False


def test_every_variable_is_parsed() -> None:
    env = {
        "CORDMATCH_DATA_DIR": "/tmp/cm-data",
        "CORDMATCH_DB": "postgresql://u@h/db",
        "CORDMATCH_DB_BUSY_TIMEOUT": "2.5",
        "CORDMATCH_DB_POOL": "20",
        "CORDMATCH_SECRET": "s3cret",
        "CORDMATCH_SECURE_COOKIES": "1",
        "CORDMATCH_THROTTLE_STORAGE": "redis://10.0.0.5:6379",
        "CORDMATCH_HLA_RELEASE": "3.57.0",
        "CORDMATCH_PYARD_FALLBACK": "true",
        "CORDMATCH_AUDIT_KEY": "  key-of-sixteen-bytes  ",
        "CORDMATCH_USER": "alice",
        "CORDMATCH_TOKEN": "tok",
        "CORDMATCH_PASSWORD": "pw",
        "CORDMATCH_NEW_PASSWORD": "pw2",
        "CORDMATCH_TEST_PG": "postgresql://x@y/z",
    }
    assert set(env) == {v.name for v in VARIABLES}
    s = Settings.from_env(env)
    assert s.data_dir == Path("/tmp/cm-data") and s.db == "postgresql://u@h/db"
    assert s.db_busy_timeout_s == 2.5 and s.db_pool == 20 and s.secret == "s3cret"
    assert s.secure_cookies and s.pyard_fallback and s.hla_release == "3.57.0"
    assert s.throttle_storage == "redis://10.0.0.5:6379"
    assert s.audit_key == "key-of-sixteen-bytes" and (s.user, s.token) == ("alice", "tok")
    assert (s.password, s.new_password, s.test_pg) == ("pw", "pw2", "postgresql://x@y/z")
    # to_env gives the same settings back (what `serve --workers N` hands its worker processes)
    assert Settings.from_env(s.to_env()) == s
    assert "s3cret" not in repr(s) and "pw2" not in repr(s)  # secrets stay out of logs


def test_empty_variables_count_as_unset() -> None:
    env = {"CORDMATCH_DB": "", "CORDMATCH_DB_POOL": " ", "CORDMATCH_SECURE_COOKIES": ""}
    assert Settings.from_env(env) == Settings()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CORDMATCH_DB_BUSY_TIMEOUT", "soon", "must be a number of seconds"),
        ("CORDMATCH_DB_BUSY_TIMEOUT", "-1", "0..3600"),
        ("CORDMATCH_DB_BUSY_TIMEOUT", "7200", "0..3600"),
        ("CORDMATCH_DB_POOL", "many", "whole number"),
        ("CORDMATCH_DB_POOL", "0", "1..1000"),
        ("CORDMATCH_SECURE_COOKIES", "maybe", "1 or 0"),
        ("CORDMATCH_PYARD_FALLBACK", "2", "1 or 0"),
        ("CORDMATCH_HLA_RELEASE", "latest", "release number"),
    ],
)
def test_bad_values_are_clear_errors_naming_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(CordmatchError, match=message) as exc:
        Settings.from_env({name: value})
    assert exc.value.where == name and name in str(exc.value)


def test_precedence_option_over_environment_over_default() -> None:
    env = {"CORDMATCH_DB": "env.sqlite3", "CORDMATCH_DATA_DIR": "/tmp/env-data"}
    assert Settings.from_env({}).db is None  # default
    assert Settings.from_env(env).db == "env.sqlite3"  # environment
    s = Settings.from_env(env, db="option.sqlite3", data_dir="/tmp/option-data")  # option
    assert s.db == "option.sqlite3" and s.data_dir == Path("/tmp/option-data")
    assert Settings.from_env(env, db=None).db == "env.sqlite3"  # an option not given leaves the variable
    assert s.replace(db=None, secure_cookies=True) == Settings.from_env(
        env, db="option.sqlite3", data_dir="/tmp/option-data", secure_cookies=True
    )
    with pytest.raises(TypeError, match="unknown settings"):
        Settings.from_env({}, databse="x")


def test_options_are_validated_too() -> None:
    with pytest.raises(CordmatchError, match="CORDMATCH_DB_POOL"):
        Settings.from_env({}, db_pool=0)


def test_current_is_the_activated_settings_else_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORDMATCH_DB", "from-env.sqlite3")
    assert current().db == "from-env.sqlite3"
    chosen = Settings(db="chosen.sqlite3")
    with using(chosen):
        assert current() is chosen
        monkeypatch.setenv("CORDMATCH_DB", "changed.sqlite3")
        assert current().db == "chosen.sqlite3"  # read once: later changes to the environment do not leak in
    assert current().db == "changed.sqlite3"


def test_child_environment_carries_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORDMATCH_DB", "parent.sqlite3")
    env = child_environment(Settings(db="sqlite:////tmp/x.sqlite3", secret="one", secure_cookies=True))
    assert env["CORDMATCH_DB"] == "sqlite:////tmp/x.sqlite3" and env["CORDMATCH_SECRET"] == "one"
    assert Settings.from_env(env).secure_cookies is True
    assert "PATH" in env  # the rest of the parent's environment is kept


def test_readme_documents_every_variable() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = [v.name for v in VARIABLES if f"`{v.name}`" not in readme]
    assert not missing, f"README lacks {missing}"
    assert env_table() in readme, "README's settings table is stale: paste cordmatch.config.env_table()"


def test_every_variable_read_in_the_code_is_a_setting() -> None:
    """Every CORDMATCH_* name in the source is one of the settings' variables (no stray variable)."""
    names = {v.name for v in VARIABLES}
    found = set()
    for path in SRC.rglob("*.py"):
        found |= set(re.findall(r"\bCORDMATCH_[A-Z_]+[A-Z]\b", path.read_text(encoding="utf-8")))
    assert found <= names, f"undeclared variables: {sorted(found - names)}"


#: Modules that set a third-party library's own environment variable (py-ard's IMGT_HLA_URL, the Dask
#: workers' malloc trim threshold); nothing else besides config.py touches os.environ.
THIRD_PARTY_ENV = {"config.py", "imgt/pyard_db.py", "io/cluster.py"}


def test_only_config_reads_the_environment() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        if rel in THIRD_PARTY_ENV:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv"):
                offenders.append(f"{rel}:{node.lineno}")
            if isinstance(node, ast.keyword) and node.arg == "envvar":
                offenders.append(f"{rel}:{node.value.lineno}")
    assert not offenders, f"environment read outside cordmatch.config: {offenders}"
