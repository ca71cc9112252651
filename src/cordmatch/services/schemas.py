"""Inputs and outputs of the bank services (pydantic: the REST API can use them as they are).

Counts are cells, volumes mL, viabilities %, CFU colonies; datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from cordmatch.errors import InvalidInputError
from cordmatch.plausibility import MAX_JSON_DEPTH, RANGES, TEXT_LIMITS

Stage = Literal["collection", "post_processing", "pre_cryo", "post_thaw"]
STAGES: tuple[str, ...] = ("collection", "post_processing", "pre_cryo", "post_thaw")


def _checked_datetime(value: datetime) -> datetime:
    r = RANGES["year"]
    if not r.low <= value.year <= r.high:
        raise ValueError(f"year {value.year} is outside {r.low:g}..{r.high:g}")
    return value


def _past_datetime(value: datetime) -> datetime:
    """A time of an event that happened: not before 1900, and year > 2200 is plainly in the future."""
    r = RANGES["year"]
    if value.year < r.low:
        raise ValueError(f"year {value.year} is before {r.low:g}")
    if value.year > r.high:
        raise ValueError(f"{value.isoformat()} is in the future")
    return value


def _aware_utc(value: datetime) -> datetime:
    """A filter bound without a time zone is taken as UTC (said in the API description)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# Bounded field types: the limits come from the one table in cordmatch.plausibility.
Code = Annotated[str, StringConstraints(max_length=TEXT_LIMITS["code"])]
Name = Annotated[str, StringConstraints(max_length=TEXT_LIMITS["name"])]
Gl = Annotated[str, StringConstraints(max_length=TEXT_LIMITS["gl"])]
Reason = Annotated[str, StringConstraints(max_length=TEXT_LIMITS["reason"])]
Password = Annotated[str, StringConstraints(max_length=1000)]
Segments = Annotated[int, Field(le=int(RANGES["segments"].high))]  # negative: refused by check_tests
Stamp = Annotated[datetime, AfterValidator(_past_datetime)]
FilterStamp = Annotated[datetime, AfterValidator(_checked_datetime), AfterValidator(_aware_utc)]
TokenDays = Annotated[
    int, Field(ge=int(RANGES["token_days"].low), le=int(RANGES["token_days"].high), description="lifetime, days")
]
ReservationDays = Annotated[
    int,
    Field(ge=int(RANGES["reservation_days"].low), le=int(RANGES["reservation_days"].high), description="days"),
]
Markers = Annotated[dict[Name, Code], Field(max_length=50)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class StoragePosition(_In):
    tank: Code
    rack: Code
    box: Code
    slot: Code

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

    abo: Code | None = None  # A, B, AB, O
    rh: Code | None = None  # pos, neg
    idm_result: Code | None = None  # negative, positive, indeterminate
    idm_markers: Markers | None = None  # marker -> result, e.g. {"HBsAg": "negative"}
    sterility: Code | None = None  # negative, positive
    hb_screen: Code | None = None  # normal, carrier, abnormal
    segments: Segments | None = None  # attached segments


class UnitRegistration(_In):
    """A new collection. ``din`` in any usual form (13 chars, + check character, barcode)."""

    din: Code
    product_code: Code
    bank_code: Code
    collected_at: Stamp
    collection_volume_ml: float | None = None
    collection: MeasurementIn | None = None
    tests: TestResultsIn | None = None
    hla_gl: Gl | None = None
    nima_gl: Gl | None = None
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
    alert: str | None = None  # set when the unit's counts were corrected after reservation: review it


class UnitOut(BaseModel):
    din: str
    din_labelled: str  # with the ISBT 128 check character
    product_code: str
    bank_code: str
    bank_name: str
    accreditation: str
    bank_contact: str | None = None  # who to contact at the bank about this unit
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
    state: Code | None = None
    bank_code: Code | None = None
    abo: Code | None = None
    din_prefix: Code | None = None
    collected_from: FilterStamp | None = None  # no time zone = UTC
    collected_to: FilterStamp | None = None
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
    contact: str | None = None


M = TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: Any, *, where: str = "") -> M:
    """``model`` from a dict (or itself), turning pydantic errors into InvalidInputError naming the field."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except RecursionError:
        raise InvalidInputError(f"input nested deeper than {MAX_JSON_DEPTH} levels", where=where or "body") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise InvalidInputError(f"{field}: {err['msg']}", where=f"{where}{field}") from None
