"""The scale commands from the command line: sim registry --partitions, search-batch, export-registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cordmatch.cli.main import main

PATIENTS = [
    {"patient_id": "child", "hla": "A*02:01+A*01:01^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*15:01+DRB1*03:01",
     "weight_kg": 22.0, "malignant": True, "abo": "A", "antibodies": [{"specificity": "A*24:02", "mfi": 6000}]},
    {"patient_id": "adult", "hla": "A*03:01+A*11:01^B*35:01+B*44:02^C*04:01+C*05:01^DRB1*04:01+DRB1*01:01",
     "weight_kg": 80.0, "malignant": False},
]  # fmt: skip


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, " ".join(out.err.split())


def test_partitions_search_batch_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reg = tmp_path / "reg"
    code, _, err = run(["sim", "registry", "--units", "600", "--seed", "3", "--db", str(reg), "--partitions", "2"],
                       capsys)  # fmt: skip
    assert code == 0, err
    patients = tmp_path / "patients.jsonl"
    patients.write_text("".join(json.dumps(p) + "\n" for p in PATIENTS), encoding="utf-8")
    outs = []
    for extra in (["--workers", "1"], ["--local"]):
        out = tmp_path / f"out{len(outs)}.jsonl"
        code, _, err = run(["search-batch", "--db", str(reg), "--patients", str(patients), "--top", "3",
                            "--out", str(out), *extra], capsys)  # fmt: skip
        assert code == 0, err
        outs.append(out.read_text(encoding="utf-8"))
    assert outs[0] == outs[1]
    rows = [json.loads(line) for line in outs[0].splitlines()]
    assert [r["patient_id"] for r in rows] == ["child", "adult"] and rows[0]["counts"]["units"] == 600
    db = tmp_path / "bank.sqlite3"
    assert run(["sim", "registry", "--units", "300", "--seed", "4", "--db", str(db)], capsys)[0] == 0
    code, out, err = run(["export-registry", "--db", str(db), "--out", str(tmp_path / "exp"), "--partitions", "3"],
                         capsys)  # fmt: skip
    assert code == 0, err
    assert "exported 300 listed units" in " ".join(out.split())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sim", "registry", "--units", "10", "--db", "{tmp}/x", "--partitions", "-1"], "--partitions"),
        (["search-batch", "--db", "{tmp}", "--patients", "{tmp}/p.jsonl", "--local"], "not a partitioned registry"),
        (["search-batch", "--db", "{tmp}", "--patients", "{tmp}/p.jsonl", "--policy", "bogus"], "(at --policy)"),
        (["export-registry", "--db", "{tmp}/b.sqlite3", "--out", "{tmp}/o", "--partitions", "0"], "between 1"),
    ],
)
def test_bad_input_exits_2(argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert code == 2 and message in err and "Traceback" not in err
