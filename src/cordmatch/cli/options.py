"""Options shared by several commands: one definition each, the same flag and help everywhere."""

from __future__ import annotations

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
