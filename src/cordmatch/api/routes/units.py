"""Units through their lifecycle: register, results, transitions, QC release, shipment, timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from cordmatch.api.deps import Actor, Bank
from cordmatch.api.models import (
    CorrectionIn,
    DiscardIn,
    NoteIn,
    ProcessingIn,
    ReleaseIn,
    TimelineEntry,
    TransitionIn,
    TypingIn,
    UnitPage,
)
from cordmatch.api.paging import MAX_LIMIT, MAX_OFFSET, links
from cordmatch.plausibility import TEXT_LIMITS, check_number
from cordmatch.services.schemas import (
    MeasurementIn,
    ReleaseOut,
    Stage,
    StoragePosition,
    TestResultsIn,
    UnitFilter,
    UnitOut,
    UnitRegistration,
    parse_model,
)

CODE_LEN = TEXT_LIMITS["code"]

router = APIRouter(prefix="/units", tags=["units"])


def unit_filter(**fields: Any) -> UnitFilter:
    """The unit filter of a query's fields; an empty text field filters nothing."""
    return parse_model(UnitFilter, {k: (v or None) if isinstance(v, str) else v for k, v in fields.items()})


@router.get("", response_model=UnitPage, summary="List units (filters, newest collection first)")
def list_units(
    svc: Bank,
    actor: Actor,
    request: Request,
    response: Response,
    state: Annotated[str | None, Query(max_length=CODE_LEN)] = None,
    bank_code: Annotated[str | None, Query(max_length=CODE_LEN)] = None,
    abo: Annotated[str | None, Query(max_length=CODE_LEN)] = None,
    din_prefix: Annotated[str | None, Query(description="DIN starts with", max_length=CODE_LEN)] = None,
    collected_from: Annotated[datetime | None, Query(description="from (inclusive); no time zone = UTC")] = None,
    collected_to: Annotated[datetime | None, Query(description="to (exclusive); no time zone = UTC")] = None,
    min_tnc: Annotated[float | None, Query(description="pre-cryopreservation TNC, cells")] = None,
    exceptional_release: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    check_number(min_tnc, "tnc", "min_tnc")
    filters = unit_filter(
        state=state,
        bank_code=bank_code,
        abo=abo,
        din_prefix=din_prefix,
        collected_from=collected_from,
        collected_to=collected_to,
        min_tnc=min_tnc,
        exceptional_release=exceptional_release,
    )
    page = svc.catalogue.list_units(actor, filters, limit=limit, offset=offset)
    return {
        "items": page.items,
        "total": page.total,
        "limit": limit,
        "offset": offset,
        "links": links(request, page.total, limit, offset, response),
    }


@router.post("", response_model=UnitOut, status_code=201, summary="Register a collection (state collected)")
def register_unit(svc: Bank, actor: Actor, body: UnitRegistration, response: Response) -> UnitOut:
    out = svc.units.register_unit(actor, body)
    response.headers["Location"] = f"/api/v1/units/{out.din}"
    return out


@router.get("/{din}", response_model=UnitOut, summary="One unit with typings, counts and reservation")
def get_unit(svc: Bank, actor: Actor, din: str) -> UnitOut:
    return svc.catalogue.get_unit(actor, din)


@router.get("/{din}/timeline", response_model=list[TimelineEntry], summary="The unit's audit history")
def timeline(svc: Bank, actor: Actor, din: str) -> list[dict[str, Any]]:
    return svc.catalogue.timeline(actor, din)


@router.post("/{din}/transitions", response_model=UnitOut, summary="Plain lifecycle step (or discard)")
def transition(svc: Bank, actor: Actor, din: str, body: TransitionIn) -> UnitOut:
    return svc.units.transition(actor, din, body.target, reason=body.reason)


@router.post("/{din}/processing", response_model=UnitOut, summary="Post-processing counts: received -> processed")
def processing(svc: Bank, actor: Actor, din: str, body: ProcessingIn) -> UnitOut:
    return svc.units.record_processing(actor, din, body.values, red_cell_depleted=body.red_cell_depleted)


@router.put(
    "/{din}/measurements/{stage}", response_model=UnitOut, summary="Record or correct a stage's counts before release"
)
def measurement(svc: Bank, actor: Actor, din: str, stage: Stage, body: MeasurementIn) -> UnitOut:
    return svc.units.record_measurement(actor, din, stage, body)


@router.post(
    "/{din}/measurements/{stage}/correction",
    response_model=UnitOut,
    summary="Correct a released unit's counts (audited, reason required; re-runs the release check, alerts the holder)",
)
def correction(svc: Bank, actor: Actor, din: str, stage: Stage, body: CorrectionIn) -> UnitOut:
    return svc.units.correct_measurement(actor, din, stage, body.values, reason=body.reason)


@router.post("/{din}/tests", response_model=UnitOut, summary="Test results (fields left out are unchanged)")
def tests(svc: Bank, actor: Actor, din: str, body: TestResultsIn) -> UnitOut:
    return svc.units.record_tests(actor, din, body)


@router.post("/{din}/typings", response_model=UnitOut, status_code=201, summary="Add an HLA typing (supersedes)")
def typing(svc: Bank, actor: Actor, din: str, body: TypingIn) -> UnitOut:
    return svc.units.record_typing(actor, din, body.gl, kind=body.kind, lab=body.lab)


@router.put("/{din}/storage", response_model=UnitOut, summary="Storage position (tank/rack/box/slot)")
def storage(svc: Bank, actor: Actor, din: str, body: StoragePosition) -> UnitOut:
    return svc.units.set_storage(actor, din, body)


@router.post("/{din}/discard", response_model=UnitOut, summary="Discard (or release for research), with reason")
def discard(svc: Bank, actor: Actor, din: str, body: DiscardIn) -> UnitOut:
    return svc.units.discard(actor, din, body.reason, research=body.research)


@router.get("/{din}/release-check", summary="QC checklist now: each criterion with value and verdict")
def release_check(svc: Bank, actor: Actor, din: str) -> dict[str, Any]:
    return svc.release.release_check(actor, din).to_dict()


@router.post("/{din}/release", response_model=ReleaseOut, summary="QC release quarantine -> available (director)")
def release(svc: Bank, actor: Actor, din: str, body: ReleaseIn | None = None) -> ReleaseOut:
    reason = body.exceptional_reason if body else None
    return svc.release.release(actor, din, exceptional_reason=reason)


@router.post("/{din}/ship", response_model=UnitOut, summary="Ship the reserved unit")
def ship(svc: Bank, actor: Actor, din: str, body: NoteIn | None = None) -> UnitOut:
    return svc.reservations.ship(actor, din, note=body.note if body else None)


@router.post("/{din}/infuse", response_model=UnitOut, summary="Record the infusion of a shipped unit")
def infuse(svc: Bank, actor: Actor, din: str, body: NoteIn | None = None) -> UnitOut:
    return svc.reservations.infuse(actor, din, note=body.note if body else None)
