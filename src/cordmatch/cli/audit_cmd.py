"""`cordmatch audit ...`: verify the hash chain of the bank's audit trail."""

from __future__ import annotations

from typing import Annotated

import typer

from cordmatch.cli.common import console, err_console, print_json

audit_app = typer.Typer(help="The bank's append-only audit trail.", no_args_is_help=True)

DbOpt = Annotated[
    str | None, typer.Option("--db", help="SQLite file or SQLAlchemy URL (default: $CORDMATCH_DB or data dir).")
]


@audit_app.command("verify")
def verify_cmd(db: DbOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Walk the chain; exit 0 when intact, else exit 2 naming the first broken link."""
    from cordmatch.store import audit, open_store

    with open_store(db, create=False) as store, store.read() as s:
        report = audit.verify(s)
    if as_json:
        print_json({"ok": report.ok, "rows": report.rows, "head": report.head,
                    "broken_at": report.broken_at, "problem": report.problem})  # fmt: skip
    if report.ok:
        if not as_json:
            console.print(f"audit trail intact: {report.rows} rows, head {report.head}", highlight=False)
        return
    err_console.print(
        f"[bold red]audit trail broken:[/] {report.problem}; {report.rows} rows before it verify", highlight=False
    )
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
