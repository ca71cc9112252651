"""Request and response bodies of the REST API that the service schemas do not already provide."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from cordmatch.services.schemas import MeasurementIn, UnitOut


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoginIn(_In):
    username: str
    password: str
    name: str = "api"  # a label for the token
    days: int | None = Field(default=30, description="token lifetime in days; null = no expiry")


class TransitionIn(_In):
    target: str = Field(description="received, processed, cryopreserved, quarantine, discarded or research")
    reason: str | None = None


class ProcessingIn(_In):
    values: MeasurementIn
    red_cell_depleted: bool


class TypingIn(_In):
    gl: str = Field(description="HLA typing as a GL string")
    kind: str = "initial"
    lab: str | None = None


class DiscardIn(_In):
    reason: str
    research: bool = False


class ReleaseIn(_In):
    exceptional_reason: str | None = Field(
        default=None, description="release although criteria fail or are missing (exceptional release)"
    )


class NoteIn(_In):
    note: str | None = None


class ReservationIn(_In):
    din: str
    patient_ref: str
    centre: str | None = None
    days: int = 30
    request_ct: bool = False
    note: str | None = None


class CancelIn(_In):
    reason: str


class CtResultIn(_In):
    gl: str
    lab: str | None = None


class UserIn(_In):
    username: str
    password: str
    role: str
    centre: str | None = None


class UserPatch(_In):
    active: bool


class TokenIn(_In):
    name: str
    days: int | None = None
    for_user: str | None = None


class BankIn(_In):
    code: str
    name: str
    accreditation: str = "none"
    facility_id: str | None = None


class ProductCodesIn(_In):
    codes: dict[str, str] = Field(description="product description code -> description (bank-licensed)")


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
