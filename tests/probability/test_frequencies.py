"""Parsing and validating haplotype frequency files (pure) and loading the shipped sets (adapter)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cordmatch.errors import NotFoundError
from cordmatch.probability.frequencies import FrequencyFileError, parse_frequency_lines, parse_metadata
from cordmatch.probability.index import UnknownPopulationError

HEADER = "Haplo,Count,Freq"
H1 = "A*01:01~C*07:01~B*08:01~DRB1*03:01~DQB1*02:01"
H2 = "A*02:01~C*07:02~B*07:02~DRB1*15:01~DQB1*06:02"


def test_parses_nmdp_form_and_strips_g_suffix() -> None:
    p = parse_frequency_lines([HEADER, f"{H1},10,0.6", f"{H2.replace('A*02:01', 'A*02:01g')},5,0.4"])
    assert p.haplotypes[1][0] == "A*02:01"
    assert p.frequencies == [0.6, 0.4]
    assert p.lines == [2, 3]
    assert p.warnings == []


def test_recognises_lowercase_headers_of_the_toy_file() -> None:
    p = parse_frequency_lines(["haplotype,frequency", f"{H1},1.0"])
    assert p.haplotypes == [tuple(H1.split("~"))]


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        (f"{H1},1,abc", "Freq", "not a number"),
        (f"{H1},1,-0.1", "Freq", "outside [0, 1]"),
        (f"{H1},1,1.5", "Freq", "outside [0, 1]"),
        (f"{H1},1,nan", "Freq", "outside [0, 1]"),
        ("A*01:01~C*07:01~B*08:01~DRB1*03:01,1,0.5", "Haplo", "has 4 loci, expected 5"),
        ("C*07:01~A*01:01~B*08:01~DRB1*03:01~DQB1*02:01,1,0.5", "Haplo", "expected A"),
        ("A*01:01~C*07:01~B*08:01~DRB1*03:01~0201,1,0.5", "Haplo", "not an allele name"),
    ],
)
def test_bad_line_names_line_and_field(line: str, field: str, words: str) -> None:
    with pytest.raises(FrequencyFileError) as exc:
        parse_frequency_lines([HEADER, f"{H2},1,0.5", line], source="set.csv")
    assert exc.value.where == f"set.csv:3 field {field}"
    assert words in exc.value.message


def test_wrong_number_of_fields_and_duplicates() -> None:
    with pytest.raises(FrequencyFileError, match="expected 3 fields") as exc:
        parse_frequency_lines([HEADER, f"{H1},1"], source="s.csv")
    assert exc.value.where == "s.csv:2"
    with pytest.raises(FrequencyFileError, match="listed twice") as exc2:
        parse_frequency_lines([HEADER, f"{H1},1,0.5", f"{H1},1,0.5"], source="s.csv")
    assert exc2.value.where == "s.csv:3 field Haplo"


def test_sum_rules_silent_warning_error() -> None:
    assert parse_frequency_lines([HEADER, f"{H1},1,0.5", f"{H2},1,0.496"]).warnings == []
    warned = parse_frequency_lines([HEADER, f"{H1},1,0.5", f"{H2},1,0.47"], source="w.csv")
    assert warned.warnings and "renormalised" in warned.warnings[0]
    with pytest.raises(FrequencyFileError, match=r"sum to 0\.8"):
        parse_frequency_lines([HEADER, f"{H1},1,0.5", f"{H2},1,0.3"])


def test_missing_header_columns_and_empty_file() -> None:
    with pytest.raises(FrequencyFileError, match="no frequency column") as exc:
        parse_frequency_lines(["Haplo,Count", f"{H1},1"], source="x.csv")
    assert exc.value.where == "x.csv:1"
    with pytest.raises(FrequencyFileError, match="empty"):
        parse_frequency_lines([])
    with pytest.raises(FrequencyFileError, match="no haplotypes"):
        parse_frequency_lines([HEADER])


def test_metadata_fields_and_errors() -> None:
    doc = {
        "metadata": {
            "cohortDescription": {"population": [{"name": "XYZ"}], "cohortSize": 10},
            "frequencyFileHeader": {"haplotype": "H", "frequency": "F"},
            "nomenclatureUsed": {"version": "2.16.0"},
        }
    }
    meta = parse_metadata(json.dumps(doc))
    assert (meta.population, meta.haplotype_field, meta.frequency_field) == ("XYZ", "H", "F")
    assert meta.nomenclature_version == "2.16.0"
    with pytest.raises(FrequencyFileError, match="not valid JSON"):
        parse_metadata("{", source="m.json")
    with pytest.raises(FrequencyFileError, match="names no population"):
        parse_metadata(json.dumps({"metadata": {}}), source="m.json")


def test_shipped_sets_are_mapped_and_old_names_reported(index) -> None:  # type: ignore[no-untyped-def]
    assert index.populations == ("AFA", "API", "CAU", "HIS")
    assert index.codes.shape[1] == 5
    assert abs(index.frequencies.sum(axis=0) - 1).max() < 1e-9
    his = index.reports["HIS"]
    assert his.unknown_names == ["C*15:20"]  # renamed since IMGT/HLA 2.16.0; not in 3.58.0
    assert his.dropped_haplotypes == 1 and his.warnings
    assert index.reports["CAU"].haplotypes_kept == 3394
    # every code names a current lgx
    assert all(index.code_name(int(c)).split("*")[0] in {"A", "B", "C", "DRB1", "DQB1"} for c in index.codes[:50, 0])


def test_collapse_of_haplotypes_with_the_same_current_codes(tables) -> None:  # type: ignore[no-untyped-def]
    from cordmatch.probability.index import build_index

    # DRB1*14:01 and DRB1*14:54 share the P group DRB1*14:01P (lgx DRB1*14:01): one haplotype.
    lines = [
        "Haplo,Freq",
        "A*01:01~C*07:01~B*08:01~DRB1*14:01~DQB1*02:01,0.25",
        "A*01:01~C*07:01~B*08:01~DRB1*14:54~DQB1*02:01,0.25",
        f"{H2},0.5",
    ]
    idx = build_index([("P", parse_frequency_lines(lines))], tables)
    assert idx.size == 2
    assert idx.reports["P"].collapsed_haplotypes == 1
    assert idx.reports["P"].renamed == {"DRB1*14:54": "DRB1*14:01"}
    assert sorted(idx.frequencies[:, 0].tolist()) == [0.5, 0.5]


def test_user_supplied_set_and_unknown_population(tables, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cordmatch.io.frequency_sets import load_index, shipped_files

    csv = tmp_path / "mine.csv"
    csv.write_text(f"Haplo,Freq\n{H1},0.7\n{H2},0.3\n", encoding="utf-8")
    meta = tmp_path / "mine.json"
    meta.write_text(json.dumps({"metadata": {"cohortDescription": {"population": [{"name": "Mine"}]}}}))
    idx = load_index([(csv, meta)], tables, base=tmp_path)
    assert idx.populations == ("MINE",)
    assert (tmp_path / "probability").is_dir()
    with pytest.raises(UnknownPopulationError, match="unknown population 'CAU'"):
        idx.population_weights("CAU")
    with pytest.raises(UnknownPopulationError):
        shipped_files("martian")
    bad = tmp_path / "bad.csv"
    bad.write_text(f"Haplo,Freq\n{H1},0.7\n{H2},x\n", encoding="utf-8")
    with pytest.raises(FrequencyFileError) as exc:
        load_index([(bad, meta)], tables, base=tmp_path)
    assert exc.value.where == "bad.csv:3 field Freq"
    with pytest.raises(NotFoundError):
        load_index([(tmp_path / "nope.csv", meta)], tables, base=tmp_path)


def test_toy_subset_loads(tables, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from cordmatch.io.frequency_sets import load_index

    idx = load_index(tables=tables, populations=["CAU_TOY"], base=tmp_path)
    assert idx.populations == ("CAU_TOY",)
    assert 90 <= idx.size <= 100
