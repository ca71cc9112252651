"""The CLI contract: JSON keys, exit codes, clear errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cordmatch.cli.main import main

P = "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"
D = "A*02:05+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"


def run(args: list[str], capsys) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_grade_json_contract(tables, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(["grade", "--patient", P, "--donor", D, "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["match_8"] == {"bidirectional": 7, "gvh": 7, "hvg": 7, "out_of": 8, "reason": None}
    assert data["match_6"]["bidirectional"] == 6
    assert data["loci"]["A"]["gvh_mismatches"] == 1
    assert {p["grade"] for p in data["loci"]["A"]["positions"]} == {"allele match", "antigen match, allele mismatch"}


def test_grade_table(tables, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(["grade", "--patient", P, "--donor", D], capsys)
    assert code == 0 and "antigen match, allele mismatch" in out and "7/8" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["grade", "--patient", "A*02:01+A*99:01", "--donor", D], "A*99:01"),
        (["grade", "--patient", P, "--donor", "A*02:01++A*01:01"], "--donor"),
        (["grade", "--patient", "A*02:01", "--donor", D], "only one allele"),
        (["hla", "reduce", "A*01:01", "--to", "Q"], "unknown level"),
        (["hla", "validate", "B*07:02+A*01:01"], "B*07:02"),
        (["hla", "reduce", "A*01:AB", "--to", "G"], "MAC file"),
    ],
)
def test_bad_input_exits_2_with_a_named_message(tables, capsys, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(args, capsys)
    assert code == 2
    assert needle in err and "Traceback" not in err + out


def test_one_sided_locus_is_warned_about(tables, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(["grade", "--patient", P + "^DQB1*02:01+DQB1*03:02", "--donor", D, "--json"], capsys)
    assert code == 0 and "DQB1 typed for patient only" in err
    assert json.loads(out)["loci"]["DQB1"]["typed"] == "patient only"


def test_hla_commands(tables, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(["hla", "reduce", "A*01:01:01:01+A*02:09", "--to", "lgx", "--json"], capsys)
    assert code == 0 and json.loads(out)["reduced"] == "A*01:01+A*02:01"
    code, out, _ = run(["hla", "validate", P], capsys)
    assert code == 0 and "valid" in out
    code, out, _ = run(["hla", "expand", "A*01:01:01G", "--json"], capsys)
    assert "A*01:01:01:01" in json.loads(out)["alleles"]


def test_demo_runs(tables, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(["demo"], capsys)
    assert code == 0 and "CBU-0001" in out and "8/8" in out


def test_console_script_has_no_traceback_on_bad_input(tables) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        [sys.executable, "-m", "cordmatch", "grade", "--patient", "A*02:01+A*99:01", "--donor", D],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "A*99:01" in proc.stderr and "Traceback" not in proc.stderr
