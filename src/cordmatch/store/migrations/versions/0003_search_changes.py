"""search change log: every write that can change a unit's search data logs the unit id

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

Triggers (SQLite and PostgreSQL) append ``(seq, unit_id)`` to ``search_changes`` when a unit is inserted,
updated or deleted, when a typing or measurement of a unit is written, and (for all its units) when a
bank changes. The persistent search index (``cordmatch.services.store_index``) reads the log to reload
only what changed. On PostgreSQL each row also carries its transaction id (``xid``), so a reader can
tell rows of transactions still in flight (their ``seq`` may commit out of order). ``search_meta`` holds
a random store id so an index file never serves another database.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# (table, events, expression giving the unit id of NEW / OLD)
_SOURCES = (
    ("units", ("INSERT", "UPDATE"), "NEW.id"),
    ("units", ("DELETE",), "OLD.id"),
    ("hla_typings", ("INSERT", "UPDATE"), "NEW.unit_id"),
    ("measurements", ("INSERT", "UPDATE"), "NEW.unit_id"),
    ("measurements", ("DELETE",), "OLD.unit_id"),
)


def upgrade() -> None:
    op.create_table(
        "search_changes",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("xid", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_search_changes")),
    )
    with op.batch_alter_table("search_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_changes_xid"), ["xid"], unique=False)
    op.create_table(
        "search_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_search_meta")),
    )
    op.bulk_insert(
        sa.table("search_meta", sa.column("key", sa.String), sa.column("value", sa.String)),
        [{"key": "store_id", "value": uuid.uuid4().hex}],
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table, events, expr in _SOURCES:
            for ev in events:
                op.execute(
                    f"CREATE TRIGGER search_log_{table}_{ev.lower()} AFTER {ev} ON {table} "
                    f"BEGIN INSERT INTO search_changes(unit_id) VALUES ({expr}); END"
                )
        op.execute(
            "CREATE TRIGGER search_log_banks_update AFTER UPDATE ON banks "
            "BEGIN INSERT INTO search_changes(unit_id) SELECT id FROM units WHERE bank_id = NEW.id; END"
        )
    elif dialect == "postgresql":
        for name, col in (("search_log_unit", "id"), ("search_log_child", "unit_id")):
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF TG_OP = 'DELETE' THEN "
                f"INSERT INTO search_changes(unit_id, xid) VALUES (OLD.{col}, pg_current_xact_id()::text::bigint); "
                "ELSE "
                f"INSERT INTO search_changes(unit_id, xid) VALUES (NEW.{col}, pg_current_xact_id()::text::bigint); "
                "END IF; RETURN NULL; END $$"
            )
        op.execute(
            "CREATE FUNCTION search_log_bank() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "INSERT INTO search_changes(unit_id, xid) "
            "SELECT id, pg_current_xact_id()::text::bigint FROM units WHERE bank_id = NEW.id; "
            "RETURN NULL; END $$"
        )
        for table, function in (("units", "unit"), ("hla_typings", "child"), ("measurements", "child")):
            op.execute(
                f"CREATE TRIGGER search_log_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION search_log_{function}()"
            )
        op.execute(
            "CREATE TRIGGER search_log_banks AFTER UPDATE ON banks FOR EACH ROW EXECUTE FUNCTION search_log_bank()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table, events, _ in _SOURCES:
            for ev in events:
                op.execute(f"DROP TRIGGER IF EXISTS search_log_{table}_{ev.lower()}")
        op.execute("DROP TRIGGER IF EXISTS search_log_banks_update")
    elif dialect == "postgresql":
        for table in ("units", "hla_typings", "measurements", "banks"):
            op.execute(f"DROP TRIGGER IF EXISTS search_log_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS search_log_unit()")
        op.execute("DROP FUNCTION IF EXISTS search_log_child()")
        op.execute("DROP FUNCTION IF EXISTS search_log_bank()")
    op.drop_table("search_meta")
    with op.batch_alter_table("search_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_changes_xid"))
    op.drop_table("search_changes")
