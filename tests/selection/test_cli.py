"""CLI: `cordmatch sim registry|patients` and `cordmatch search` (JSON contract, errors without traceback)."""

from __future__ import annotations

import json

import pytest

from cordmatch.cli.main import main

PATIENT = "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"


def run(argv, capsys):  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code or 0, out.out, " ".join(out.err.split())  # rich wraps long lines


@pytest.fixture(scope="module")
def reg(tmp_path_factory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("reg") / "registry.parquet"
    with pytest.raises(SystemExit) as exc:
        main(["sim", "registry", "--units", "3000", "--seed", "4", "--db", str(path), "--population", "CAU"])
    assert (exc.value.code or 0) == 0
    return str(path)


def test_search_json_contract_and_grades_equal_grade_command(reg, capsys):  # type: ignore[no-untyped-def]
    code, out, err = run(
        ["search", "--db", reg, "--patient", PATIENT, "--weight", "20", "--top", "5", "--json"], capsys
    )
    assert code == 0, err
    data = json.loads(out)
    assert set(data) >= {"results", "double_units"}
    assert 1 <= len(data["results"]) <= 5
    for r in data["results"]:
        assert isinstance(r["unit_id"], str) and isinstance(r["hla"], str)
        assert isinstance(r["tnc_per_kg"], float)
        assert r["cd34_per_kg"] is None or isinstance(r["cd34_per_kg"], float)
        assert r["reasons"] and all(isinstance(x, str) for x in r["reasons"])
    for r in data["results"][:3]:
        code, g_out, _ = run(["grade", "--patient", PATIENT, "--donor", r["hla"], "--json"], capsys)
        assert code == 0
        g = json.loads(g_out)
        assert r["match_6"] == g["match_6"] and r["match_8"] == g["match_8"]


def test_search_text_explain_and_heavy_patient(reg, capsys):  # type: ignore[no-untyped-def]
    code, out, err = run(
        [
            "search",
            "--db",
            reg,
            "--patient",
            PATIENT,
            "--weight",
            "150",
            "--explain",
            "X999926000002",
            "--policy",
            "dose-first",
        ],
        capsys,
    )
    assert code == 0, err
    assert "explain X999926000002" in out
    assert "double unit" in out or "no pair" in out or "top" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--policy", "fastest"], "unknown policy"),
        (["--weight", "0"], "weight must be a positive"),
        (["--weight", "-3"], "weight must be a positive"),
        (["--patient", "A*02:01"], "--patient"),
    ],
)
def test_search_bad_input_exit_2(reg, capsys, argv, message):  # type: ignore[no-untyped-def]
    base = {"--db": reg, "--patient": PATIENT, "--weight": "20"}
    for k, v in zip(argv[::2], argv[1::2], strict=True):
        base[k] = v
    args = ["search"] + [x for kv in base.items() for x in kv]
    code, _, err = run(args, capsys)
    assert code == 2 and message in err and "Traceback" not in err


def test_bad_antibody_file_names_line_and_field(reg, capsys, tmp_path):  # type: ignore[no-untyped-def]
    ab = tmp_path / "ab.csv"
    ab.write_text("specificity,mfi\nA*02:01,3000\nB*44:02,strong\n")
    code, _, err = run(["search", "--db", reg, "--patient", PATIENT, "--weight", "20", "--antibodies", str(ab)], capsys)
    assert code == 2 and "line 3" in err and "MFI" in err


def test_empty_registry_and_unknown_population(tmp_path, capsys):  # type: ignore[no-untyped-def]
    empty = str(tmp_path / "empty.parquet")
    code, _, err = run(["sim", "registry", "--units", "0", "--db", empty], capsys)
    assert code == 0, err
    code, _, err = run(["search", "--db", empty, "--patient", PATIENT, "--weight", "20"], capsys)
    assert code == 2 and "empty" in err
    code, _, err = run(["sim", "registry", "--units", "5", "--db", empty, "--population", "EUR"], capsys)
    assert code == 2 and "unknown population" in err
    code, _, err = run(
        ["search", "--db", str(tmp_path / "none.parquet"), "--patient", PATIENT, "--weight", "20"], capsys
    )
    assert code == 2 and "does not exist" in err
    code, _, err = run(
        ["search", "--db", str(tmp_path / "new.sqlite3"), "--patient", PATIENT, "--weight", "20"], capsys
    )
    assert code == 2 and "empty" in err


