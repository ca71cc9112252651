"""PostgreSQL deployment with a separate owner: the application's role cannot alter the audit trail.

The owner role (which runs ``open_store`` once to migrate, or ``cordmatch bank init``) owns every table,
the audit triggers included. The application role, which the server connects as, gets plain DML on the
bank's tables but only SELECT and INSERT on ``audit_log``: it cannot UPDATE, DELETE or TRUNCATE audit
rows, and since only an owner may ALTER a table or DROP/DISABLE its triggers, it cannot remove the guard
either. See docs/bank.md ("Audit integrity").
"""

from __future__ import annotations

import re

from sqlalchemy import text

from cordmatch.errors import InvalidInputError
from cordmatch.store.engine import Store

_ROLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
AUDIT_TABLE = "audit_log"
READ_ONLY_TABLES = ("alembic_version",)


def grant_application_role(owner: Store, role: str) -> None:
    """As the owner, grant ``role`` what the application needs in the store's schema, and no more."""
    if owner.dialect != "postgresql":
        raise InvalidInputError("separate owner and application roles are a PostgreSQL deployment", where="--db")
    if not _ROLE.match(role):
        raise InvalidInputError(f"role name {role!r} is not a plain identifier", where="role")
    with owner.engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        tables = [
            t for (t,) in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema})
        ]
        q = f'"{schema}"'
        conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA {q} TO "{role}"')
        conn.exec_driver_sql(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {q} TO "{role}"')
        for table in tables:
            if table == AUDIT_TABLE:
                privileges = "SELECT, INSERT"
            elif table in READ_ONLY_TABLES:
                privileges = "SELECT"
            else:
                privileges = "SELECT, INSERT, UPDATE, DELETE"
            conn.exec_driver_sql(f'GRANT {privileges} ON {q}."{table}" TO "{role}"')
