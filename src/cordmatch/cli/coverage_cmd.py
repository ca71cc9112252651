"""`cordmatch coverage`: population coverage of a registry, bank-size curve, under-served haplotypes,
recruitment value of candidate units (docs/coverage.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cordmatch.cli.common import JsonOpt, console, load_tables, print_json
from cordmatch.errors import CordmatchError, InvalidInputError


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {what} file: {exc}", where=str(path)) from None


def coverage_command(
    registry: Annotated[
        str, typer.Option("--registry", help="Registry TARGET: SQLite file, SQLAlchemy URL or .parquet.")
    ],
    population: Annotated[
        str, typer.Option("--population", help="Patients: CAU, AFA, API, HIS, mix, a list (CAU,AFA) or all.")
    ] = "mix",
    patients: Annotated[int, typer.Option("--patients", help="Simulated patients (per population in a list).")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same answer).")] = 1,
    weight_kg: Annotated[float | None, typer.Option("--weight-kg", help="Give every patient this weight (kg).")] = None,
    weights: Annotated[
        Path | None, typer.Option("--weights", help="File of patient weights (kg, one a line) to draw from.")
    ] = None,
    no_dose: Annotated[bool, typer.Option("--no-dose", help="HLA only: do not assess cell dose.")] = False,
    policy: Annotated[
        str, typer.Option("--policy", help="Dose rules of: nmdp (default), dose-first, eurocord.")
    ] = "nmdp",
    sizes: Annotated[
        str | None,
        typer.Option("--sizes", help="Bank sizes for a coverage curve (subsets of the registry): 1000,10000"),
    ] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the size curve as .svg or .png.")] = None,
    underserved: Annotated[
        int, typer.Option("--underserved", help="Show the N haplotypes most often left without a unit.")
    ] = 0,
    candidate: Annotated[
        list[str] | None, typer.Option("--candidate", help="A candidate unit's typing (GL string); repeatable.")
    ] = None,
    candidates: Annotated[
        Path | None, typer.Option("--candidates", help="CSV of candidate units (unit_id,hla[,tnc,cd34]) to rank.")
    ] = None,
    level: Annotated[
        str, typer.Option("--level", help="Level that serves a patient (under-served, recruitment).")
    ] = "5/6",
    workers: Annotated[
        int, typer.Option("--workers", help="Run on a local Dask cluster of N workers (0 = in-process).")
    ] = 0,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Run on the Dask scheduler at this address.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Which share of simulated patients the registry serves at >= 4/6 ... 8/8, with and without the dose."""
    from cordmatch.io.cluster import ClusterSpec
    from cordmatch.selection.settings import default_settings
    from cordmatch.services import coverage as svc
    from cordmatch.services.coverage_query import CoverageQuery, run_query
    from cordmatch.sim.coverage_patients import simulate_patients

    _check_options(weight_kg, weights, no_dose, plot, sizes)
    q = CoverageQuery(population, patients, seed, weight_kg, no_dose, policy, sizes, level, underserved)
    settings = default_settings()
    try:
        q.check(settings)
    except InvalidInputError as exc:
        raise InvalidInputError(exc.message, where=f"--{(exc.where or '').replace('_', '-')}") from None
    weight_values = svc.parse_weights(_read(weights, "weights"), str(weights)) if weights is not None else None
    cluster = ClusterSpec(scheduler=scheduler) if scheduler else ClusterSpec(workers=workers) if workers else None
    tables = load_tables()
    cand_records = _candidate_records(candidates, candidate or [], tables)
    index = _open_registry(registry, tables)
    out = run_query(
        index,
        tables,
        q,
        simulate=simulate_patients,
        settings=settings,
        cluster=cluster,
        weights=weight_values,
        candidates=cand_records,
    )
    out["registry"] = registry
    if plot is not None:
        svc.write_plot(out["sizes"], plot, f"{registry}: {q.population} patients")
    if as_json:
        print_json(out)
    else:
        _print(out)


