"""Authentication, users and tokens, banks and configuration, audit chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from cordmatch.api.deps import Actor, Bank
from cordmatch.api.models import (
    BankContactIn,
    BankIn,
    ChainOut,
    Links,
    LoginIn,
    MeOut,
    PageOut,
    ProductCodesIn,
    TokenIn,
    UserIn,
    UserPatch,
)
from cordmatch.api.paging import MAX_ID, MAX_LIMIT, MAX_OFFSET, page_of
from cordmatch.bank.product_codes import ProductCodeTable
from cordmatch.errors import PermissionDeniedError
from cordmatch.http.problems import NotAuthenticatedError
from cordmatch.services.schemas import BankOut, TokenOut, UserOut
from cordmatch.services.throttle import BusyError, ThrottledError

router = APIRouter(tags=["users and configuration"])


class UserPage(PageOut[UserOut]):
    links: Links


@router.post("/auth/token", response_model=TokenOut, status_code=201, summary="Log in: a new API token")
def login(svc: Bank, body: LoginIn, request: Request) -> TokenOut:
    client = request.client.host if request.client else None
    try:
        principal = svc.users.authenticate(body.username, body.password, client=client)
    except (ThrottledError, BusyError):
        raise
    except PermissionDeniedError as exc:
        raise NotAuthenticatedError(exc.message, where="password") from None
    return svc.users.issue_token(principal, body.name, days=body.days, throttled=True)


@router.get("/me", response_model=MeOut, summary="Who am I")
def me(actor: Actor) -> MeOut:
    return MeOut(username=actor.username, role=actor.role.value, centre=actor.centre)


@router.get("/users", response_model=UserPage, summary="Users (administrator)")
def users(
    svc: Bank,
    actor: Actor,
    request: Request,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> dict[str, Any]:
    return page_of(svc.users.list_users(actor), request, response, limit, offset)


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a user (administrator)")
def create_user(svc: Bank, actor: Actor, body: UserIn) -> UserOut:
    return svc.users.create_user(actor, body.username, body.password, body.role, centre=body.centre)


@router.patch("/users/{username}", response_model=UserOut, summary="Activate or deactivate a user")
def patch_user(svc: Bank, actor: Actor, username: str, body: UserPatch) -> UserOut:
    return svc.users.set_user_active(actor, username, body.active)


@router.post("/tokens", response_model=TokenOut, status_code=201, summary="Issue an API token (shown once)")
def issue_token(svc: Bank, actor: Actor, body: TokenIn) -> TokenOut:
    return svc.users.issue_token(actor, body.name, days=body.days, for_user=body.for_user, throttled=True)


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke a token")
def revoke_token(svc: Bank, actor: Actor, token_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    svc.users.revoke_token(actor, token_id)
    return Response(status_code=204)


@router.get("/banks", response_model=list[BankOut], summary="Banks")
def banks(svc: Bank, actor: Actor) -> list[BankOut]:
    return svc.catalogue.list_banks(actor)


@router.post("/banks", response_model=BankOut, status_code=201, summary="Register a bank (configuration)")
def add_bank(svc: Bank, actor: Actor, body: BankIn) -> BankOut:
    return svc.catalogue.add_bank(
        actor, body.code, body.name, accreditation=body.accreditation, facility_id=body.facility_id,
        contact=body.contact,
    )  # fmt: skip


@router.put("/banks/{code}/contact", response_model=BankOut, summary="Set who transplant centres contact at a bank")
def bank_contact(svc: Bank, actor: Actor, code: Annotated[str, Path(max_length=40)], body: BankContactIn) -> BankOut:
    return svc.catalogue.set_bank_contact(actor, code, body.contact)


@router.put("/product-codes", summary="Load the bank's licensed product codes (adds or updates)")
def product_codes(svc: Bank, actor: Actor, body: ProductCodesIn) -> dict[str, int]:
    table = ProductCodeTable.from_rows(body.codes.items())
    return {"loaded": svc.catalogue.load_product_codes(actor, table)}


@router.get("/qc-criteria", summary="The QC release criteria in force (each with its source)")
def qc_criteria(svc: Bank, actor: Actor) -> list[dict[str, Any]]:
    from dataclasses import asdict

    from cordmatch.bank.roles import Permission, require

    require(actor.role, Permission.UNIT_SEARCH, who=actor.username)
    return [asdict(c) for c in svc.release.qc_criteria()]


@router.put("/qc-criteria", summary="Replace the QC release criteria (each needs key, kind, threshold, source)")
def set_qc_criteria(svc: Bank, actor: Actor, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import json
    from dataclasses import asdict

    return [asdict(c) for c in svc.release.set_qc_criteria(actor, json.dumps(body))]


@router.get("/audit/verify", response_model=ChainOut, summary="Verify the hash chain of the audit trail")
def verify_audit(svc: Bank, actor: Actor) -> ChainOut:
    r = svc.catalogue.verify_audit(actor)
    return ChainOut(ok=r.ok, rows=r.rows, head=r.head, broken_at=r.broken_at, problem=r.problem)