def test_registry_in_the_bank_store(tmp_path, capsys):  # type: ignore[no-untyped-def]
    db = str(tmp_path / "bank.sqlite3")
    pq = tmp_path / "same.parquet"
    code, out, err = run(["sim", "registry", "--units", "300", "--seed", "8", "--db", db, "--parquet", str(pq)], capsys)
    assert code == 0, err
    import pyarrow.parquet as pqm

    assert pqm.read_table(pq).num_rows == 300
    code, out, err = run(["search", "--db", db, "--patient", PATIENT, "--weight", "12", "--top", "3", "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["counts"]["units"] == 300 and data["results"]
    code, _, err = run(["sim", "registry", "--units", "5", "--seed", "8", "--db", db], capsys)
    assert code == 2 and "already in this store" in err


def test_sim_patients_json_lines(capsys):  # type: ignore[no-untyped-def]
    code, out, _ = run(["sim", "patients", "--n", "3", "--seed", "2", "--population", "AFA"], capsys)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 3 and all(r["weight_kg"] > 0 and "antibodies" in r for r in rows)


@pytest.mark.parametrize(
    ("patient", "message"),
    [("A*02:01+A*01:01", "lacks HLA-B, HLA-DRB1"), ("A*02:01+A*01:01^B*08:01+B*44:02", "lacks HLA-DRB1")],
)
def test_search_needs_a_b_drb1_exit_2(reg, capsys, patient, message):  # type: ignore[no-untyped-def]
    code, _, err = run(["search", "--db", reg, "--patient", patient, "--weight", "20"], capsys)
    assert code == 2 and message in err and "Traceback" not in err


def test_search_unknown_population_exit_2_and_known_population(reg, capsys):  # type: ignore[no-untyped-def]
    base = ["search", "--db", reg, "--patient", PATIENT, "--weight", "20"]
    code, _, err = run([*base, "--population", "EUR"], capsys)
    assert code == 2 and "unknown population" in err
    code, out, err = run([*base, "--population", "CAU", "--json", "--top", "3"], capsys)
    assert code == 0, err
    assert json.loads(out)["results"]


def test_investigational_use_ranks_nothing_without_research(reg, capsys):  # type: ignore[no-untyped-def]
    base = ["search", "--db", reg, "--patient", PATIENT, "--weight", "20", "--json", "--diagnosis", "cerebral palsy"]
    code, out, err = run(base, capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["results"] == [] and data["double_units"] == []
    assert any(n.startswith("INVESTIGATIONAL") and "--research" in n for n in data["notes"])
    assert "investigational use" in err
    code, out, err = run([*base, "--research"], capsys)
    data = json.loads(out)
    assert data["results"]
    for r in data["results"]:
        assert any(c["rule"] == "indication" and "INVESTIGATIONAL" in c["value"] for c in r["checks"])


def test_antibodies_from_sim_patients_are_accepted(reg, capsys, tmp_path):  # type: ignore[no-untyped-def]
    code, out, _ = run(["sim", "patients", "--n", "40", "--seed", "3", "--population", "CAU"], capsys)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    sensitised = [r for r in rows if r["antibodies"]]
    first_field = [r for r in sensitised if any(":" not in a["specificity"] and "*" in a["specificity"]
                                                for a in r["antibodies"])]  # fmt: skip
    serologic = [r for r in sensitised if any("*" not in a["specificity"] for a in r["antibodies"])]
    assert first_field, "sim patients should emit first-field antibodies such as A*02"
    assert serologic, "sim patients should emit serologic antibodies such as A2 or Cw7"
    for k, r in enumerate(first_field[:3] + serologic[:3]):
        ab = tmp_path / f"ab{k}.csv"
        ab.write_text("specificity,mfi\n" + "".join(f"{a['specificity']},{a['mfi']}\n" for a in r["antibodies"]))
        code, _, err = run(
            ["search", "--db", reg, "--patient", r["hla"], "--weight", "20", "--antibodies", str(ab), "--json"], capsys
        )
        assert code == 0, err


def test_heavy_patient_gets_double_units_with_double_only_units(reg, capsys):  # type: ignore[no-untyped-def]
    code, out, err = run(["search", "--db", reg, "--patient", PATIENT, "--weight", "105", "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    for r in data["results"]:  # any unit ranked as a single graft reaches the single-unit dose
        assert r["tnc_per_kg"] >= 3.0
    if not data["results"]:
        assert data["double_units"] or any("no pair" in n for n in data["notes"])
        for d in data["double_units"]:
            assert all(c["verdict"] != "fail" for u in d["units"] for c in u["checks"])
            assert d["combined_tnc_per_kg"] > 3.5


def test_unknown_antibody_name_names_the_file_and_line(reg, capsys, tmp_path):  # type: ignore[no-untyped-def]
    ab = tmp_path / "ab.csv"
    ab.write_text("specificity,mfi\nA*02,3000\nDR99,4000\n")
    code, _, err = run(["search", "--db", reg, "--patient", PATIENT, "--weight", "20", "--antibodies", str(ab)], capsys)
    assert code == 2 and "DR99" in err and "ab.csv line 3" in err and "Traceback" not in err
