"""impute-registry on Dask (one partition per task) writes the same rows as the single-process path."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from cordmatch.cli.main import main
from cordmatch.imgt import default_nomenclature
from cordmatch.io.partitions import read_manifest, read_table, write_partitions
from cordmatch.scale.impute import impute_distributed, impute_rows, warm_workers
from cordmatch.sim.registry import generate_registry

PATIENT = "A*02:01+A*01:01^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*15:01+DRB1*03:01"


def test_distributed_rows_equal_single_process(client: Any, tmp_path: Path) -> None:
    tables = default_nomenclature()
    reg = tmp_path / "reg"
    write_partitions(reg, generate_registry(240, 5, "CAU", tables), tables.release, 240, 3)
    table = read_table(reg)
    units = list(zip(table.column("unit_id").to_pylist(), table.column("hla").to_pylist(), strict=True))
    ref = impute_rows(units, "CAU", PATIENT)
    assert warm_workers(client) is None  # every worker loads its haplotype index (nothing sent back)
    got = impute_distributed(client, read_manifest(reg), "CAU", PATIENT)
    assert [r for g in got for r in g.rows] == ref.rows
    assert sum(g.problems for g in got) == ref.problems
    assert any(r[3] not in ("", "0.000000") for r in ref.rows)  # some unit has a chance of 8/8


def test_cli_registry_and_units_write_the_same_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tables = default_nomenclature()
    reg = tmp_path / "reg"
    write_partitions(reg, generate_registry(90, 6, "CAU", tables), tables.release, 90, 2)
    table = read_table(reg)
    units_csv = tmp_path / "units.csv"
    with units_csv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["unit_id", "typing"])
        w.writerows(zip(table.column("unit_id").to_pylist(), table.column("hla").to_pylist(), strict=True))
    outs = []
    for source in (["--units", str(units_csv)], ["--registry", str(reg), "--workers", "1"]):
        out = tmp_path / f"out{len(outs)}.csv"
        with pytest.raises(SystemExit) as exc:
            main(["impute-registry", "--population", "CAU", *source, "--no-cache", "--output", str(out)])
        assert (exc.value.code or 0) == 0, capsys.readouterr().err
        outs.append(out.read_text(encoding="utf-8"))
    assert outs[0] == outs[1] and outs[0].count("\n") == 91
    with pytest.raises(SystemExit) as exc:
        main(["impute-registry", "--population", "CAU", "--registry", str(tmp_path), "--no-cache"])
    assert exc.value.code == 2
    assert "not a partitioned registry" in " ".join(capsys.readouterr().err.split())
