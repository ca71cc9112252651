"""Helpers shared by CLI commands: loading the nomenclature with a progress bar, JSON output, MAC files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from cordmatch.errors import InvalidInputError

if TYPE_CHECKING:
    from cordmatch.hla.mac import MacTable
    from cordmatch.hla.tables import NomenclatureTables

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def load_tables() -> NomenclatureTables:
    """The nomenclature tables; the first run builds them from the shipped release, with a progress bar."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from cordmatch.imgt import default_nomenclature
    from cordmatch.imgt.cache import cache_file
    from cordmatch.imgt.release import active_release

    if cache_file(release=active_release()).exists():
        return default_nomenclature()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(), console=err_console) as bar:
        task = bar.add_task("building HLA nomenclature (first run only)", total=1)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=f"{stage} (first run only)", completed=done, total=max(total, 1))

        return default_nomenclature(progress=progress)


def build_progress() -> Any:
    """A Rich progress bar and a py-ard build callback feeding it (for explicit builds)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(), console=err_console)
    task = bar.add_task("building HLA nomenclature", total=1)

    def progress(stage: str, done: int, total: int) -> None:
        bar.update(task, description=stage, completed=done, total=max(total, 1))

    return bar, progress


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
