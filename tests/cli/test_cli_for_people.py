"""CLI output for people: numbers with units and no float noise, the [V]/[U] legend, ids that never wrap
in an 80-column terminal, per-locus GvH/HvG counts on a row of their own, and the report/label files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from web.conftest import demo_din

P = "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"
D = "A*02:05+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"
TOOLS = ("pdftotext", "pdftoppm", "zbarimg")


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> None:
    """An 80-column terminal for the CLI's consoles."""
    from cordmatch.cli import common

    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(common.console, "_width", 80)


@pytest.fixture
def demo_db(tmp_path: Path, seeded_db: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    from cordmatch.services.bank_demo import DEMO_PASSWORD

    db = tmp_path / "demo.sqlite3"
    shutil.copyfile(seeded_db, db)
    monkeypatch.setenv("CORDMATCH_PASSWORD", DEMO_PASSWORD)
    monkeypatch.delenv("CORDMATCH_TOKEN", raising=False)
    return str(db)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, tables: Any) -> str:
    """A small generated registry (Parquet)."""
    from cordmatch.services.registry import write_registry
    from cordmatch.sim.registry import generate_registry

    path = tmp_path_factory.mktemp("reg") / "registry.parquet"
    write_registry(str(path), generate_registry(1500, 3, "mix", tables), tables.release)
    return str(path)


def _lines(out: str) -> list[str]:
    return out.splitlines()


def test_unit_show_writes_numbers_for_people(run_cli: Any, demo_db: str, narrow: None) -> None:
    code, out, err = run_cli(["bank", "unit", "show", demo_din(1), "--db", demo_db, "--user", "tech"])
    assert code == 0, err
    assert "TNC (cells)" in out and "1.05 x10^9" in out and "3.88 x10^6" in out and "74 mL" in out and "81 %" in out
    assert not re.search(r"\d\.\d{6,}|e\+0\d|None|\{'", out), out
    assert all(len(line) <= 80 for line in _lines(out))


def test_unit_list_has_no_float_noise(run_cli: Any, demo_db: str, narrow: None) -> None:
    code, out, _ = run_cli(["bank", "unit", "list", "--db", demo_db, "--user", "tech"])
    assert code == 0 and "e+0" not in out and "x10^9" in out
    assert demo_din(1) in out.replace("│", " ")  # the DIN on one line


def test_release_checklist_has_a_legend(run_cli: Any, demo_db: str, narrow: None) -> None:
    code, out, _ = run_cli(["bank", "release", demo_din(6), "--check", "--db", demo_db, "--user", "director"])
    assert code == 0 and "[V] seen in a cited source" in out and "[U] unverified" in out
    assert "900000000" not in out and "9 x10^8" in out


def test_grade_prints_counts_on_one_row_per_locus(run_cli: Any, tables: Any, narrow: None) -> None:
    code, out, _ = run_cli(["grade", "--patient", P, "--donor", D])
    assert code == 0
    rows = [line.split("│")[4].strip() for line in _lines(out) if "mismatches:" in line]
    assert [r.split(":")[0] for r in rows] == ["A mismatches", "B mismatches", "C mismatches", "DRB1 mismatches"]
    assert all(line.split("│")[1].strip() == "" for line in _lines(out) if "mismatches:" in line)
    assert "allele GvH 1, HvG" in out.replace("│", " ").replace("\n", " ")
    assert all(len(line) <= 80 for line in _lines(out))


def _ids_whole(out: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, out))


def test_search_ids_never_wrap_in_80_columns(run_cli: Any, registry: str, narrow: None) -> None:
    code, out, err = run_cli(["search", "--db", registry, "--patient", P, "--weight", "18", "--top", "8",
                              "--malignant", "--abo", "A"])  # fmt: skip
    assert code == 0, err
    table = [line for line in _lines(out) if line.startswith("│")]
    ids = [line.split("│")[2].strip() for line in table if line.split("│")[1].strip().isdigit()]
    assert len(ids) == 8 and all(re.fullmatch(r"CB\d{10}|[A-Z]\d{12}", i) for i in ids), ids  # whole ids or DINs
    assert all(len(line) <= 80 for line in _lines(out))
    assert "sources: [V] seen in a cited source" in out.replace("\n", " ")


