"""`cordmatch sim`: synthetic registries and patients (deterministic for a seed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cordmatch.cli.common import console, load_tables, progress_bar
from cordmatch.cli.options import RegistryOpt

sim_app = typer.Typer(help="Generate synthetic cord blood registries and patients.", no_args_is_help=True)


def _check_seed(seed: int) -> None:
    from cordmatch.errors import InvalidInputError

    if not 0 <= seed < 2**63:
        raise InvalidInputError(f"--seed must be a whole number from 0 to 2^63-1, got {seed}", where="--seed")


@sim_app.command("registry")
def registry_command(
    units: Annotated[int, typer.Option("--units", help="Number of units.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same registry).")] = 1,
    db: RegistryOpt = "registry.sqlite3",
    population: Annotated[str, typer.Option("--population", help="CAU, AFA, API, HIS or mix.")] = "mix",
    parquet: Annotated[
        Path | None, typer.Option("--parquet", help="Also export the same units to this Parquet file.")
    ] = None,
    partitions: Annotated[
        int,
        typer.Option(
            "--partitions",
            help="Write TARGET as a directory of this many Parquet partitions (for search-batch and "
            "impute-registry on Dask).",
        ),
    ] = 0,
) -> None:
    """Generate a registry of units with HLA drawn from the NMDP 2007 haplotype frequencies."""

    from cordmatch.errors import InvalidInputError
    from cordmatch.services.registry import write_registry
    from cordmatch.sim.haplotypes import check_population
    from cordmatch.sim.registry import generate_registry

    check_population(population)
    _check_seed(seed)
    if units < 0:
        raise InvalidInputError(f"--units must be >= 0, got {units}", where="--units")
    if partitions < 0:
        raise InvalidInputError(f"--partitions must be >= 1, got {partitions}", where="--partitions")
    tables = load_tables()
    with progress_bar("generating units", units, counts=True) as update:
        chunks = generate_registry(units, seed, population, tables, progress=update)
        rows = write_registry(db, chunks, tables.release, units=units, partitions=partitions)
    if parquet is not None:  # the same seed gives the same units: generate again for the export
        from cordmatch.io.parquet_registry import write_parquet

        with progress_bar("exporting to Parquet", units, counts=True) as update:
            again = generate_registry(units, seed, population, tables, progress=update)
            write_parquet(parquet, again, tables.release)
    where = f"{db} ({partitions} partitions)" if partitions else db
    console.print(f"wrote {rows:,} units to {where} (population {population.upper()}, seed {seed})")
    if parquet is not None:
        console.print(f"exported the same units to {parquet}")


@sim_app.command("patients")
def patients_command(
    n: Annotated[int, typer.Option("--n", help="Number of patients.")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1,
    population: Annotated[str, typer.Option("--population", help="CAU, AFA, API, HIS or mix.")] = "mix",
    out: Annotated[Path | None, typer.Option("--out", help="Write JSON lines (.jsonl) or Parquet (.parquet).")] = None,
) -> None:
    """Generate patients: typing, weight, diagnosis, ABO and anti-HLA antibodies with MFI."""
    from cordmatch.errors import InvalidInputError
    from cordmatch.sim.haplotypes import check_population
    from cordmatch.sim.patients import generate_patients

    check_population(population)
    _check_seed(seed)
    if n < 0:
        raise InvalidInputError(f"--n must be >= 0, got {n}", where="--n")
    patients = generate_patients(n, seed, population, load_tables())
    rows = [p.to_dict() for p in patients]
    if out is None:
        for r in rows:
            print(json.dumps(r))
    elif out.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), out)
        console.print(f"wrote {len(rows)} patients to {out}")
    else:
        out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        console.print(f"wrote {len(rows)} patients to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")
