"""grade and hla commands on the issue-10 cases: one-sided loci, MACs with absent names, WHO serology."""

from __future__ import annotations

import json
from pathlib import Path

P = "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"
UNIT_6 = "A*02:01+A*01:01^B*08:01+B*44:02^DRB1*03:01+DRB1*04:01"  # typed A, B, DRB1 only
MACS = "CODE\tSUBTYPE\nAB\t01/02\n"


def test_unit_typed_a_b_drb1_gets_its_6_with_a_warning(tables, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(["grade", "--patient", P, "--donor", UNIT_6, "--json"])
    assert code == 0  # README: a one-sided locus is a warning, not an error
    assert "C typed for patient only" in err
    data = json.loads(out)
    assert data["match_6"]["bidirectional"] == 6 and data["match_8"]["bidirectional"] is None
    assert "C not typed for donor" in data["match_8"]["reason"]
    assert any("C typed for patient only" in w for w in data["warnings"])


def test_mac_with_a_name_absent_from_the_release_keeps_the_rest(tables, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    macs = tmp_path / "macs.txt"
    macs.write_text(MACS)
    donor = P.replace("C*07:01+C*05:01", "C*04:AB+C*05:01")  # C*04:02 is not in IPD-IMGT/HLA 3.58.0
    code, out, err = run_cli(["grade", "--patient", P, "--donor", donor, "--macs", str(macs), "--json"])
    assert code == 0, err
    assert "C*04:02 not in IPD-IMGT/HLA 3.58.0" in err
    data = json.loads(out)
    assert any("C*04:AB" in w for w in data["warnings"])
    assert data["loci"]["C"]["allele"]["gvh_mismatches"] == 1  # C*04:01 is not the patient's C*07:01
    code, out, err = run_cli(["hla", "reduce", "C*04:AB", "--to", "lgx", "--macs", str(macs), "--json"])
    assert code == 0 and json.loads(out)["reduced"] == "C*04:01" and "C*04:02" in err
    code, out, err = run_cli(["hla", "validate", donor, "--macs", str(macs), "--json"])
    assert code == 0 and "C*04:02" in json.loads(out)["warnings"][0]
    macs.write_text("CODE\tSUBTYPE\nZQ\t02/998\n")
    code, _, err = run_cli(["grade", "--patient", P, "--donor", P.replace("C*07:01", "C*04:ZQ"), "--macs", str(macs)])
    assert code == 2 and "none of its alleles" in err


def test_serology_reduce_equals_py_ard_and_grades_by_who_antigen(tables, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(["hla", "reduce", "A2", "--to", "lgx", "--json"])
    assert code == 0 and {"A*02:03", "A*02:10"} <= set(json.loads(out)["reduced"].split("/"))
    code, out, _ = run_cli(["hla", "reduce", "HLA-A*02:01+HLA-A*01:01", "--to", "lgx"])
    assert out.strip() == "HLA-A*01:01+HLA-A*02:01"
    b62 = P.replace("B*08:01", "B*15:01")
    code, out, _ = run_cli(["grade", "--patient", b62, "--donor", b62.replace("B*15:01", "B*15:17"), "--json"])
    data = json.loads(out)
    assert data["match_6"]["bidirectional"] == 5  # B62 vs B63
    assert any("B62 vs B63" in p["reason"] for p in data["loci"]["B"]["positions"])
