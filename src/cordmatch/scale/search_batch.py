"""Many patients against a partitioned registry on dask.distributed, with the single-process answers.

Two stages, per batch of patients:
1. one task per partition (pinned to one worker, which keeps that partition's search index in memory between
   tasks): each patient is graded and filtered in the partition (vectorised) and the task returns, per
   patient, the partition's candidates (its ``want`` best units passing the filters, its best double-unit
   candidates, one unit reaching the single-unit dose, and its first unit so that the merged registry is
   never empty) as Parquet rows, with the counts;
2. one merge task per batch: per patient, the candidates of all partitions (in registry order) form a small
   registry that the ordinary search ranks (exact grades and checks run once, as in one process); the
   counts are the partitions' sums, less the units the exact checks dropped. When a partition that was not
   exhausted had all its candidates above the last unit listed, it may hold more: that patient goes round
   again with four times ``want``.

Why the merge is exact: a unit's rank keys and checks depend only on the unit and the patient, and the
registry-wide top units, the double-unit candidates and the single-dose question are each decided by units
that are among their own partition's candidates; adding other units of the registry changes none of them.
Tie-breaks follow registry order, which partition order keeps (:mod:`cordmatch.io.partitions`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cordmatch.bootstrap import worker_tables
from cordmatch.errors import InvalidInputError
from cordmatch.io.partitions import Partition
from cordmatch.selection.model import Patient, SearchOutcome
from cordmatch.selection.settings import SelectionSettings
from cordmatch.services.search import SearchRequest

#: Batches of patients per worker: the last batch's merge runs on one worker while the others wait, and a merge
#: costs about as much CPU per patient as the partitions' stage 1 (measured at 100,000 units), so batches are
#: kept small; a task's fixed cost is a few milliseconds.
BATCHES_PER_WORKER = 8

#: Counts that are sums over partitions.
SUMMED = ("units", "passing_filters", "graded_exactly", "meeting_single_unit_dose", "double_only")


@dataclass(frozen=True)
class BatchPatient:
    """A patient of a batch: the request as the coordinator's file states it and, when the file was read, the
    patient built from it once (typing parsed, antibodies read) with the service's notes on it."""

    patient_id: str
    request: SearchRequest
    patient: Patient | None = None
    notes: tuple[str, ...] = ()

    def built(self, tables: Any) -> tuple[Patient, list[str]]:
        """The patient and the service's notes (built from the request when not built yet, once per process)."""
        if self.patient is not None:
            return self.patient, list(self.notes)
        patient, notes = _built_patient(self.request, tables)
        return patient, list(notes)

    def __reduce__(self) -> tuple[Any, tuple[str, SearchRequest]]:
        """Sent to a worker as its request only: a built patient's typing holds the nomenclature tables (about
        18 MB pickled), which every task would carry; the worker builds the patient again with its own tables."""
        return (BatchPatient, (self.patient_id, self.request))


_patients_built: dict[tuple[int, SearchRequest], tuple[Patient, tuple[str, ...]]] = {}
_patients_lock = threading.Lock()
#: Most built patients a worker process keeps (each a few kB; the nomenclature tables are shared).
MAX_BUILT_PATIENTS = 20_000


def _built_patient(req: SearchRequest, tables: Any) -> tuple[Patient, tuple[str, ...]]:
    """The patient of ``req`` and the service's notes, built once per process and tables object (a kept patient
    holds its tables, so their id is not reused while the entry lives)."""
    from cordmatch.services.search import build_patient

    key = (id(tables), req)
    with _patients_lock:
        hit = _patients_built.get(key)
    if hit is None:
        patient, notes = build_patient(req, tables)
        hit = (patient, tuple(notes))
        with _patients_lock:
            if len(_patients_built) >= MAX_BUILT_PATIENTS:
                _patients_built.clear()
            _patients_built[key] = hit
    return hit


