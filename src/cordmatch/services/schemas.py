"""Inputs and outputs of the bank services (pydantic: the REST API can use them as they are).

Counts are cells, volumes mL, viabilities %, CFU colonies; datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cordmatch.errors import InvalidInputError

Stage = Literal["collection", "post_processing", "pre_cryo", "post_thaw"]
STAGES: tuple[str, ...] = ("collection", "post_processing", "pre_cryo", "post_thaw")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StoragePosition(_In):
    tank: str
    rack: str
    box: str
    slot: str

    def __str__(self) -> str:
        return f"{self.tank}/{self.rack}/{self.box}/{self.slot}"


class MeasurementIn(_In):
    """Cell counts at one stage; every field optional (unknown = None)."""

    volume_ml: float | None = None
    tnc: float | None = None
    cd34: float | None = None
    viability_pct: float | None = None
    viable_cd34_pct: float | None = None
    viable_cd45_pct: float | None = None
    cfu: float | None = None


class TestResultsIn(_In):
    """Test results; fields left None are not changed."""

    abo: str | None = None  # A, B, AB, O
    rh: str | None = None  # pos, neg
    idm_result: str | None = None  # negative, positive, indeterminate
    idm_markers: dict[str, str] | None = None  # marker -> result, e.g. {"HBsAg": "negative"}
    sterility: str | None = None  # negative, positive
    hb_screen: str | None = None  # normal, carrier, abnormal
    segments: int | None = None  # attached segments


class UnitRegistration(_In):
    """A new collection. ``din`` in any usual form (13 chars, + check character, barcode)."""

    din: str
    product_code: str
    bank_code: str
    collected_at: datetime
    collection_volume_ml: float | None = None
    collection: MeasurementIn | None = None
    tests: TestResultsIn | None = None
    hla_gl: str | None = None
    nima_gl: str | None = None
    red_cell_depleted: bool | None = None
    storage: StoragePosition | None = None


class MeasurementOut(BaseModel):
    stage: str
    volume_ml: float | None
    tnc: float | None
    cd34: float | None
    viability_pct: float | None
    viable_cd34_pct: float | None
    viable_cd45_pct: float | None
    cfu: float | None
    recorded_at: datetime


class TypingOut(BaseModel):
    id: int
    gl: str
    kind: str
    lab: str | None
    recorded_at: datetime
    superseded_by: int | None


class ReservationOut(BaseModel):
    id: int
    din: str
    centre: str
    patient_ref: str
    reserved_by: str
    status: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    ct_status: str
    ct_requested_at: datetime | None
    exceptional_release: bool
    note: str | None


class UnitOut(BaseModel):
    din: str
    din_labelled: str  # with the ISBT 128 check character
    product_code: str
    bank_code: str
    bank_name: str
    accreditation: str
    state: str
    version: int
    collected_at: datetime
    registered_at: datetime
    collection_volume_ml: float | None
    abo: str | None
    rh: str | None
    idm_result: str | None
    idm_markers: dict[str, str] | None
    sterility: str | None
    hb_screen: str | None
    segments: int
    storage: StoragePosition | None
    nima_gl: str | None
    red_cell_depleted: bool | None
    exceptional_release: bool
    exceptional_reason: str | None
    released_at: datetime | None
    hla_gl: str | None  # current typing
    typings: list[TypingOut] = Field(default_factory=list)  # newest last
    measurements: dict[str, MeasurementOut] = Field(default_factory=dict)
    active_reservation: ReservationOut | None = None
    allowed_next: list[str] = Field(default_factory=list)


class UnitFilter(_In):
    state: str | None = None
    bank_code: str | None = None
    abo: str | None = None
    din_prefix: str | None = None
    collected_from: datetime | None = None
    collected_to: datetime | None = None
    min_tnc: float | None = None  # pre-cryopreservation TNC, cells
    exceptional_release: bool | None = None


class Page(BaseModel):
    items: list[UnitOut]
    total: int
    limit: int
    offset: int


class CriterionOut(BaseModel):
    key: str
    text: str
    value: Any
    verdict: str
    source: str
    required: bool


class ReleaseOut(BaseModel):
    din: str
    passed: bool
    released: bool
    exceptional: bool
    reason: str | None
    decided_by: str
    decided_at: datetime
    items: list[CriterionOut]


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    centre: str | None
    active: bool


class TokenOut(BaseModel):
    id: int
    name: str
    token: str  # shown once
    expires_at: datetime | None


class BankOut(BaseModel):
    code: str
    name: str
    facility_id: str | None
    accreditation: str


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: Any, *, where: str = "") -> M:
    """``model`` from a dict (or itself), turning pydantic errors into InvalidInputError naming the field."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise InvalidInputError(f"{field}: {err['msg']}", where=f"{where}{field}") from None
