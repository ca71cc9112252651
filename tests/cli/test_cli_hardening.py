"""CLI hardening (issue 13): bad numbers, wrong --db targets and seeds exit 2 with a named message and
no traceback; commands that read never create a database."""

from __future__ import annotations

from pathlib import Path

import pytest

P = "A*01:01+A*02:01^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["outcome", "--tnc", "1e-320"], "--tnc"),
        (["outcome", "--tnc", "2.5e7"], "x10^7 cells/kg"),  # cells/kg typed where x10^7/kg is asked
        (["outcome", "--tnc", "3", "--cd34", "1e308"], "--cd34"),
        (["outcome", "--tnc", "3", "--weight", "1e-320"], "--weight"),
        (["outcome", "--tnc", "3", "--dsa-mfi", "1e9"], "--dsa-mfi"),
        (["sim", "registry", "--seed", "-1", "--units", "1"], "--seed"),
        (["sim", "patients", "--seed", "-5"], "--seed"),
        (["search", "--db", "/etc/passwd", "--patient", P, "--weight", "20"], "not a database"),
        (["audit", "verify", "--db", "/etc/passwd"], "not a database"),
    ],
)
def test_bad_input_exits_2_without_traceback(run_cli, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(args)
    assert code == 2, (out, err)
    assert needle in err and "Traceback" not in err + out


def test_reading_commands_never_create_a_database(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "typo" / "x.sqlite3"
    code, out, err = run_cli(["audit", "verify", "--db", str(missing)])
    assert code == 2 and "no database" in err and "intact" not in out
    code, out, err = run_cli(["search", "--db", str(tmp_path / "typo.sqlite"), "--patient", P, "--weight", "20"])
    assert code == 2 and "no database" in err
    assert not missing.parent.exists() and not (tmp_path / "typo.sqlite").exists()
    code, out, err = run_cli(["search", "--db", str(tmp_path), "--patient", P, "--weight", "1e-320"])
    assert code == 2 and "--weight" in err