@dataclass
class PartitionHits:
    """One patient's candidates in one partition: Parquet rows (pyarrow Table, in partition order), which of
    them are the partition's best ``ranked`` units (row positions in ``rows``), whether those are all the
    units passing its filters (``exhausted``), and its counts (before the exact checks)."""

    rows: Any
    ranked: list[int]
    exhausted: bool
    counts: dict[str, int]


# --------------------------------------------------------------------------- worker side
_held: dict[tuple[str, float, str], tuple[Any, Any, Any]] = {}
_held_lock = threading.Lock()


def partition_index(path: str) -> tuple[Any, Any, Any]:
    """(index, source, table) of a partition, built once per worker process and kept."""
    import pyarrow.parquet as pq

    from cordmatch.io.parquet_registry import index_from_table

    tables = worker_tables()
    key = (path, os.stat(path).st_mtime, tables.release)
    with _held_lock:
        hit = _held.get(key)
    if hit is None:
        table = pq.read_table(path)
        index, source = index_from_table(table, tables) if table.num_rows else (None, None)
        hit = (index, source, table)
        with _held_lock:
            for old in [k for k in _held if k[0] == path]:
                del _held[old]
            _held[key] = hit
    return hit


def search_partition(
    path: str, patients: Sequence[BatchPatient], want: int, settings: SelectionSettings | None, today: dt.date
) -> list[PartitionHits]:
    """Stage 1 (a worker): every patient's candidates in one partition: its final top units (the exact checks
    and the ranking of unresolved typings by their probable match, as one process does), every unit those
    checks dropped, its best double-unit candidates, and its first unit (so the merge is never empty)."""
    from cordmatch.selection.doubles import DOUBLE_CANDIDATES, double_mask
    from cordmatch.selection.search import final_units, prepare, top_slots
    from cordmatch.services.search import probability_grader

    tables = worker_tables()
    index, source, table = partition_index(path)
    out: list[PartitionHits] = []
    for bp in patients:
        if index is None:
            out.append(PartitionHits(table.slice(0, 0), [], True, dict.fromkeys(SUMMED, 0)))
            continue
        req = bp.request
        ctx = prepare(index, bp.built(tables)[0], tables, policy=req.policy, settings=settings, today=today)
        before = ctx.mask.copy()
        kept = final_units(ctx, max(want // 2, 1), source, tables, probability_grader(req.population, tables))
        n = index.n
        wanted = np.asarray([r.unit.unit_id for r in kept], dtype=np.bytes_)
        kept_slots = np.flatnonzero(np.isin(index.ids[:n], wanted)) if len(wanted) else np.zeros(0, np.int64)
        dropped = np.flatnonzero(before & ~ctx.mask)
        doubles = top_slots(ctx, DOUBLE_CANDIDATES, double_mask(ctx))
        rows = sorted({0, *kept_slots.tolist(), *dropped.tolist(), *doubles.tolist()})
        counts = {
            "units": len(index),
            "passing_filters": int(np.count_nonzero(ctx.mask)),
            "graded_exactly": len(ctx.exact_grades),
            "meeting_single_unit_dose": int(np.count_nonzero(ctx.mask)),
            "double_only": int(np.count_nonzero(ctx.acceptable & ~ctx.mask)),
        }
        out.append(PartitionHits(table.take(np.array(rows, dtype=np.int64)), [], True, counts))
    return out


def merge_batch(
    patients: Sequence[BatchPatient],
    hits: Sequence[list[PartitionHits]],
    top: int,
    settings: SelectionSettings | None,
    today: dt.date,
) -> list[dict[str, Any] | None]:
    """Stage 2 (a worker): per patient, rank the candidates of all partitions: the JSON-ready outcome, or None
    when some partition may hold a better unit than its candidates showed (then ask it for more)."""
    tables = worker_tables()
    results: list[dict[str, Any] | None] = []
    for k, bp in enumerate(patients):
        outcome = rank_candidates(bp, [h[k] for h in hits], top, settings, today, tables)
        results.append(None if outcome is None else {"patient_id": bp.patient_id, **outcome.to_dict()})
    return results


def rank_candidates(
    bp: BatchPatient,
    parts: Sequence[PartitionHits],
    top: int,
    settings: SelectionSettings | None,
    today: dt.date,
    tables: Any,
) -> SearchOutcome | None:
    """The search outcome of a patient from the candidates of all partitions (what run_search gives on the
    whole registry); the counts are the partitions' sums."""
    import pyarrow as pa

    from cordmatch.io.parquet_registry import index_from_table
    from cordmatch.services.search import search_outcome, with_notes

    cand = pa.concat_tables([p.rows for p in parts])
    if cand.num_rows == 0:
        raise InvalidInputError("the registry is empty: no units to search", where="registry")
    index, source = index_from_table(cand, tables)
    patient, notes = bp.built(tables)
    outcome = search_outcome(bp.request, patient, index, source, tables, top=top, settings=settings, today=today)
    counts = {name: sum(p.counts[name] for p in parts) for name in SUMMED}
    outcome = replace(outcome, counts={**outcome.counts, **counts}, notes=_double_only_note(outcome.notes, counts))
    return with_notes(outcome, notes)


_DOUBLE_ONLY = re.compile(r"^[\d,]+ unit\(s\) pass the HLA and antibody rules but are below the single-unit dose")


def _double_only_note(notes: tuple[str, ...], counts: dict[str, int]) -> tuple[str, ...]:
    """The search's "N unit(s) ... double only" note with the registry-wide N (the merged registry holds only
    the candidates); the note's wording is the selection search's."""
    n = counts.get("double_only", 0)
    out = []
    for note in notes:
        m = _DOUBLE_ONLY.match(note)
        if m is None:
            out.append(note)
        elif n:
            out.append(f"{n:,}" + note[note.index(" unit(s)") :])
    if n and not any(_DOUBLE_ONLY.match(x) for x in notes):
        out.append(
            f"{n:,} unit(s) pass the HLA and antibody rules but are below the single-unit dose: "
            "double only (not ranked as single grafts, no single-unit engraftment estimate)"
        )
    return tuple(out)


# --------------------------------------------------------------------------- driver side
def search_batch(
    client: Any,
    partitions: Sequence[Partition],
    patients: Sequence[BatchPatient],
    *,
    top: int = 10,
    settings: SelectionSettings | None = None,
    today: dt.date | None = None,
    batch_size: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Search every patient against the partitioned registry on ``client``'s cluster; outcomes in input order
    (``patient_id`` plus the JSON of :class:`cordmatch.selection.model.SearchOutcome`)."""
    from distributed import as_completed

    if top < 1:
        raise InvalidInputError(f"--top must be at least 1, got {top}", where="--top")
    if not patients:
        return []
    today = today or dt.date.today()
    workers = sorted(client.scheduler_info()["workers"])
    if not workers:
        raise InvalidInputError("the Dask cluster has no workers", where="scheduler")
    size = batch_size or max(1, -(-len(patients) // (BATCHES_PER_WORKER * len(workers))))
    want = 2 * top  # stage 1 keeps want // 2 = top final units per partition
    results: list[dict[str, Any] | None] = [None] * len(patients)
    pending = list(range(len(patients)))
    rounds = 0
    while pending:
        rounds += 1
        groups = [pending[i : i + size] for i in range(0, len(pending), size)]
        futures: list[Any] = []
        merges: list[tuple[list[int], Any]] = []
        for b, idx in enumerate(groups):
            group = [patients[i] for i in idx]
            stage1 = [
                client.submit(search_partition, str(p.path), group, want, settings, today, pure=False,
                              workers=[workers[k % len(workers)]], key=f"search-partition-{k}-{rounds}-{b}-{id(group)}")
                for k, p in enumerate(partitions)
            ]  # fmt: skip
            futures.extend(stage1)
            merges.append((idx, client.submit(merge_batch, group, stage1, top, settings, today, pure=False)))
        total = len(futures) + len(merges)
        for done, _ in enumerate(as_completed([*futures, *(m for _, m in merges)]), start=1):  # type: ignore[no-untyped-call]
            if progress is not None:
                progress(done, total)
        _gather_merges(client, merges, results)
        pending = [i for i in pending if results[i] is None]
        want *= 4  # some partition may hold more: ask the pending patients' partitions for more candidates
    return [r for r in results if r is not None]


def _gather_merges(client: Any, merges: list[tuple[list[int], Any]], results: list[dict[str, Any] | None]) -> None:
    """Put each merge's outcomes at their patients' places in ``results`` (fetched from the workers at once)."""
    for (idx, _), merged in zip(merges, client.gather([m for _, m in merges]), strict=True):
        for i, r in zip(idx, merged, strict=True):
            results[i] = r


# --------------------------------------------------------------------------- patients and the reference path
def load_patients(path: str | os.PathLike[str], *, policy: str = "nmdp") -> list[BatchPatient]:
    """Patients from JSON lines or Parquet (the fields of ``cordmatch sim patients``: patient_id, hla,
    weight_kg, diagnosis, malignant, abo, antibodies [{specificity, mfi}]); every row is checked before any
    search, and an error names the line (row) and field."""
    import json
    from pathlib import Path

    from cordmatch.errors import CordmatchError, NotFoundError

    src = Path(path)
    if not src.is_file():
        raise NotFoundError(f"patients file not found: {src}", where=str(src))
    rows: list[Any]
    if src.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(src).to_pylist()
        except Exception as exc:  # pyarrow raises several types for unreadable files
            raise InvalidInputError(f"cannot read {src}: {exc}", where=str(src)) from None
    else:
        rows = []
        try:
            text = src.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read {src}: {exc}", where=str(src)) from None
        for line_no, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise InvalidInputError(f"line {line_no}: not JSON ({exc})", where=f"{src}:{line_no}") from None
    from cordmatch.selection.crossmatch import AntibodyProfile
    from cordmatch.services.search import build_patient

    tables = worker_tables()
    out = []
    for k, row in enumerate(rows, start=1):
        where = f"{src}:{k}"
        try:
            if not isinstance(row, dict):
                raise InvalidInputError("a patient is a JSON object", where="row")
            for name in ("hla", "weight_kg"):
                if row.get(name) in (None, ""):
                    raise InvalidInputError(f"{name} is required", where=name)
            abs_ = row.get("antibodies") or []
            ab_text = "specificity,mfi\n" + "".join(f"{a['specificity']},{float(a['mfi']):g}\n" for a in abs_)
            req = SearchRequest(target="", patient_gl=str(row["hla"]), weight_kg=float(row["weight_kg"]),
                                antibodies_text=ab_text if abs_ else None, antibodies_source=f"{where} antibodies",
                                policy=policy, diagnosis=row.get("diagnosis"), malignant=row.get("malignant"),
                                abo=row.get("abo"))  # fmt: skip
            patient, notes = build_patient(req, tables)
            AntibodyProfile.build(patient.antibodies, tables, 0.0)  # unknown specificities: refused here
        except CordmatchError as exc:
            raise InvalidInputError(f"patient {k}: {exc.message}", where=f"{where} {exc.where or ''}".strip()) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"patient {k}: bad field {exc}", where=where) from None
        out.append(BatchPatient(str(row.get("patient_id") or f"P{k}"), req, patient, tuple(notes)))
    return out


def search_local(
    target: str,
    patients: Sequence[BatchPatient],
    *,
    top: int = 10,
    settings: SelectionSettings | None = None,
    today: dt.date | None = None,
) -> list[dict[str, Any]]:
    """The single-process path: every patient searched on the whole registry (the reference answers)."""
    from cordmatch.services.registry import open_registry
    from cordmatch.services.search import search_outcome, with_notes

    tables = worker_tables()
    today = today or dt.date.today()
    index, source = open_registry(target, tables)
    out = []
    for bp in patients:
        patient, notes = bp.built(tables)
        outcome = search_outcome(bp.request, patient, index, source, tables, top=top, settings=settings, today=today)
        outcome = with_notes(outcome, notes)
        out.append({"patient_id": bp.patient_id, **outcome.to_dict()})
    return out
