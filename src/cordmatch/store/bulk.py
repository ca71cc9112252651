"""Driver-level bulk inserts of many rows (generated registries, imports), inside the caller's transaction.

PostgreSQL: ``COPY``. SQLite: one ``executemany`` per table. While new units are inserted,
:func:`logged_once` replaces the per-row search-log triggers (one ``search_changes`` row per unit, per
typing and per measurement: half the insert time on SQLite) by one log row per new unit, written in the
same transaction. SQLite: the triggers are dropped and re-created from their stored SQL before the
transaction ends; the transaction holds the write lock throughout. PostgreSQL: ``ALTER TABLE ... DISABLE
TRIGGER`` and ``ENABLE TRIGGER``, whose lock makes any other writer of these tables wait for the commit.
Either way no other writer ever runs without the triggers, and a failure rolls the change back with
everything else.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

#: Tables whose per-row search-log triggers a bulk insert of new units replaces.
LOGGED_TABLES = ("units", "measurements", "hla_typings")


def insert_rows(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (values in ``columns`` order) through the driver: COPY on PostgreSQL, executemany on
    SQLite (one prepared statement). A duplicate key raises :class:`IntegrityError` on both."""
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        import psycopg

        raw = conn.connection.driver_connection
        assert raw is not None
        try:
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        except psycopg.IntegrityError as exc:
            raise IntegrityError(f"COPY {table}", None, exc) from exc
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(rows))  # type: ignore[arg-type]


@contextmanager
def logged_once(conn: Connection, first_id: int, last_id: int) -> Iterator[None]:
    """New units ``first_id``..``last_id`` (with their typings and measurements) are inserted inside this
    block; the search change log gets one row per unit instead of one per inserted row. Must run inside a
    write transaction: it holds SQLite's write lock, and on PostgreSQL ``ALTER TABLE ... DISABLE TRIGGER``
    takes a lock that makes other writers of these tables wait for the commit (readers do not wait)."""
    if conn.dialect.name == "postgresql":
        with _postgresql_logged_once(conn, first_id, last_id):
            yield
        return
    if conn.dialect.name != "sqlite":
        yield
        return
    marks = ", ".join("?" for _ in LOGGED_TABLES)
    triggers = conn.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({marks}) ORDER BY name",
        LOGGED_TABLES,
    ).all()
    for name, _ in triggers:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield
    if triggers:  # a store without the change log (before its migration) gets no log rows
        conn.execute(
            text("INSERT INTO search_changes (unit_id) SELECT id FROM units WHERE id BETWEEN :a AND :b ORDER BY id"),
            {"a": first_id, "b": last_id},
        )
    for _, sql in triggers:
        conn.exec_driver_sql(sql)


@contextmanager
def _postgresql_logged_once(conn: Connection, first_id: int, last_id: int) -> Iterator[None]:
    """The enabled search-log triggers of the tables disabled for the block, one log row per new unit (with
    this transaction's id, as the triggers write it), the triggers enabled again; all in the transaction."""
    q = text(
        "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgname LIKE 'search\\_log%' "
        "AND c.oid IN (SELECT to_regclass(name) FROM unnest(CAST(:tables AS text[])) AS name) ORDER BY 1"
    )
    triggers = [(str(a), str(b)) for a, b in conn.execute(q, {"tables": list(LOGGED_TABLES)}).all()]
    for name, table in triggers:
        conn.exec_driver_sql(f'ALTER TABLE "{table}" DISABLE TRIGGER "{name}"')
    yield
    if triggers:
        conn.execute(
            text(
                "INSERT INTO search_changes (unit_id, xid) SELECT id, pg_current_xact_id()::text::bigint "
                "FROM units WHERE id BETWEEN :a AND :b ORDER BY id"
            ),
            {"a": first_id, "b": last_id},
        )
    for name, table in triggers:
        conn.exec_driver_sql(f'ALTER TABLE "{table}" ENABLE TRIGGER "{name}"')
