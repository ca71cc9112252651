"""The CLI contract: JSON keys, exit codes, clear errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

P = "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"
D = "A*02:05+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"


def test_grade_json_contract(tables, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(["grade", "--patient", P, "--donor", D, "--json"])
    assert code == 0
    data = json.loads(out)
    assert data["match_8"] == {"bidirectional": 7, "gvh": 7, "hvg": 7, "out_of": 8, "reason": None}
    assert data["match_6"]["bidirectional"] == 6
    assert data["loci"]["A"]["gvh_mismatches"] == 1
    assert {p["grade"] for p in data["loci"]["A"]["positions"]} == {"allele match", "antigen match, allele mismatch"}


def test_grade_table(tables, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(["grade", "--patient", P, "--donor", D])
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
def test_bad_input_exits_2_with_a_named_message(tables, run_cli, args: list[str], needle: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(args)
    assert code == 2
    assert needle in err and "Traceback" not in err + out


def test_one_sided_locus_is_warned_about(tables, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(["grade", "--patient", P + "^DQB1*02:01+DQB1*03:02", "--donor", D, "--json"])
    assert code == 0 and "DQB1 typed for patient only" in err
    assert json.loads(out)["loci"]["DQB1"]["typed"] == "patient only"


def test_hla_commands(tables, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(["hla", "reduce", "A*01:01:01:01+A*02:09", "--to", "lgx", "--json"])
    assert code == 0 and json.loads(out)["reduced"] == "A*01:01+A*02:01"
    code, out, _ = run_cli(["hla", "validate", P])
    assert code == 0 and "valid" in out
    code, out, _ = run_cli(["hla", "expand", "A*01:01:01G", "--json"])
    assert "A*01:01:01:01" in json.loads(out)["alleles"]


def test_demo_runs(tables, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(["demo"])
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


def test_hla_update_from_a_local_release_and_use(tables, run_cli, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cordmatch.imgt.release import release_dir

    code, out, _ = run_cli(["hla", "update", "--from", str(release_dir())])
    assert code == 0 and "3.58.0" in out
    code, _, err = run_cli(["hla", "update", "--from", str(tmp_path)])
    assert code == 2 and "lacks release files" in err
    code, _, err = run_cli(["hla", "update"])
    assert code == 2 and "exactly one" in err
    code, _, err = run_cli(["hla", "use", "9.99.9"])
    assert code == 2 and "not installed" in err


def test_data_dir_option_is_honoured(tmp_path, run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    monkeypatch.setenv("CORDMATCH_DATA_DIR", os.environ["CORDMATCH_DATA_DIR"])
    code, _, _err = run_cli(["--data-dir", str(tmp_path / "elsewhere"), "hla", "use", "9.99.9"])
    assert code == 2 and (tmp_path / "elsewhere" / "releases").exists() is False
    # honoured without writing the environment: the run looked for releases under the option's directory
    assert (tmp_path / "elsewhere").is_dir() and os.environ["CORDMATCH_DATA_DIR"] != str(tmp_path / "elsewhere")
