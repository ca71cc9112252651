"""A unit's facts as labelled sections for people (pure: from the service's ``UnitOut``), shared by
``cordmatch bank unit show`` and the unit report. Cells are written ``2.16 x10^9 cells``; a fact that was
never recorded says so."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cordmatch.bank.qc import Criterion, ReleaseDecision, evaluate, qc_values
from cordmatch.reports.numbers import MISSING, cells, millilitres, number, percent
from cordmatch.services.schemas import BankOut, MeasurementOut, UnitOut

STAGE_NAMES = {
    "collection": "collection",
    "post_processing": "after processing",
    "pre_cryo": "before cryopreservation",
    "post_thaw": "after thaw (test vial)",
}


@dataclass(frozen=True, slots=True)
class Section:
    """A titled list of (label, value) rows."""

    title: str
    rows: tuple[tuple[str, str], ...]


def when(value: datetime | None) -> str:
    """``2026-05-01 08:00 UTC`` (or "not recorded")."""
    if value is None:
        return MISSING
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _text(value: Any) -> str:
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def identity(unit: UnitOut, product: str | None = None) -> Section:
    """DIN, product, state, dates."""
    rows = [
        ("DIN (with check character)", unit.din_labelled),
        ("product code", unit.product_code + (f" ({product})" if product else "")),
        ("state", unit.state),
        ("collected", when(unit.collected_at)),
        ("registered", when(unit.registered_at)),
        ("QC released", when(unit.released_at)),
    ]
    if unit.exceptional_release:
        rows.append(("EXCEPTIONAL RELEASE", unit.exceptional_reason or "reason not recorded"))
    if unit.storage is not None:
        rows.append(("storage (tank/rack/box/slot)", str(unit.storage)))
    return Section("Unit", tuple(rows))


def hla(unit: UnitOut) -> Section:
    """Current typing (GL string), earlier typings, NIMA."""
    rows = [("HLA typing (current)", unit.hla_gl or "NOT TYPED")]
    for t in unit.typings:
        status = "current" if t.superseded_by is None else f"superseded by typing {t.superseded_by}"
        rows.append((f"typing {t.id}: {t.kind}, {status}", f"{t.gl} (lab {_text(t.lab)}, {when(t.recorded_at)})"))
    rows.append(("NIMA (non-inherited maternal antigens)", _text(unit.nima_gl)))
    return Section("HLA", tuple(rows))


def tests(unit: UnitOut) -> Section:
    """ABO/Rh, infectious disease markers, sterility, haemoglobinopathy screen, segments."""
    rows = [
        ("ABO / Rh", f"{_text(unit.abo)} / {_text(unit.rh)}"),
        ("maternal infectious disease markers", _text(unit.idm_result)),
    ]
    for marker, result in sorted((unit.idm_markers or {}).items()):
        rows.append((f"  {marker}", result))
    rows += [
        ("sterility (aerobic + anaerobic culture)", _text(unit.sterility)),
        ("haemoglobinopathy screen", _text(unit.hb_screen)),
        ("attached segments", str(unit.segments)),
        ("red cells depleted", _text(unit.red_cell_depleted)),
    ]
    return Section("Tests", tuple(rows))


def measurement_rows(m: MeasurementOut) -> tuple[tuple[str, str], ...]:
    """One stage's counts: volume, TNC, CD34+, viabilities, CFU (only those recorded)."""
    out = []
    for label, value, fmt in (
        ("volume", m.volume_ml, millilitres),
        ("TNC", m.tnc, cells),
        ("CD34+", m.cd34, cells),
        ("viability", m.viability_pct, percent),
        ("viable CD34+", m.viable_cd34_pct, percent),
        ("viable CD45+", m.viable_cd45_pct, percent),
        ("CFU", m.cfu, lambda v: f"{number(v)} colonies"),
    ):
        if value is not None:
            out.append((label, fmt(value)))
    return tuple(out)


def counts_grid(unit: UnitOut) -> list[list[str]]:
    """Processing and QC counts as a grid: a header row (measure, then each stage), then one row per
    measure; a stage with nothing recorded says so."""
    fields = (
        ("volume", "volume_ml", millilitres),
        ("TNC (cells)", "tnc", number),
        ("CD34+ (cells)", "cd34", number),
        ("viability", "viability_pct", percent),
        ("viable CD34+", "viable_cd34_pct", percent),
        ("viable CD45+", "viable_cd45_pct", percent),
        ("CFU (colonies)", "cfu", number),
    )
    header = ["measure", *STAGE_NAMES.values()]
    rows = [header]
    for label, attr, fmt in fields:
        row = [label]
        for stage in STAGE_NAMES:
            m = unit.measurements.get(stage)
            value = getattr(m, attr) if m is not None else None
            row.append("-" if value is None else fmt(value))
        rows.append(row)
    rows.append(["recorded", *(when(m.recorded_at) if (m := unit.measurements.get(st)) else MISSING
                               for st in STAGE_NAMES)])  # fmt: skip
    return rows


def qc(unit: UnitOut, criteria: Sequence[Criterion]) -> ReleaseDecision:
    """The QC release checklist of the unit under the bank's criteria."""
    return evaluate(criteria, qc_values(unit, unit.measurements, unit.hla_gl))


def bank(unit: UnitOut, banks: Sequence[BankOut]) -> Section:
    """The bank that holds the unit, with its contact when the bank recorded one (else the section says so)."""
    found = next((b for b in banks if b.code == unit.bank_code), None)
    rows = [
        ("bank", f"{unit.bank_name} ({unit.bank_code})"),
        ("accreditation", unit.accreditation),
        ("ISBT 128 facility id (FIN)", _text(found.facility_id if found else None)),
        ("contact", unit.bank_contact or "not recorded: use the bank's published contact for this DIN"),
    ]
    return Section("Bank", tuple(rows))


def reservation(unit: UnitOut) -> Section | None:
    r = unit.active_reservation
    if r is None:
        return None
    rows = (
        ("reservation", f"{r.id} for {r.patient_ref} at {r.centre}"),
        ("until", when(r.expires_at)),
        ("confirmatory typing", r.ct_status),
    )
    return Section("Reservation", rows)


def sections(unit: UnitOut, banks: Sequence[BankOut] = (), product: str | None = None) -> list[Section]:
    """Every section of a unit but its counts (:func:`counts_grid`), in reading order."""
    out = [identity(unit, product), bank(unit, banks), hla(unit), tests(unit)]
    res = reservation(unit)
    if res is not None:
        out.append(res)
    return out
