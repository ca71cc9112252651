"""Reservations: create, cancel, confirmatory typing (request and result), list, expire."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from cordmatch.api.deps import Actor, Bank
from cordmatch.api.models import CancelIn, CtResultIn, ExpiredOut, Links, PageOut, ReservationIn
from cordmatch.api.paging import MAX_ID, MAX_LIMIT, MAX_OFFSET, page_of
from cordmatch.services.schemas import ReservationOut

router = APIRouter(prefix="/reservations", tags=["reservations"])


class ReservationPage(PageOut[ReservationOut]):
    links: Links


@router.get("", response_model=ReservationPage, summary="Reservations (a coordinator sees their centre's)")
def list_reservations(
    svc: Bank,
    actor: Actor,
    request: Request,
    response: Response,
    status: Literal["active", "cancelled", "expired", "shipped", "all"] = "active",
    din: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    items = svc.reservations.list_reservations(actor, status=None if status == "all" else status, din=din or None)
    return page_of(items, request, response, limit, offset)


@router.post("", response_model=ReservationOut, status_code=201, summary="Reserve an available unit")
def reserve(svc: Bank, actor: Actor, body: ReservationIn, response: Response) -> ReservationOut:
    out = svc.reservations.reserve(
        actor,
        body.din,
        body.patient_ref,
        centre=body.centre,
        days=body.days,
        request_ct=body.request_ct,
        note=body.note,
    )
    response.headers["Location"] = f"/api/v1/reservations?din={out.din}"
    return out


@router.post("/expire", response_model=ExpiredOut, summary="Expire every reservation past its end")
def expire(svc: Bank, actor: Actor) -> ExpiredOut:
    return ExpiredOut(expired=svc.reservations.expire_reservations(actor))


@router.post("/{reservation_id}/cancel", response_model=ReservationOut, summary="Cancel (unit available again)")
def cancel(
    svc: Bank, actor: Actor, reservation_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: CancelIn
) -> ReservationOut:
    return svc.reservations.cancel_reservation(actor, reservation_id, body.reason)


@router.post("/{reservation_id}/ct-request", response_model=ReservationOut, summary="Request confirmatory typing")
def ct_request(svc: Bank, actor: Actor, reservation_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> ReservationOut:
    return svc.reservations.request_confirmatory_typing(actor, reservation_id)


@router.post("/{reservation_id}/ct-result", response_model=ReservationOut, summary="Record confirmatory typing")
def ct_result(
    svc: Bank, actor: Actor, reservation_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: CtResultIn
) -> ReservationOut:
    return svc.reservations.record_confirmatory_typing(actor, reservation_id, body.gl, lab=body.lab)
