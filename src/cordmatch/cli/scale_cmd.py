"""`cordmatch search-batch` and `cordmatch export-registry`: registry-wide work on dask.distributed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from cordmatch.cli.common import application, console, err_console, load_tables, progress_bar
from cordmatch.cli.options import DbOpt, RegistryOpt, in_option_words

SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler", help="Address of a running Dask scheduler (tcp://host:8786); default: a local cluster."
    ),
]
WorkersOpt = Annotated[int, typer.Option("--workers", help="Workers of the local cluster (one process each).")]


def open_cluster(scheduler: str | None, workers: int):  # type: ignore[no-untyped-def]
    """A Dask client (context manager) with its dashboard address printed."""
    from cordmatch.io.cluster import ClusterSpec, open_client

    return open_client(ClusterSpec(scheduler=scheduler, workers=workers))


def say_dashboard(client: object) -> None:
    from cordmatch.io.cluster import dashboard_link

    link = dashboard_link(client)  # type: ignore[arg-type]
    n = len(client.scheduler_info()["workers"])  # type: ignore[attr-defined]
    err_console.print(f"Dask: {n} workers, dashboard {link or 'not available'}", highlight=False)


def search_batch_command(
    db: RegistryOpt,
    patients: Annotated[Path, typer.Option("--patients", help="Patients: JSON lines or Parquet (sim patients).")],
    top: Annotated[int, typer.Option("--top", help="Units per patient.")] = 10,
    policy: Annotated[str, typer.Option("--policy", help="nmdp (default), dose-first or eurocord.")] = "nmdp",
    out: Annotated[Path | None, typer.Option("--out", help="Write JSON lines here (default: standard output).")] = None,
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = 2,
    local: Annotated[
        bool, typer.Option("--local", help="Search in this process instead (the reference path).")
    ] = False,
) -> None:
    """Search many patients against a partitioned registry on Dask: each worker keeps the index of its
    partitions; the top units are merged exactly (same answers as one process)."""
    from cordmatch.errors import InvalidInputError
    from cordmatch.io.partitions import read_manifest
    from cordmatch.scale.search_batch import load_patients, search_batch, search_local
    from cordmatch.selection.settings import default_settings

    if top < 1:
        raise InvalidInputError(f"--top must be at least 1, got {top}", where="--top")
    with in_option_words({"policy": "--policy"}):
        default_settings().policy(policy)
    parts = read_manifest(db)
    load_tables()
    batch = load_patients(patients, policy=policy)
    today = dt.date.today()
    if local:
        results = search_local(db, batch, top=top, today=today)
    else:
        with open_cluster(scheduler, workers) as client:
            say_dashboard(client)
            with progress_bar(f"searching {len(batch)} patients in {len(parts)} partitions", 1, counts=True) as update:
                results = search_batch(client, parts, batch, top=top, today=today, progress=update)
    lines = "".join(json.dumps(r, default=str) + "\n" for r in results)
    if out is None:
        print(lines, end="")
    else:
        out.write_text(lines, encoding="utf-8")
        console.print(f"wrote {len(results)} outcomes to {out}")


def export_registry_command(
    out: Annotated[Path, typer.Option("--out", help="Directory of the partitioned registry (created).")],
    db: DbOpt = None,
    partitions: Annotated[int, typer.Option("--partitions", help="Number of Parquet partitions.")] = 4,
) -> None:
    """Export the bank's listed units (current typing, pre-cryopreservation counts) as a partitioned registry
    for search-batch and impute-registry."""
    from cordmatch.services.registry import export_store
    from cordmatch.store.engine import default_url

    settings = application(db=db).settings
    n = export_store(settings.db or default_url(settings), out, partitions, load_tables())
    console.print(f"exported {n:,} listed units to {out} ({partitions} partitions)")


def register(app: typer.Typer) -> None:
    app.command("search-batch")(search_batch_command)
    app.command("export-registry")(export_registry_command)
