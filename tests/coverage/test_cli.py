"""`cordmatch coverage`: JSON keys, curve, under-served, recruitment, clear errors (exit 2)."""

from __future__ import annotations

import json

import pytest

from cordmatch.coverage.engine import LEVELS


@pytest.fixture(scope="module")
def registry(tmp_path_factory, tables):  # type: ignore[no-untyped-def]
    from cordmatch.services.registry import write_registry
    from cordmatch.sim.registry import generate_registry

    path = tmp_path_factory.mktemp("cov") / "reg.parquet"
    write_registry(str(path), generate_registry(4000, 3, "mix", tables), tables.release)
    return str(path)


def test_json_keys(run_cli, registry):  # type: ignore[no-untyped-def]
    code, out, err = run_cli(
        ["coverage", "--registry", registry, "--population", "CAU", "--patients", "60", "--seed", "4", "--json"]
    )
    assert code == 0, err
    data = json.loads(out)
    for key in ("patients", "population", "p_at_least", "p_at_least_with_dose", "p_double", "median_units", "ci95"):
        assert key in data
    assert data["patients"] == 60 and data["population"] == "CAU"
    assert list(data["p_at_least"]) == list(LEVELS)
    assert all(0 <= v <= 1 for v in data["p_at_least"].values())
    assert all(data["p_at_least_with_dose"][k] <= data["p_at_least"][k] for k in LEVELS)
    again = json.loads(
        run_cli(
            ["coverage", "--registry", registry, "--population", "CAU", "--patients", "60", "--seed", "4", "--json"]
        )[1]
    )
    assert again["p_at_least"] == data["p_at_least"]  # deterministic for a seed


def test_curve_plot_underserved_recruitment(run_cli, registry, tmp_path):  # type: ignore[no-untyped-def]
    cand = tmp_path / "cand.csv"
    cand.write_text(
        "unit_id,hla,tnc\n"
        "N1,A*01:01+A*02:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01,2.5e9\n"
        "N2,A*02:01+A*03:01^B*07:02+B*44:02^C*07:02+C*05:01^DRB1*15:01+DRB1*04:01,2.5e9\n"
    )
    plot = tmp_path / "curve.svg"
    code, out, err = run_cli(
        [
            "coverage",
            "--registry",
            registry,
            "--population",
            "mix",
            "--patients",
            "80",
            "--no-dose",
            "--sizes",
            "500,2000,4000",
            "--plot",
            str(plot),
            "--underserved",
            "5",
            "--candidates",
            str(cand),
            "--json",
        ]
    )
    assert code == 0, err
    data = json.loads(out)
    sizes = data["sizes"]
    assert [r["units"] for r in sizes] == [500, 2000, 4000]
    p56 = [r["p_at_least"]["5/6"] for r in sizes]
    assert p56 == sorted(p56)  # nested subsets: more units never serve fewer patients
    assert plot.read_text().lstrip().startswith("<?xml")
    assert 0 < len(data["underserved"]) <= 5 and data["underserved"][0]["frequency"] > 0
    rec = data["recruitment"]
    assert {c["unit_id"] for c in rec["candidates"]} == {"N1", "N2"} and rec["with_dose"] is False
    assert {p["population"] for p in data["by_population"]} == {"AFA", "API", "CAU", "HIS"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--population", "EUR"], "unknown population"),
        (["--population", "CAU,cau"], "named twice"),
        (["--population", "mix,AFA"], "cannot be combined"),
        (["--patients", "0"], "number of patients"),
        (["--sizes", "10,abc"], "not a bank size"),
        (["--sizes", "999999"], "bank size 999,999"),
        (["--level", "9/10"], "unknown level"),
        (["--weight-kg", "-3"], "weight"),
        (["--weight-kg", "nan"], "weight"),
        (["--seed", "-1"], "seed"),
        (["--policy", "nope"], "nope"),
        (["--plot", "x.pdf", "--sizes", "100"], ".svg or .png"),
    ],
)
def test_bad_input_is_a_clear_error(run_cli, registry, args, message):  # type: ignore[no-untyped-def]
    code, _out, err = run_cli(["coverage", "--registry", registry, "--patients", "10", *args])
    assert code == 2 and message in err and "Traceback" not in err


def test_bad_files_name_the_line(run_cli, registry, tmp_path):  # type: ignore[no-untyped-def]
    w = tmp_path / "w.txt"
    w.write_text("70\n65\nheavy\n")
    code, _, err = run_cli(["coverage", "--registry", registry, "--patients", "10", "--weights", str(w)])
    assert code == 2 and "line 3" in err
    c = tmp_path / "c.csv"
    c.write_text("unit_id,hla\nN1,A*01:01+A*99:99\n")
    code, _, err = run_cli(["coverage", "--registry", registry, "--patients", "10", "--candidates", str(c)])
    assert code == 2 and "line 2" in err and "hla" in err
    code, _, err = run_cli(["coverage", "--registry", str(tmp_path / "none.parquet"), "--patients", "10"])
    assert code == 2 and "does not exist" in err


def test_single_candidate_option(run_cli, registry):  # type: ignore[no-untyped-def]
    gl = "A*01:01+A*02:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01"
    code, out, err = run_cli(
        ["coverage", "--registry", registry, "--population", "CAU", "--patients", "30", "--candidate", gl, "--json"]
    )
    assert code == 0, err
    assert json.loads(out)["recruitment"]["candidates"][0]["unit_id"] == "candidate-1"
    code, _, err = run_cli(["coverage", "--registry", registry, "--patients", "5", "--candidate", "A*01:01+B*99"])
    assert code == 2 and "--candidate 1" in err


def test_registry_that_is_not_one(run_cli, tmp_path):  # type: ignore[no-untyped-def]
    text = tmp_path / "notes.csv"
    text.write_text("not,a,database\n" * 50)
    code, _, err = run_cli(["coverage", "--registry", str(text), "--patients", "5"])
    assert code == 2 and "--registry" in err and "Traceback" not in err
    missing = tmp_path / "missing.sqlite3"
    code, _, err = run_cli(["coverage", "--registry", str(missing), "--patients", "5"])
    assert code == 2 and "does not exist" in err and not missing.exists()