def test_demo_ids_never_wrap_in_80_columns(run_cli: Any, tables: Any, narrow: None) -> None:
    code, out, _ = run_cli(["demo", "--grading-only"])
    assert code == 0
    cells = [line.split("│")[1].strip() for line in _lines(out) if line.startswith("│")]
    ids = [c for c in cells if c.startswith("CBU-")]
    assert ids and all(re.fullmatch(r"CBU-\d{4}", i) for i in ids), ids


def _tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"MISSING DEBIAN TOOLS {', '.join(missing)}: apt-get install poppler-utils zbar-tools")


def test_search_report_file(run_cli: Any, registry: str, tmp_path: Path) -> None:
    _tools()
    import subprocess

    pdf = tmp_path / "report.pdf"
    code, _, err = run_cli(["search", "--db", registry, "--patient", P, "--weight", "18", "--top", "3",
                            "--report", str(pdf), "--patient-ref", "P-7"])  # fmt: skip
    assert code == 0, err
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "P-7" in text and "Thresholds in force" in text and registry in text.replace("\n", "")
    html = tmp_path / "report.html"
    assert run_cli(["search", "--db", registry, "--patient", P, "--weight", "18", "--report", str(html)])[0] == 0
    assert "Thresholds in force" in html.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("target", "needle"), [("report.txt", ".pdf or .html"), ("missing/report.pdf", "does not exist")]
)
def test_bad_report_file_is_named_before_searching(run_cli: Any, registry: str, tmp_path: Path, target: str,
                                                   needle: str) -> None:  # fmt: skip
    code, _, err = run_cli(["search", "--db", registry, "--patient", P, "--weight", "18",
                              "--report", str(tmp_path / target)])  # fmt: skip
    assert code == 2 and needle in err and "Traceback" not in err
    assert not (tmp_path / target).exists()


def test_unit_report_and_label_files(run_cli: Any, demo_db: str, tmp_path: Path) -> None:
    _tools()
    import subprocess

    from cordmatch.bank.din import check_flag

    din = demo_din(2)
    pdf = tmp_path / "unit.pdf"
    code, _, err = run_cli(["bank", "unit", "report", din, "--out", str(pdf), "--db", demo_db, "--user", "coord"])
    assert code == 0, err
    assert "QC release checklist" in subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                                    check=True).stdout  # fmt: skip
    label = tmp_path / "label.pdf"
    code, _, err = run_cli(["bank", "unit", "label", din, "--out", str(label), "--db", demo_db, "--user", "tech"])
    assert code == 0, err
    subprocess.run(["pdftoppm", "-png", "-r", "300", "-singlefile", str(label), str(tmp_path / "label")], check=True)
    decoded = subprocess.run(["zbarimg", "--quiet", "--raw", str(tmp_path / "label.png")], capture_output=True,
                             text=True).stdout.split()  # fmt: skip
    dates = {b for b in decoded if b[:3] == "=*0" and len(b) == 8 and b[2:].isdigit()}  # =* + cyyjjj
    assert len(dates) == 1  # demo unit 2 is B RhD positive (ISBT 128 Table 4: 73)
    assert set(decoded) - dates == {f"={din}{check_flag(din)}", "=<Z0001V00", "=%7300"}
    svg = tmp_path / "label.svg"
    assert run_cli(["bank", "unit", "label", din, "--out", str(svg), "--db", demo_db, "--user", "tech"])[0] == 0
    assert b"<svg" in svg.read_bytes()


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["label", "{din}", "--out", "{tmp}/l.png"], ".pdf or .svg"),
     (["label", "{din}", "--out", "{tmp}/l.pdf", "--user", "coord"], "bank staff"),
     (["report", "{din}", "--out", "{tmp}/nowhere/r.pdf"], "does not exist"),
     (["report", "G123498654321X", "--out", "{tmp}/r.pdf"], "wrong check character")],
)  # fmt: skip
def test_bad_report_and_label_requests(run_cli: Any, demo_db: str, tmp_path: Path, args: list[str],
                                       needle: str) -> None:  # fmt: skip
    argv = [a.format(din=demo_din(1), tmp=tmp_path) for a in args]
    if "--user" not in argv:
        argv += ["--user", "tech"]
    code, out, err = run_cli(["bank", "unit", *argv, "--db", demo_db])
    assert code == 2 and needle in err and "Traceback" not in err + out
    assert not list(tmp_path.glob("*.pdf")) and not list(tmp_path.glob("*.png"))
