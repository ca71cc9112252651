"""`cordmatch outcome` and `cordmatch indications`: output, JSON, plots, exit codes, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cordmatch.cli import indications_cmd, outcome_cmd
from cordmatch.errors import CordmatchError


def run(*args: str) -> tuple[int, str, str]:
    """Run the commands the way ``cordmatch.cli.main.main`` does: CordmatchError -> message, code 2 (on a
    local app holding only these two command modules)."""
    app = typer.Typer(pretty_exceptions_enable=False)
    outcome_cmd.register(app)
    indications_cmd.register(app)
    result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, CordmatchError):
        return 2, result.stdout, f"error: {result.exception}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_outcome_human_output() -> None:
    code, out, _ = run("outcome", "--tnc", "3.5", "--cd34", "1.8", "--match-8", "6")
    assert code == 0
    assert "Median engraftment day" in out and "day 42" in out and "Kurtzberg 2008" in out


def test_outcome_json_is_stable() -> None:
    args = ("outcome", "--tnc", "3.5", "--double", "--dsa", "--weight", "70", "--json")
    code, out, _ = run(*args)
    assert code == 0
    data = json.loads(out)
    assert data["graft"] == "double" and data["inputs"]["dsa"] is True
    assert out == run(*args)[1]  # same input, byte-identical JSON
    assert list(data) == sorted(data)


def test_outcome_writes_png_and_svg(tmp_path: Path) -> None:
    png, svg = tmp_path / "c.png", tmp_path / "c.svg"
    assert run("outcome", "--tnc", "4", "--plot", str(png))[0] == 0
    assert run("outcome", "--tnc", "4", "--plot", str(svg), "--json")[0] == 0
    assert png.read_bytes().startswith(b"\x89PNG") and b"<svg" in svg.read_bytes()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("--tnc", "-2"), "--tnc"),
        (("--tnc", "0"), "--tnc"),
        (("--tnc", "3", "--cd34", "0"), "--cd34"),
        (("--tnc", "3", "--match-8", "9"), "--match-8"),
        (("--tnc", "3", "--match-6", "-1"), "--match-6"),
        (("--tnc", "3", "--dsa-both"), "--dsa-both"),
        (("--tnc", "3", "--plot", "x.gif"), "--plot"),
        (("--tnc", "3", "--age-group", "old"), "--age-group"),
    ],
)
def test_outcome_bad_input_exit_2_names_option(args: tuple[str, ...], option: str) -> None:
    code, _, err = run("outcome", *args)
    assert code == 2
    assert option in err and "Traceback" not in err


def test_outcome_non_number_is_a_usage_error() -> None:
    code, _, err = run("outcome", "--tnc", "lots")
    assert code == 2 and "--tnc" in err


def test_indications_lookup_and_table() -> None:
    code, out, _ = run("indications", "--disease", "sickle cell")
    assert code == 0 and "Sickle cell disease" in out and "CO/II" in out
    code, out, _ = run("indications")
    assert code == 0 and "INVESTIGATIONAL" in out and "Spinal cord injury" in out


def test_indications_json() -> None:
    code, out, _ = run("indications", "--disease", "acute myeloid leukaemia", "--json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "listed" and len(data["indications"]) == 5
    code, out, _ = run("indications", "--disease", "sepsis", "--json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "investigational"
    assert data["investigational"][0]["is_treatment"] is False


def test_indications_investigational_is_not_shown_as_treatment() -> None:
    code, out, _ = run("indications", "--disease", "spinal cord injury")
    assert code == 0
    assert "INVESTIGATIONAL" in out and "not a treatment" in out and "NCT01354483" in out


def test_indications_not_listed_exit_2() -> None:
    code, _, err = run("indications", "--disease", "diabetes")
    assert code == 2 and "not listed" in err and "--disease" in err
    code, out, _ = run("indications", "--disease", "diabetes", "--json")
    assert code == 2 and json.loads(out)["status"] == "not_listed"
    code, _, err = run("indications", "--disease", "  ")
    assert code == 2 and "--disease" in err


def test_real_entry_point_exits_2_on_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    from cordmatch.cli.main import main

    with pytest.raises(SystemExit) as info:
        main(["outcome", "--tnc", "-1"])
    assert info.value.code == 2
    assert "--tnc" in capsys.readouterr().err


def test_indications_follow_the_patient_age_or_weight() -> None:
    code, out, _ = run("indications", "--disease", "AML", "--age", "45", "--json")
    assert code == 0
    rows = json.loads(out)["indications"]
    assert rows and all(r["population"] == "adult" for r in rows)
    code, out, _ = run("indications", "--disease", "AML", "--weight", "20", "--json")
    rows = json.loads(out)["indications"]
    assert rows and all(r["population"] == "paediatric" for r in rows)
    code, out, _ = run("indications", "--disease", "sickle cell", "--age", "30", "--json")
    data = json.loads(out)
    assert data["note"] and "no adult row" in data["note"]  # all rows kept, said plainly
    assert "SCURT" in data["indications"][0]["cord_blood_role"]
    code, _, err = run("indications", "--disease", "AML", "--age", "-1")
    assert code == 2 and "--age" in err


@pytest.mark.parametrize("disease", ["cerebral palsy", "autism"])
def test_cerebral_palsy_and_autism_are_investigational(disease: str) -> None:
    code, out, _ = run("indications", "--disease", disease, "--json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "investigational" and not data["indications"]
    assert data["investigational"][0]["label"] == "INVESTIGATIONAL"
