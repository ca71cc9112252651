"""search-batch on a LocalCluster of 2 workers gives exactly the single-process answers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from cordmatch.errors import InvalidInputError
from cordmatch.imgt import default_nomenclature
from cordmatch.io.partitions import partition_sizes, read_manifest, write_partitions
from cordmatch.scale.search_batch import load_patients, search_batch, search_local
from cordmatch.services.registry import export_store, write_registry
from cordmatch.sim.patients import generate_patients
from cordmatch.sim.registry import generate_registry

TODAY = dt.date(2026, 11, 29)


def _patients_file(path: Path, n: int, seed: int) -> Path:
    """Generated patients; antibody names the release does not know are left out (a sim patients issue)."""
    tables = default_nomenclature()
    lines = []
    for p in generate_patients(n, seed, "mix", tables):
        row = p.to_dict()
        known = []
        for a in row["antibodies"]:
            try:
                tables.member_ids(a["specificity"])
                known.append(a)
            except InvalidInputError:
                pass
        row["antibodies"] = known
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert json.dumps(x, sort_keys=True, default=str) == json.dumps(y, sort_keys=True, default=str), x["patient_id"]


def test_partition_sizes() -> None:
    assert partition_sizes(10, 3) == [4, 3, 3]
    assert partition_sizes(2, 4) == [1, 1, 0, 0]
    with pytest.raises(InvalidInputError, match="partitions"):
        partition_sizes(10, 0)


def test_batch_equals_single_process(client: Any, tmp_path: Path) -> None:
    tables = default_nomenclature()
    reg = tmp_path / "reg"
    write_partitions(reg, generate_registry(2500, 21, "mix", tables), tables.release, 2500, 3)
    patients = load_patients(_patients_file(tmp_path / "p.jsonl", 16, 4))
    parts = read_manifest(reg)
    assert [p.units for p in parts] == [834, 833, 833]
    ref = search_local(str(reg), patients, top=5, today=TODAY)
    got = search_batch(client, parts, patients, top=5, today=TODAY, batch_size=5)
    _same(ref, got)
    heavy = [type(p)(p.patient_id, type(p.request)(**{**p.request.__dict__, "weight_kg": 140.0})) for p in patients[:4]]
    _same(search_local(str(reg), heavy, top=3, today=TODAY), search_batch(client, parts, heavy, top=3, today=TODAY))
    assert any(
        r["double_units"] or "double" in " ".join(r["notes"]) for r in search_local(str(reg), heavy, top=3, today=TODAY)
    )


def test_export_of_a_store_searches_like_the_store(client: Any, tmp_path: Path) -> None:
    tables = default_nomenclature()
    db = str(tmp_path / "bank.sqlite3")
    write_registry(db, generate_registry(900, 8, "mix", tables), tables.release)
    reg = tmp_path / "exported"
    assert export_store(db, reg, 2, tables) == 900
    patients = load_patients(_patients_file(tmp_path / "p.jsonl", 6, 9))
    from_store = search_local(db, patients, top=4, today=TODAY)
    _same(from_store, search_local(str(reg), patients, top=4, today=TODAY))
    _same(from_store, search_batch(client, read_manifest(reg), patients, top=4, today=TODAY))


def test_bad_inputs_are_clear(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not a partitioned registry"):
        read_manifest(tmp_path)
    bad = tmp_path / "p.jsonl"
    good = "A*02:01+A*01:01^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01"
    bad.write_text(f'{{"hla": "{good}", "weight_kg": 20}}\n{{"hla": "A*99:99+A*01:01", "weight_kg": 20}}\n')
    with pytest.raises(InvalidInputError, match="patient 2") as exc:
        load_patients(bad)
    assert exc.value.where is not None and "p.jsonl:2" in exc.value.where
    bad.write_text("not json\n")
    with pytest.raises(InvalidInputError, match="line 1"):
        load_patients(bad)


def test_a_batch_patient_travels_as_its_request(tmp_path: Path) -> None:
    """A task's graph carries each patient's request, not its parsed typing (which holds the nomenclature tables);
    the worker builds the same patient again."""
    import pickle

    from cordmatch.bootstrap import worker_tables

    patients = load_patients(_patients_file(tmp_path / "p.jsonl", 3, 4))
    for bp in patients:
        sent = pickle.dumps(bp)
        assert len(sent) < 4096
        back = pickle.loads(sent)
        assert back.patient is None and back.request == bp.request and back.patient_id == bp.patient_id
        patient, notes = back.built(worker_tables())
        assert repr(patient) == repr(bp.patient) and notes == list(bp.notes)  # the typing's repr leaves out its tables
