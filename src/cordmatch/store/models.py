"""SQLAlchemy 2 models of the bank. The schema itself is made by the Alembic migrations next door.

Counts are cells (TNC, CD34+), volumes mL, viabilities percent, CFU colonies per unit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from cordmatch.store.types import UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Bank(Base):
    """A cord blood bank (the facility that collects and stores units)."""

    __tablename__ = "banks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    facility_id: Mapped[str | None] = mapped_column(String(5))  # ISBT 128 FIN
    accreditation: Mapped[str] = mapped_column(String(64), default="none")  # e.g. "FACT-NetCord", "AABB"
    contact: Mapped[str | None] = mapped_column(
        String(500)
    )  # who a transplant centre calls: search desk, phone, e-mail


class ProductCode(Base):
    """ISBT 128 product description code from the bank's licensed table."""

    __tablename__ = "product_codes"
    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    description: Mapped[str] = mapped_column(String(300))


class Setting(Base):
    """Bank configuration as JSON (e.g. ``qc_criteria``)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    centre: Mapped[str | None] = mapped_column(String(200))  # transplant centre of a coordinator
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiToken(Base):
    """An API token; only the SHA-256 of the random token is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    # the administrator who issued it for another user (a delegated token: it acts, never signs)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class Unit(Base):
    """A cord blood unit. ``version`` grows by one with every change (lost updates show as gaps)."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("tank", "rack", "box", "slot", name="uq_units_storage_position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    din: Mapped[str] = mapped_column(String(13), unique=True)
    product_code: Mapped[str] = mapped_column(ForeignKey("product_codes.code"))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"))
    state: Mapped[str] = mapped_column(String(20), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    collection_volume_ml: Mapped[float | None] = mapped_column(Float)
    abo: Mapped[str | None] = mapped_column(String(2))
    rh: Mapped[str | None] = mapped_column(String(3))  # "pos" / "neg"
    idm_result: Mapped[str | None] = mapped_column(String(20))  # negative / positive / indeterminate
    idm_markers: Mapped[str | None] = mapped_column(Text)  # JSON {marker: result}
    sterility: Mapped[str | None] = mapped_column(String(20))  # negative / positive
    hb_screen: Mapped[str | None] = mapped_column(String(40))  # normal / trait / abnormal
    segments: Mapped[int] = mapped_column(Integer, default=0)
    tank: Mapped[str | None] = mapped_column(String(20))
    rack: Mapped[str | None] = mapped_column(String(20))
    box: Mapped[str | None] = mapped_column(String(20))
    slot: Mapped[str | None] = mapped_column(String(20))
    nima_gl: Mapped[str | None] = mapped_column(Text)
    red_cell_depleted: Mapped[bool | None] = mapped_column(Boolean)
    exceptional_release: Mapped[bool] = mapped_column(Boolean, default=False)
    exceptional_reason: Mapped[str | None] = mapped_column(Text)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    bank: Mapped[Bank] = relationship(lazy="joined")

    # Optimistic check on top of the row locks: every UPDATE says WHERE version = <read version>.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Measurement(Base):
    """Cell counts at one processing stage (collection, post_processing, pre_cryo, post_thaw)."""

    __tablename__ = "measurements"
    __table_args__ = (UniqueConstraint("unit_id", "stage", name="uq_measurements_unit_stage"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20))
    volume_ml: Mapped[float | None] = mapped_column(Float)
    tnc: Mapped[float | None] = mapped_column(Float)  # cells
    cd34: Mapped[float | None] = mapped_column(Float)  # cells
    viability_pct: Mapped[float | None] = mapped_column(Float)
    viable_cd34_pct: Mapped[float | None] = mapped_column(Float)
    viable_cd45_pct: Mapped[float | None] = mapped_column(Float)
    cfu: Mapped[float | None] = mapped_column(Float)  # colonies
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class HlaTyping(Base):
    """An HLA typing of a unit (GL string). A newer typing supersedes; none is ever overwritten."""

    __tablename__ = "hla_typings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    gl: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))  # initial / confirmatory / extended
    lab: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("hla_typings.id"))


class Reservation(Base):
    """A reservation of a unit for a patient. At most one ``active`` per unit (partial unique index)."""

    __tablename__ = "reservations"
    __table_args__ = (
        Index(
            "uq_reservations_one_active",
            "unit_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    centre: Mapped[str] = mapped_column(String(200))
    patient_ref: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # active / cancelled / expired / shipped
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ct_status: Mapped[str] = mapped_column(String(20), default="none")  # none / requested / done
    ct_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ct_typing_id: Mapped[int | None] = mapped_column(ForeignKey("hla_typings.id"))
    note: Mapped[str | None] = mapped_column(Text)
    # set when the unit's measurements were corrected after reservation: the holder must look again
    alert: Mapped[str | None] = mapped_column(Text)


class ReleaseRecord(Base):
    """A signed QC release decision with every criterion, value and verdict (JSON)."""

    __tablename__ = "release_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    decided_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    passed: Mapped[bool] = mapped_column(Boolean)
    released: Mapped[bool] = mapped_column(Boolean)
    exceptional: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    items: Mapped[str] = mapped_column(Text)  # JSON list of criterion results


class AuditRow(Base):
    """Append-only, hash-chained audit trail. Triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[str] = mapped_column(String(40))  # ISO 8601 UTC, as hashed
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(60), index=True)
    before: Mapped[str] = mapped_column(Text)  # canonical JSON
    after: Mapped[str] = mapped_column(Text)  # canonical JSON
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class SearchChange(Base):
    """One unit whose search data may have changed (written by triggers, migration 0003; read by the
    persistent search index). ``xid``: the writing transaction (PostgreSQL only)."""

    __tablename__ = "search_changes"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(Integer)
    xid: Mapped[int | None] = mapped_column(BigInteger, index=True)


class SearchMeta(Base):
    """Facts about the store for the persistent search index (``store_id``: a random id of this database)."""

    __tablename__ = "search_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
