"""Settings: every threshold carries a source label; overrides by TOML text and name=value."""

from __future__ import annotations

import pytest

from cordmatch.errors import InvalidInputError
from cordmatch.selection.crossmatch import parse_antibodies
from cordmatch.selection.settings import default_settings, parse_assignments, settings_from_toml


def test_defaults_have_values_units_and_labels() -> None:
    s = default_settings()
    expected = {
        "single_tnc_min": (3.0, "Dehn 2019"),
        "single_cd34_min": (1.5, "Dehn 2019"),
        "single_tnc_min_malignant": (2.5, "Eurocord"),
        "single_tnc_min_nonmalignant": (5.0, "Eurocord"),
        "double_each_tnc_min": (1.5, "Eurocord, Dehn 2019"),
        "double_combined_tnc_min": (3.5, "Sanz 2020"),
        "prefilter_tnc_min": (1.5, "NMDP-algo"),
        "prefilter_match_8_min": (4, "NMDP-algo"),
    }
    for name, (value, source) in expected.items():
        assert s.value(name) == value and s[name].source == source and s[name].status == "V"
    assert s["dsa_mfi"].status == "U"
    assert set(s.policies) == {"nmdp", "dose-first", "eurocord"}


def test_toml_override_and_assignments() -> None:
    s = settings_from_toml("[thresholds.dsa_mfi]\nvalue = 3000\nsource = 'our centre SOP'\nstatus = 'U'\n")
    assert s.value("dsa_mfi") == 3000 and s["dsa_mfi"].source == "our centre SOP"
    assert s.value("single_tnc_min") == 3.0
    s2 = s.with_values(parse_assignments(["single_tnc_min=2.5"]), "--set")
    assert s2.value("single_tnc_min") == 2.5 and "--set" in s2["single_tnc_min"].source
    with pytest.raises(InvalidInputError, match="not valid TOML"):
        settings_from_toml("[thresholds\n")
    with pytest.raises(InvalidInputError, match="number"):
        settings_from_toml("[thresholds.dsa_mfi]\nvalue = 'high'\n")
    with pytest.raises(InvalidInputError, match="unknown threshold"):
        s.with_values({"nope": 1.0})
    with pytest.raises(InvalidInputError, match="name=value"):
        parse_assignments(["single_tnc_min"])


def test_unknown_policy_names_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match="dose-first, eurocord, nmdp"):
        default_settings().policy("fastest")


def test_antibody_file_errors_name_line_and_field() -> None:
    abs_ = parse_antibodies("specificity,mfi\n# comment\nA*02:01,2500\nB44 7000\n\nDR4;1200\n")
    assert [(a.specificity, a.mfi, a.line) for a in abs_] == [("A*02:01", 2500, 3), ("B44", 7000, 4), ("DR4", 1200, 6)]
    with pytest.raises(InvalidInputError, match=r"field MFI.*\(at ab.txt line 2\)"):
        parse_antibodies("A*02:01,100\nB*44:02,lots\n", "ab.txt")
    with pytest.raises(InvalidInputError, match=r"field specificity.*line 1"):
        parse_antibodies("A-02,100\n", "ab.txt")
    with pytest.raises(InvalidInputError, match=r"expected 2 fields.*line 1"):
        parse_antibodies("A*02:01\n", "ab.txt")
    with pytest.raises(InvalidInputError, match=r"must be >= 0"):
        parse_antibodies("A*02:01,-5\n", "ab.txt")
