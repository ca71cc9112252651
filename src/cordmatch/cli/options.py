"""Options shared by several commands: one definition each, the same flag and help everywhere."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

#: ``--json``: machine-readable output on stdout, nothing else.
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

#: ``--db``: the bank store (default: the settings' ``$CORDMATCH_DB``, else the data directory's file).
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="The bank store: SQLite file or SQLAlchemy URL (default: $CORDMATCH_DB or data dir)."),
]

#: ``--db TARGET``: a registry of units to search or to write (a bank store is one, too).
RegistryOpt = Annotated[
    str,
    typer.Option(
        "--db", help="Registry TARGET: SQLite file, SQLAlchemy URL, .parquet file or directory of partitions."
    ),
]

#: ``--macs``: a MAC file.
MacsOpt = Annotated[Path | None, typer.Option("--macs", help="MAC file in NMDP's tab-separated format.")]


@contextmanager
def in_option_words(options: Mapping[str, str]) -> Iterator[None]:
    """Errors naming a request field (``CordmatchError.field``) re-raised naming the command's option
    (``options``: field -> option) instead. Antibody errors name their file and line already."""
    from cordmatch.errors import CordmatchError

    try:
        yield
    except CordmatchError as exc:
        field = exc.field
        if field is None or field == "antibodies":
            raise
        option = options.get(field, field)
        if exc.where is None or exc.where == field:
            raise type(exc)(exc.message, where=option, field=field) from None
        raise type(exc)(f"{option}: {exc.message}", where=exc.where, field=field) from None
