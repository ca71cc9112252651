"""`cordmatch audit ...`: verify the hash chain of the bank's audit trail; export and check anchors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cordmatch.cli.common import DbOpt, JsonOpt, application, console, err_console, print_json

audit_app = typer.Typer(help="The bank's append-only audit trail.", no_args_is_help=True)

KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key-file", help="file holding the anchor-signing key (default: $CORDMATCH_AUDIT_KEY; none = unsigned)"
    ),
]


def _key(key_file: Path | None) -> bytes | None:
    """The signing key from --key-file or $CORDMATCH_AUDIT_KEY (None when neither is given)."""
    from cordmatch.errors import InvalidInputError

    if key_file is not None:
        try:
            key = key_file.read_bytes().strip()
        except OSError as exc:
            raise InvalidInputError(f"cannot read the key file: {exc.strerror}", where="--key-file") from None
        if len(key) < 16:
            raise InvalidInputError("the key file must hold at least 16 bytes", where="--key-file")
        return key
    env_key = application().settings.audit_key  # kept outside the database
    return env_key.encode("utf-8") if env_key else None


@audit_app.command("verify")
def verify_cmd(
    db: DbOpt = None,
    anchor_file: Annotated[
        Path | None, typer.Option("--anchor", help="an anchor written by `audit anchor`: detects truncation/rewrite")
    ] = None,
    key_file: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Walk the chain; exit 0 when intact (and, with --anchor, still holding the anchored row), else exit 2."""
    from cordmatch.errors import InvalidInputError
    from cordmatch.store import audit

    anchor = None
    if anchor_file is not None:
        try:
            anchor = audit.Anchor.from_dict(json.loads(anchor_file.read_text(encoding="utf-8")))
        except OSError as exc:
            raise InvalidInputError(f"cannot read the anchor: {exc.strerror}", where="--anchor") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"not an anchor file: {exc}", where="--anchor") from None
    key = _key(key_file) if anchor is not None else None
    with application(db=db).open_store(create=False) as store, store.read() as s:
        report = audit.verify(s, anchor=anchor, key=key)
    if as_json:
        print_json({"ok": report.ok, "rows": report.rows, "head": report.head,
                    "broken_at": report.broken_at, "problem": report.problem})  # fmt: skip
    if report.ok:
        if not as_json:
            anchored = f"; anchor row {anchor.row_id} present and unchanged" if anchor and anchor.row_id else ""
            console.print(f"audit trail intact: {report.rows} rows, head {report.head}{anchored}", highlight=False)
        return
    err_console.print(
        f"[bold red]audit trail broken:[/] {report.problem}; {report.rows} rows before it verify", highlight=False
    )
    raise typer.Exit(2)


@audit_app.command("anchor")
def anchor_cmd(
    db: DbOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="write the anchor to FILE (default: print it)")] = None,
    key_file: KeyOpt = None,
) -> None:
    """Export the chain's head (row id, rows, hash, time; HMAC-signed with the key) for safekeeping elsewhere."""
    from cordmatch.errors import ConflictError
    from cordmatch.store import audit

    key = _key(key_file)
    with application(db=db).open_store(create=False) as store, store.read() as s:
        try:
            a = audit.anchor(s, key)
        except ValueError as exc:
            raise ConflictError(str(exc), where="audit") from None
    text = json.dumps(a.to_dict(), indent=2, sort_keys=True)
    if out is None:
        typer.echo(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    signed = "signed" if a.mac else "unsigned (no key given)"
    console.print(f"anchor written to {out}: row {a.row_id}, {a.rows} rows, head {a.hash} ({signed})", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
