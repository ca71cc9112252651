"""Helpers shared by CLI commands: loading the nomenclature with a progress bar, JSON output, MAC files."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from cordmatch.errors import InvalidInputError

if TYPE_CHECKING:
    from cordmatch.hla.mac import MacTable
    from cordmatch.hla.tables import NomenclatureTables

#: Options shared by several commands.
MacsOpt = Annotated[Path | None, typer.Option("--macs", help="MAC file in NMDP's tab-separated format.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]

#: ``update(done, total, description=None)`` of a progress bar.
ProgressUpdate = Callable[..., None]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


@contextmanager
def progress_bar(description: str, total: int = 1, *, counts: bool = False) -> Iterator[ProgressUpdate]:
    """A Rich progress bar on stderr; yields ``update(done, total, description=None)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn

    columns: list[ProgressColumn] = [TextColumn("[bold]{task.description}"), BarColumn()]
    if counts:
        columns.append(MofNCompleteColumn())
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(description, total=max(total, 1))

        def update(done: int, total: int, description: str | None = None) -> None:
            if description is None:
                bar.update(task, completed=done, total=max(total, 1))
            else:
                bar.update(task, completed=done, total=max(total, 1), description=description)

        yield update


def load_tables() -> NomenclatureTables:
    """The nomenclature tables; the first run builds them from the shipped release, with a progress bar."""
    from cordmatch.imgt import default_nomenclature
    from cordmatch.imgt.cache import cache_file
    from cordmatch.imgt.release import active_release

    if cache_file(release=active_release()).exists():
        return default_nomenclature()
    with progress_bar("building HLA nomenclature (first run only)") as update:
        return default_nomenclature(progress=lambda stage, done, total: update(done, total, f"{stage} (first run)"))


def load_macs(path: Path | None) -> MacTable | None:
    """Read a MAC file in NMDP's tab-separated format, or None."""
    if path is None:
        return None
    from cordmatch.hla.mac import parse_mac_lines

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read MAC file {path}: {exc.strerror}", where=str(path)) from exc
    return parse_mac_lines(text.splitlines(), source=str(path))


def print_json(data: Any) -> None:
    """Print JSON on stdout, nothing else."""
    print(json.dumps(data, indent=2, sort_keys=False))
