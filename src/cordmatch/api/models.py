"""Request and response bodies of the REST API that the service schemas do not already provide."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from cordmatch.services.schemas import (
    Code,
    Gl,
    MeasurementIn,
    Name,
    Password,
    Reason,
    ReservationDays,
    TokenDays,
    UnitOut,
)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class LoginIn(_In):
    username: Name
    password: Password
    name: Name = "api"  # a label for the token
    days: TokenDays | None = Field(default=30, description="token lifetime in days (1..3650); null = no expiry")


class TransitionIn(_In):
    target: Code = Field(description="received, processed, cryopreserved, quarantine, discarded or research")
    reason: Reason | None = None


class ProcessingIn(_In):
    values: MeasurementIn
    red_cell_depleted: bool


class CorrectionIn(_In):
    values: MeasurementIn
    reason: Reason = Field(description="why the released unit's counts are corrected (audited)")


class TypingIn(_In):
    gl: Gl = Field(description="HLA typing as a GL string")
    kind: Code = "initial"
    lab: Name | None = None


class DiscardIn(_In):
    reason: Reason
    research: bool = False


class ReleaseIn(_In):
    exceptional_reason: Reason | None = Field(
        default=None, description="release although criteria fail or are missing (exceptional release)"
    )


class NoteIn(_In):
    note: Reason | None = None


class ReservationIn(_In):
    din: Code
    patient_ref: Name
    centre: Name | None = None
    days: ReservationDays = 30
    request_ct: bool = False
    note: Reason | None = None


class CancelIn(_In):
    reason: Reason


class CtResultIn(_In):
    gl: Gl
    lab: Name | None = None


class UserIn(_In):
    username: Name
    password: Password
    role: Code
    centre: Name | None = None


class UserPatch(_In):
    active: bool


class TokenIn(_In):
    name: Name
    days: TokenDays | None = None
    for_user: Name | None = None


class BankIn(_In):
    code: Code
    name: Name
    accreditation: Code = "none"
    facility_id: Code | None = None
    contact: Reason | None = Field(None, description="who a transplant centre contacts: search desk, phone, e-mail")


class BankContactIn(_In):
    contact: Reason | None = Field(description="who a transplant centre contacts (null or blank: none)")


class ProductCodesIn(_In):
    codes: dict[Code, Name] = Field(
        description="product description code -> description (bank-licensed)", max_length=100_000
    )


class MeOut(BaseModel):
    username: str
    role: str
    centre: str | None


class ExpiredOut(BaseModel):
    expired: int


class ImportOut(BaseModel):
    imported: int
    dins: list[str]


class ChainOut(BaseModel):
    ok: bool
    rows: int
    head: str
    broken_at: int | None
    problem: str | None


class TimelineEntry(BaseModel):
    id: int
    ts: datetime
    actor: str
    action: str
    before: Any
    after: Any
    reason: str | None


class Links(BaseModel):
    self: str
    next: str | None = None
    prev: str | None = None
    first: str


T = TypeVar("T")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    links: Links


class UnitPage(PageOut[UnitOut]):
    pass
