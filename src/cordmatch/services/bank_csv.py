"""CSV import and export of units (typings as GL strings).

Import is all or nothing: every line is checked, every problem is reported with its line and field,
and only a file without problems is written, in one transaction. Imported units start as
``collected`` (they then go through processing and QC release like any other unit).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cordmatch.bank.roles import Permission
from cordmatch.errors import CordmatchError, InvalidInputError
from cordmatch.plausibility import MAX_CSV_FIELD
from cordmatch.services import bank_validate as v
from cordmatch.services.auth import Principal
from cordmatch.services.bank import BankService
from cordmatch.services.bank_bulk import UnitImport, UnitsRefusedError
from cordmatch.services.schemas import MeasurementIn, UnitFilter, UnitOut, UnitRegistration, parse_model

MEASURED = {
    "collection": ("volume_ml", "tnc", "cd34", "viability_pct"),
    "pre_cryo": ("volume_ml", "tnc", "cd34", "viability_pct"),
    "post_thaw": ("viable_cd34_pct", "viable_cd45_pct", "cfu"),
}
COLUMNS: tuple[str, ...] = (
    "din", "product_code", "bank_code", "collected_at", "state",
    *(f"{stage}_{f}" for stage, fields in MEASURED.items() for f in fields),
    "hla_gl", "nima_gl", "abo", "rh", "idm_result", "sterility", "hb_screen", "segments",
    "red_cell_depleted", "tank", "rack", "box", "slot",
)  # fmt: skip
REQUIRED = ("din", "product_code", "bank_code", "collected_at")
SLOT_PARTS = ("tank", "rack", "box", "slot")
MAX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class ImportIssue:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


class CsvImportError(InvalidInputError):
    """The import was refused; ``issues`` lists every problem found (nothing was written)."""

    def __init__(self, issues: list[ImportIssue]) -> None:
        first = issues[0]
        more = f" (+{len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(f"CSV not imported, nothing written: {first}{more}", where=f"line {first.line}")
        self.issues = issues

    def report(self) -> str:
        return "\n".join(str(i) for i in self.issues)


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int
    dins: tuple[str, ...]


def _float(text: str, field: str) -> float | None:
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a number", where=field) from None


def _bool(text: str, field: str) -> bool | None:
    t = text.strip().lower()
    if t == "":
        return None
    if t in ("1", "true", "yes", "y"):
        return True
    if t in ("0", "false", "no", "n"):
        return False
    raise InvalidInputError(f"{text!r} is not true/false", where=field)


def _datetime(text: str, field: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(f"{text!r} is not an ISO 8601 date-time", where=field) from None
    if value.tzinfo is None:
        raise InvalidInputError(f"{text!r} needs a time zone (e.g. Z or +01:00)", where=field)
    return value


def _check_required(row: dict[str, str]) -> None:
    for column in REQUIRED:
        if not row.get(column):
            raise InvalidInputError(f"{column} is required", where=column)
    state = row.get("state", "")
    if state not in ("", "collected"):
        raise InvalidInputError(f"imported units start as collected (got {state!r})", where="state")


def _stages(row: dict[str, str]) -> dict[str, MeasurementIn]:
    """The checked counts of every stage with at least one value on the line."""
    stages: dict[str, MeasurementIn] = {}
    for stage, fields in MEASURED.items():
        values = {f: _float(row.get(f"{stage}_{f}", ""), f"{stage}_{f}") for f in fields}
        if any(x is not None for x in values.values()):
            stages[stage] = v.check_measurement(parse_model(MeasurementIn, values), prefix=f"{stage}_")
    return stages


def _tests(row: dict[str, str]) -> dict[str, Any]:
    segments = row.get("segments", "")
    if segments and not segments.lstrip("-").isdigit():
        raise InvalidInputError(f"{segments!r} is not a whole number", where="segments")
    tests: dict[str, Any] = {k: row.get(k) or None for k in ("abo", "rh", "idm_result", "sterility", "hb_screen")}
    return {**tests, "segments": int(segments) if segments else None}


def _storage(row: dict[str, str]) -> dict[str, str] | None:
    position = [row.get(k, "") for k in SLOT_PARTS]
    if any(position) and not all(position):
        missing = [k for k, x in zip(SLOT_PARTS, position, strict=True) if not x]
        raise InvalidInputError("storage position needs tank, rack, box and slot", where=missing[0])
    return dict(zip(SLOT_PARTS, position, strict=True)) if all(position) else None


def _row_to_import(row: dict[str, str], now: datetime, tables: v.TablesSource | None = None) -> UnitImport:
    """The checked unit of one CSV line (InvalidInputError naming the column); its GL strings are
    parsed here once and the registration does not parse them again."""
    _check_required(row)
    stages = _stages(row)
    tests = _tests(row)
    storage = _storage(row)
    collection = stages.pop("collection", None)
    data: dict[str, Any] = {
        "din": row["din"],
        "product_code": row["product_code"],
        "bank_code": row["bank_code"],
        "collected_at": _datetime(row["collected_at"], "collected_at"),
        "collection_volume_ml": collection.volume_ml if collection is not None else None,
        "collection": collection,
        "tests": tests,
        "hla_gl": row.get("hla_gl") or None,
        "nima_gl": row.get("nima_gl") or None,
        "red_cell_depleted": _bool(row.get("red_cell_depleted", ""), "red_cell_depleted"),
        "storage": storage,
    }
    return UnitImport.prechecked(parse_model(UnitRegistration, data), stages, now, tables)


def import_units_csv(svc: BankService, actor: Principal, text: str) -> ImportResult:
    """Register every unit of the CSV ``text`` in one transaction, or none (CsvImportError lists why)."""
    svc.require(actor, Permission.UNIT_WRITE)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    _check_header(reader)
    issues: list[ImportIssue] = []
    parsed: list[tuple[int, UnitImport]] = []
    try:
        _check_rows(svc, reader, issues, parsed)
    except csv.Error as exc:  # e.g. a cell longer than the csv module's own limit, a stray quote
        issues.append(ImportIssue(reader.line_num + 1, "file", f"not readable as CSV: {exc}"))
    if issues:
        raise CsvImportError(issues)
    if not parsed:
        raise CsvImportError([ImportIssue(2, "file", "no units in the file")])
    return _write_import(svc, actor, parsed)


def _check_header(reader: csv.DictReader[str]) -> None:
    """CsvImportError unless the header names only known columns and every required one."""
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise CsvImportError([ImportIssue(1, "header", f"not readable as CSV: {exc}")]) from None
    unknown = [h for h in header if h not in COLUMNS]
    missing = [h for h in REQUIRED if h not in header]
    if not header or unknown or missing:
        what = f"unknown columns {unknown}" if unknown else f"missing columns {missing or list(REQUIRED)}"
        raise CsvImportError([ImportIssue(1, "header", what)])


def _check_rows(
    svc: BankService,
    reader: csv.DictReader[str],
    issues: list[ImportIssue],
    parsed: list[tuple[int, UnitImport]],
) -> None:
    """Check every row; problems go to ``issues``, good rows to ``parsed``."""
    seen = _Seen()
    for row in reader:
        line = reader.line_num
        if len(parsed) + len(issues) > MAX_ROWS:
            issues.append(ImportIssue(line, "file", f"more than {MAX_ROWS} rows"))
            break
        item = _check_line(row, line, svc.clock(), svc.ctx.nomenclature, issues)
        if item is not None and seen.unique(line, item, issues):
            parsed.append((line, item))


def _check_line(
    row: dict[str | Any, str | Any],
    line: int,
    now: datetime,
    tables: v.TablesSource | None,
    issues: list[ImportIssue],
) -> UnitImport | None:
    """The checked unit of one CSV line, or None with its problem added to ``issues``."""
    if None in row:
        issues.append(ImportIssue(line, "row", "more values than columns"))
        return None
    clean = {k: _unescape((val or "").strip()) for k, val in row.items()}
    long = next((k for k, val in clean.items() if len(val) > MAX_CSV_FIELD), None)
    if long is not None:
        issues.append(ImportIssue(line, long, f"longer than {MAX_CSV_FIELD} characters"))
        return None
    try:
        return _row_to_import(clean, now, tables)
    except CordmatchError as exc:
        issues.append(ImportIssue(line, exc.where or "row", exc.message))
        return None


@dataclass(slots=True)
class _Seen:
    """The line of each DIN and storage position met so far in the file."""

    dins: dict[str, int] = field(default_factory=dict)
    slots: dict[tuple[str, ...], int] = field(default_factory=dict)

    def unique(self, line: int, item: UnitImport, issues: list[ImportIssue]) -> bool:
        """True when neither the DIN nor the storage position of ``item`` is on an earlier line."""
        din = item.checked.din if item.checked is not None else item.registration.din
        if din in self.dins:
            issues.append(ImportIssue(line, "din", f"DIN {din} also on line {self.dins[din]}"))
            return False
        self.dins[din] = line
        pos = item.registration.storage
        if pos is not None:
            key = (pos.tank, pos.rack, pos.box, pos.slot)
            if key in self.slots:
                issues.append(ImportIssue(line, "storage", f"position {pos} also on line {self.slots[key]}"))
                return False
            self.slots[key] = line
        return True


def _write_import(svc: BankService, actor: Principal, parsed: list[tuple[int, UnitImport]]) -> ImportResult:
    """One bulk registration of the checked rows; a refused unit refuses the file (issues name its line)."""
    try:
        dins = svc.units.register_many(actor, [item for _, item in parsed])
    except UnitsRefusedError as exc:
        raise CsvImportError([ImportIssue(parsed[r.index][0], r.field, r.message) for r in exc.refusals]) from None
    return ImportResult(len(dins), tuple(dins))


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula


def neutralise(text: str) -> str:
    """``text`` made inert for spreadsheets: a leading ``'`` when it starts like a formula (OWASP advice)."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _unescape(text: str) -> str:
    """Undo :func:`neutralise` on import, so that an exported file imports as it was."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value) if value != int(value) or abs(value) >= 1e15 else str(int(value))
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))


def unit_row(u: UnitOut) -> dict[str, str]:
    row: dict[str, Any] = {
        "din": u.din,
        "product_code": u.product_code,
        "bank_code": u.bank_code,
        "collected_at": u.collected_at,
        "state": u.state,
        "hla_gl": u.hla_gl,
        "nima_gl": u.nima_gl,
        "abo": u.abo,
        "rh": u.rh,
        "idm_result": u.idm_result,
        "sterility": u.sterility,
        "hb_screen": u.hb_screen,
        "segments": u.segments,
        "red_cell_depleted": u.red_cell_depleted,
    }
    if u.storage:
        row.update(u.storage.model_dump())
    for stage, fields in MEASURED.items():
        m = u.measurements.get(stage)
        for f in fields:
            row[f"{stage}_{f}"] = getattr(m, f) if m else None
    if row.get("collection_volume_ml") is None:
        row["collection_volume_ml"] = u.collection_volume_ml
    return {c: _cell(row.get(c)) for c in COLUMNS}


def export_units_csv(svc: BankService, actor: Principal, filters: UnitFilter | dict[str, Any] | None = None) -> str:
    """All units matching ``filters`` as CSV text (the import's columns, plus their state)."""
    svc.require(actor, Permission.EXPORT)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in _all_rows(svc, actor, filters):
        writer.writerow(row)
    return out.getvalue()


def _all_rows(
    svc: BankService, actor: Principal, filters: UnitFilter | dict[str, Any] | None
) -> Iterable[dict[str, str]]:
    offset = 0
    while True:
        page = svc.catalogue.list_units(actor, filters, limit=500, offset=offset)
        for item in page.items:
            yield unit_row(item)
        offset += len(page.items)
        if offset >= page.total or not page.items:
            return
