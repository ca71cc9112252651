"""bank contact: who a transplant centre's search coordinator contacts about a unit (banks.contact)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

A plain ``ADD COLUMN`` (nullable, no batch copy): on SQLite a batch migration would re-create the table
and drop the search-change triggers of 0003.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("banks", sa.Column("contact", sa.String(length=500), nullable=True))


def downgrade() -> None:
    op.drop_column("banks", "contact")
