"""hardening: delegated tokens (api_tokens.issued_by) and reservation alerts (reservations.alert)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issued_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_api_tokens_issued_by_users"), "users", ["issued_by"], ["id"])
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alert", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_column("alert")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_issued_by_users"), type_="foreignkey")
        batch_op.drop_column("issued_by")
