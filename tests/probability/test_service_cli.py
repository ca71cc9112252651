"""Service layer (GL strings in), registry batches with the on-disk cache, and the CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cordmatch.errors import InvalidInputError
from cordmatch.probability.index import UnknownPopulationError
from cordmatch.services.probability import (
    impute_registry,
    impute_typing,
    match_probability,
    parse_population,
    score_units,
)

PATIENT = "A*01:01+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01"
UNIT = "A1+A2^B8+B7^DRB1*03:XX+DRB1*15:XX"


def test_parse_population() -> None:
    assert parse_population(" cau ") == "CAU"
    assert parse_population("CAU:0.6,his:0.4") == {"CAU": 0.6, "HIS": 0.4}
    with pytest.raises(InvalidInputError):
        parse_population("CAU:x")


def test_library_api(index, tables) -> None:  # type: ignore[no-untyped-def]
    mp = match_probability(PATIENT, UNIT, "CAU", tables=tables, index=index)
    assert 0.9 < mp.at_least_8(8) < 1.0
    d = mp.to_dict()
    assert set(d["loci"]) == {"A", "B", "C", "DRB1", "DQB1"}
    json.dumps(d)
    mix = match_probability(PATIENT, UNIT, {"CAU": 0.5, "AFA": 0.5}, tables=tables, index=index)
    assert mix.ok and mix.population == "CAU:0.5,AFA:0.5"
    with pytest.raises(UnknownPopulationError):
        impute_typing(PATIENT, "EUR", tables=tables, index=index)


def test_registry_batch_cache_and_hook(index, tables, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    units = [("U1", UNIT), ("U2", UNIT), ("U3", "A*01:01+B*08:01"), ("U4", "A2+A3^B44+B35^DRB1*04:01+DRB1*01:01")]
    first = impute_registry(units, "CAU", tables=tables, index=index, base=tmp_path)
    assert first.distinct_typings == 3 and first.cache_hits == 0
    assert list(first.problems) == ["U3"] and "typing not usable" in first.problems["U3"]
    cached = list((tmp_path / "probability").glob("posteriors-*-CAU.parquet"))
    assert len(cached) == 1
    second = impute_registry(units, "CAU", tables=tables, index=index, base=tmp_path)
    assert second.cache_hits == 2
    assert np.allclose(first.packed.probabilities, second.packed.probabilities)
    patient = impute_typing(PATIENT, "CAU", tables=tables, index=index)
    s = score_units(patient, second.packed)
    assert s.p_8_of_8[0] == pytest.approx(s.p_8_of_8[1])
    assert np.isnan(s.p_8_of_8[2]) and not s.ok[2]
    assert s.p_6_of_6[3] == 0.0
    direct = match_probability(PATIENT, UNIT, "CAU", tables=tables, index=index)
    assert s.p_8_of_8[0] == pytest.approx(direct.at_least_8(8))


def test_cli_impute_and_match_probability(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(["impute", "--typing", UNIT, "--population", "CAU", "--top", "2", "--json"])
    assert code == 0
    data = json.loads(out)
    assert data["estimate"] and len(data["genotypes"]) == 2
    code, out, _ = run_cli(
        ["match-probability", "--patient", PATIENT, "--donor", UNIT, "--population", "CAU", "--json"]
    )
    assert code == 0 and 0.9 < json.loads(out)["p_8_of_8"] < 1.0
    code, out, _ = run_cli(["match-probability", "--patient", PATIENT, "--donor", UNIT, "--population", "CAU"])
    assert code == 0 and "P(8/8)" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["impute", "--typing", PATIENT, "--population", "XYZ"], "unknown population"),
        (
            ["impute", "--typing", "A*01:01+B*08:01", "--population", "CAU"],
            "--typing: A*01:01 + B*08:01: the two sides of",
        ),
        (["impute", "--typing", "A*01:01+A*01:01^C*01:02+C*01:02", "--population", "CAU_TOY"], "no estimate"),
        (["match-probability", "--patient", PATIENT, "--donor", "A*01:01", "--population", "CAU"], "--donor"),
    ],
)
def test_cli_bad_input_exit_2_one_line(args: list[str], words: str, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = run_cli(args)
    assert code == 2
    assert words in err
    assert "Traceback" not in err


def test_cli_malformed_frequency_file_names_line_and_field(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "f.csv"
    bad.write_text("Haplo,Freq\nA*01:01~C*07:01~B*08:01~DRB1*03:01~DQB1*02:01,0.5\nA*01:01~C*07:01,0.5\n")
    code, _out, err = run_cli(["impute", "--typing", PATIENT, "--population", "X", "--frequencies", str(bad)])
    assert code == 2
    assert "f.csv:3 field Haplo" in err.replace("\n", "")


def test_cli_impute_registry(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    units = tmp_path / "units.csv"
    units.write_text(f"unit_id,typing\nU1,{UNIT}\nU2,A*01:01+B*08:01\n")
    out = tmp_path / "scores.csv"
    code, _o, err = run_cli(
        [
            "impute-registry",
            "--units",
            str(units),
            "--population",
            "CAU",
            "--patient",
            PATIENT,
            "--output",
            str(out),
            "--no-cache",
        ],
    )
    assert code == 0, err
    rows = out.read_text().splitlines()
    assert rows[0].startswith("unit_id,genotypes,estimate,p_8_of_8")
    assert rows[1].startswith("U1,") and rows[2].startswith("U2,0,False")