def _check_options(
    weight_kg: float | None, weights: Path | None, no_dose: bool, plot: Path | None, sizes: str | None
) -> None:
    """Options that exclude or need one another."""
    if weight_kg is not None and weights is not None:
        raise InvalidInputError("give --weight-kg or --weights, not both", where="--weights")
    if no_dose and weights is not None:
        raise InvalidInputError("--no-dose does not take a weight", where="--no-dose")
    if plot is not None and plot.suffix.lower() not in (".svg", ".png"):
        raise InvalidInputError("the plot file must end in .svg or .png", where="--plot")
    if plot is not None and sizes is None:
        raise InvalidInputError("--plot draws the --sizes curve: give --sizes", where="--plot")


def _candidate_records(candidates: Path | None, typings: list[str], tables: Any) -> Any:
    """The candidate units of the --candidates file, then one per --candidate typing; None when neither."""
    from cordmatch.services import coverage as svc

    records = None
    if candidates is not None:
        records = svc.parse_candidates(_read(candidates, "candidates"), tables, str(candidates))
    for i, gl in enumerate(typings, start=1):
        try:
            one = svc.parse_candidates(f"unit_id,hla\ncandidate-{i},{gl}\n", tables)
        except InvalidInputError as exc:
            raise InvalidInputError(exc.message, where=f"--candidate {i}") from None
        records = [*(records or []), *one]
    return records


def _open_registry(target: str, tables: Any) -> Any:
    """The registry's index; errors name --registry, and a missing local file is not created."""
    from cordmatch.services.search import load_registry

    if "://" not in target and not Path(target).exists():
        raise InvalidInputError(f"registry {target} does not exist", where="--registry")
    try:
        index, _ = load_registry(target, tables)
    except CordmatchError as exc:  # the store names its own option (--db); here it is --registry
        raise InvalidInputError(exc.message, where="--registry") from None
    except Exception as exc:  # the store's driver errors (a file that is not a database)
        if type(exc).__module__.split(".")[0] != "sqlalchemy":
            raise
        raise InvalidInputError(
            f"cannot read {target}: not a cordmatch bank store or registry .parquet file", where="--registry"
        ) from None
    return index


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:5.1f}%"


def _print(out: dict[str, Any]) -> None:
    from rich.table import Table

    from cordmatch.coverage.engine import LEVELS

    console.print(
        f"[bold]coverage[/] of {out['registry']} ({out['registry_units']:,} units): "
        f"{out['patients']:,} simulated {out['population']} patients, seed {out['seed']}"
    )
    rows = [out, *out.get("by_population", [])] if out.get("by_population") else [out]
    table = Table("patients", *(f">= {lv}" for lv in LEVELS), "double")
    for r in rows:
        table.add_row(f"{r['population']} ({r['patients']:,})", *(_pct(r["p_at_least"][lv]) for lv in LEVELS), "")
        if r["p_at_least_with_dose"] is not None:
            table.add_row("  with dose", *(_pct(r["p_at_least_with_dose"][lv]) for lv in LEVELS), _pct(r["p_double"]))
    console.print(table)
    console.print("median units per patient: " + ", ".join(f"{k} {v:g}" for k, v in out["median_units"].items()))
    for row in out.get("sizes", []):
        console.print(
            f"  {row['units']:>10,} units: >= 5/6 {_pct(row['p_at_least']['5/6'])}, "
            f"with dose {_pct((row['p_at_least_with_dose'] or {}).get('5/6'))}"
        )
    if out.get("underserved"):
        console.print("[bold]under-served haplotypes[/] (patients without a unit at the level, in the sample):")
        for r in out["underserved"]:
            console.print(
                f"  {r['population']} {r['haplotype']}  freq {r['frequency']:.4f}  "
                f"{r['patients_unserved']}/{r['patients_carrying']} carriers unserved",
                highlight=False,
            )
    if out.get("recruitment"):
        rec = out["recruitment"]
        console.print(
            f"[bold]recruitment value[/] (newly served at >= {rec['level']} of {rec['patients_unserved']:,} unserved):"
        )
        for c in rec["candidates"][:20]:
            per = ", ".join(f"{p} {n}" for p, n in c["by_population"].items())
            console.print(f"  {c['rank']:>3}. {c['unit_id']}: {c['newly_served']} ({per})", highlight=False)
    for note in out["notes"]:
        console.print(f"[cyan]note:[/] {note}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("coverage")(coverage_command)
