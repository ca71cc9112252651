"""CSV import (all or nothing; per-line report as 422 problem+json) and export of units."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from cordmatch.api.deps import Actor, Bank
from cordmatch.api.models import ImportOut
from cordmatch.api.routes.units import unit_filter
from cordmatch.errors import InvalidInputError
from cordmatch.plausibility import MAX_IMPORT_BYTES, TEXT_LIMITS
from cordmatch.services.bank_csv import COLUMNS, export_units_csv, import_units_csv

router = APIRouter(prefix="/units", tags=["import and export"])
CODE_LEN = TEXT_LIMITS["code"]

_CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string"}, "example": ",".join(COLUMNS) + "\n"}},
    }
}


@router.post(
    "/import",
    response_model=ImportOut,
    status_code=201,
    summary="Import units from CSV (text/csv body): all or nothing",
    openapi_extra=_CSV_BODY,
)
async def import_csv(svc: Bank, actor: Actor, request: Request) -> ImportOut:
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:  # the size guard refuses larger bodies before they are read
        raise InvalidInputError(f"CSV larger than {MAX_IMPORT_BYTES} bytes", where="body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"CSV is not UTF-8 (byte {exc.start})", where="body") from None
    result = await run_in_threadpool(import_units_csv, svc, actor, text)
    return ImportOut(imported=result.imported, dins=list(result.dins))


@router.get(
    "/export.csv",
    summary="Export units as CSV (the import's columns plus state)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_csv(
    svc: Bank,
    actor: Actor,
    state: Annotated[str | None, Query(max_length=CODE_LEN)] = None,
    bank_code: Annotated[str | None, Query(max_length=CODE_LEN)] = None,
    abo: Annotated[str | None, Query(max_length=CODE_LEN)] = None,
    din_prefix: Annotated[str | None, Query(max_length=CODE_LEN)] = None,
    collected_from: Annotated[datetime | None, Query(description="no time zone = UTC")] = None,
    collected_to: Annotated[datetime | None, Query(description="no time zone = UTC")] = None,
) -> Response:
    filters = unit_filter(
        state=state,
        bank_code=bank_code,
        abo=abo,
        din_prefix=din_prefix,
        collected_from=collected_from,
        collected_to=collected_to,
    )
    text = export_units_csv(svc, actor, filters)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="units.csv"'},
    )
