"""Reports from the bank service, for the CLI and the pages: who may see what is the service's rule
(a coordinator sees listed units and their centre's reservations only; labels are for bank staff)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cordmatch.bank.roles import Permission, allows
from cordmatch.errors import CordmatchError, PermissionDeniedError
from cordmatch.reports.label import label_data, render_label
from cordmatch.reports.search_report import ReportContext, SearchReport, build
from cordmatch.reports.unit_report import unit_report
from cordmatch.services.auth import Principal
from cordmatch.services.bank import BankService

if TYPE_CHECKING:
    from cordmatch.hla.tables import NomenclatureTables


def _product_text(svc: BankService, code: str) -> str | None:
    return svc.catalogue.product_codes().codes.get(code)


def unit_report_pdf(svc: BankService, actor: Principal, din: str, now: datetime | None = None) -> bytes:
    """The unit report (PDF bytes) of ``din`` as ``actor`` may see it."""
    unit = svc.catalogue.get_unit(actor, din)
    banks = svc.catalogue.list_banks(actor)
    return unit_report(
        unit, svc.release.qc_criteria(), banks, _product_text(svc, unit.product_code), now or datetime.now(UTC)
    )


def unit_label(
    svc: BankService, actor: Principal, din: str, fmt: str, donation_type: str = "V", division: str = "00"
) -> bytes:
    """The ISBT 128 bag label of ``din`` as PDF or SVG bytes (bank staff: unit.write)."""
    if not allows(actor.role, Permission.UNIT_WRITE):
        raise PermissionDeniedError(
            f"bag labels are printed by bank staff (technician or director); {actor.username} is {actor.role}",
            where="role",
        )
    unit = svc.catalogue.get_unit(actor, din)
    fin = next((b.facility_id for b in svc.catalogue.list_banks(actor) if b.code == unit.bank_code), None)
    product = _product_text(svc, unit.product_code) or "product description not in the bank's product code table"
    return render_label(label_data(unit, product, fin, donation_type, division), fmt)


def search_report(
    backend: Callable[[Principal, Any], dict[str, Any]],
    actor: Principal,
    query: Any,
    patient_ref: str | None = None,
    now: datetime | None = None,
    tables: NomenclatureTables | None = None,
) -> SearchReport:
    """Search with ``backend`` (the app's search seam) and gather the report of the result: the default
    thresholds (the backend searches with them), the release of ``tables`` (default: the backend's own)."""
    from cordmatch.selection.settings import default_settings

    if tables is None:
        tables = getattr(backend, "tables", None)
    if tables is None:
        raise CordmatchError("the search backend names no nomenclature release", where="search")
    outcome = backend(actor, query)
    ctx = ReportContext(
        settings=default_settings(),
        release=tables.release,
        generated=now or datetime.now(UTC),
        patient_ref=patient_ref,
        registry="this bank's available units",
        made_by=actor.username,
        antibodies_given=query.antibodies is not None,
        top=query.top,
    )
    return build(outcome, ctx)
