"""`cordmatch impute`, `cordmatch match-probability`, `cordmatch impute-registry`: genotype imputation
and match probability from population haplotype frequencies (NMDP 2007 sets by default)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

import typer

from cordmatch.cli.common import (
    JsonOpt,
    MacsOpt,
    application,
    console,
    err_console,
    load_macs,
    load_tables,
    print_json,
    progress_bar,
)

_POP_HELP = "Population (AFA, API, CAU, HIS; CAU_TOY = toy subset) or a mix such as CAU:0.7,HIS:0.3."
_FREQ_HELP = "Your own frequency set: CSV (Haplo,Freq columns); use with --metadata (hfx JSON)."


def _index(tables: Any, frequencies: Path | None, metadata: Path | None, population: str) -> Any:
    from cordmatch.io.frequency_sets import load_index

    if frequencies is not None:
        names = None if metadata is not None else [population.split(":")[0].split(",")[0].strip().upper()]
        return load_index([(frequencies, metadata)], tables, names=names)
    if population.strip().upper() == "CAU_TOY":
        return load_index(tables=tables, populations=["CAU_TOY"])
    return application().haplotype_index  # the shipped sets, on the application's tables


def _typing(gl: str, option: str, tables: Any, macs: Any) -> Any:
    from cordmatch.errors import InvalidInputError
    from cordmatch.hla.typing import parse_typing

    try:
        return parse_typing(gl, tables, macs)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{option}: {exc.message}", where=exc.where) from exc


def _warn(notes: list[str] | tuple[str, ...]) -> None:
    for n in notes:
        err_console.print(f"[yellow]note:[/] {n}", highlight=False)


FloorOpt = Annotated[float, typer.Option("--floor", help="Frequency given to alleles absent from the set.")]
FrequenciesOpt = Annotated[Path | None, typer.Option("--frequencies", help=_FREQ_HELP)]
MetadataOpt = Annotated[Path | None, typer.Option("--metadata", help="hfx metadata JSON of --frequencies.")]


def impute_command(
    typing: Annotated[str, typer.Option("--typing", help="Typing as a GL string (any resolution).")],
    population: Annotated[str, typer.Option("--population", help=_POP_HELP)],
    top: Annotated[int, typer.Option("--top", min=1, help="Genotypes shown.")] = 10,
    as_json: JsonOpt = False,
    floor: FloorOpt = 1e-5,
    frequencies: FrequenciesOpt = None,
    metadata: MetadataOpt = None,
    macs: MacsOpt = None,
) -> None:
    """Genotypes compatible with a typing and their probabilities (Hardy-Weinberg, haplotype frequencies)."""
    from rich.table import Table

    from cordmatch.errors import InvalidInputError
    from cordmatch.probability.imputation import constraints_from_typing, impute
    from cordmatch.services.probability import parse_population

    tables = load_tables()
    pop = parse_population(population)
    index = _index(tables, frequencies, metadata, population)
    index.population_weights(pop)
    typed = _typing(typing, "--typing", tables, load_macs(macs))
    post = impute(constraints_from_typing(typed, tables, index.loci), index, pop, floor=floor)
    if as_json:
        print_json(post.to_dict(top))
    if not post.ok:
        raise InvalidInputError(f"no estimate: {post.reason}", where="--typing")
    if as_json:
        return
    _warn(post.notes)
    table = Table(title=f"Genotypes of {typing} in {post.population} ({post.size} compatible)")
    table.add_column("#", justify="right")
    for locus in post.loci:
        table.add_column(locus, no_wrap=False, overflow="fold")
    table.add_column("P", justify="right")
    for i in range(min(top, post.size)):
        names = [post.locus_names(i, li) for li in range(len(post.loci))]
        table.add_row(str(i + 1), *["\n".join(n) for n in names], f"{post.probabilities[i]:.4f}")
    if post.floored:
        table.caption = f"floored (absent from the set): {', '.join(post.floored)}"
    console.print(table)


def match_probability_command(
    patient: Annotated[str, typer.Option("--patient", help="Patient typing as a GL string.")],
    donor: Annotated[str, typer.Option("--donor", help="Donor or cord blood unit typing as a GL string.")],
    population: Annotated[str, typer.Option("--population", help=_POP_HELP)],
    donor_population: Annotated[
        str | None, typer.Option("--donor-population", help="Donor's population, when not the patient's.")
    ] = None,
    as_json: JsonOpt = False,
    floor: FloorOpt = 1e-5,
    frequencies: FrequenciesOpt = None,
    metadata: MetadataOpt = None,
    macs: MacsOpt = None,
) -> None:
    """Probability of 0, 1, 2 mismatches per locus and of each 6 and 8 count, from imputed genotypes."""
    from rich.table import Table

    from cordmatch.errors import InvalidInputError
    from cordmatch.services.probability import match_probability, parse_population

    tables = load_tables()
    mac_table = load_macs(macs)
    index = _index(tables, frequencies, metadata, population)
    pt = _typing(patient, "--patient", tables, mac_table)
    dt = _typing(donor, "--donor", tables, mac_table)
    result = match_probability(
        pt,
        dt,
        parse_population(population),
        donor_population=parse_population(donor_population) if donor_population else None,
        tables=tables,
        index=index,
        floor=floor,
    )
    if as_json:
        print_json(result.to_dict())
    if not result.ok:
        raise InvalidInputError(result.reason or "no estimate", where="match-probability")
    if as_json:
        return
    _warn(result.notes)
    table = Table(title=f"Match probability ({result.population})")
    for col in ("locus", "P(0 mm)", "P(1 mm)", "P(2 mm)", "P(antigen match)"):
        table.add_column(col, justify="right" if col != "locus" else "left")
    for locus, dist in result.loci.items():
        table.add_row(locus, *[f"{p:.4f}" for p in dist], f"{result.loci_antigen[locus][0]:.4f}")
    console.print(table)
    console.print(
        f"P(8/8) = [bold]{result.at_least_8(8):.4f}[/]   P(>=7/8) = {result.at_least_8(7):.4f}   "
        f"P(6/6) = [bold]{result.at_least_6(6):.4f}[/]   P(>=5/6) = {result.at_least_6(5):.4f}"
    )


def impute_registry_command(
    population: Annotated[str, typer.Option("--population", help=_POP_HELP)],
    units: Annotated[
        Path | None, typer.Option("--units", help="CSV with columns unit_id and typing (GL string).")
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option("--registry", help="A partitioned registry directory: impute it on Dask, one partition per task."),
    ] = None,
    patient: Annotated[
        str | None, typer.Option("--patient", help="Also score every unit against this patient typing.")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", help="Write per-unit results as CSV here.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the posterior cache.")] = False,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="With --registry: a running Dask scheduler (tcp://host:8786).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="With --registry: workers of the local cluster.")] = 2,
) -> None:
    """Impute a whole registry (cached on disk) and, with --patient, each unit's P(8/8), P(>=7/8), P(6/6).
    --units CSV runs here; --registry DIR runs on Dask (a local cluster, or --scheduler)."""

    from cordmatch.errors import InvalidInputError, NotFoundError
    from cordmatch.scale.impute import HEADER, impute_rows
    from cordmatch.services.probability import parse_population

    if (units is None) == (registry is None):
        raise InvalidInputError("give either --units CSV or --registry DIR", where="--units")
    tables = load_tables()
    pop = parse_population(population)
    if patient is not None:
        _typing(patient, "--patient", tables, None)
    if registry is not None:
        parts = _registry_partitions(registry, population)
        from cordmatch.cli.scale_cmd import open_cluster, say_dashboard
        from cordmatch.scale.impute import impute_distributed

        with open_cluster(scheduler, workers) as client:
            say_dashboard(client)
            with progress_bar(f"imputing {len(parts)} partitions", len(parts), counts=True) as update:
                done = impute_distributed(client, parts, pop, patient, use_cache=not no_cache, progress=update)
        rows = [r for d in done for r in d.rows]
        distinct = sum(d.distinct_typings for d in done)
        hits = sum(d.cache_hits for d in done)
        problems = sum(d.problems for d in done)
        err_console.print(
            f"{len(rows)} units, {distinct} distinct typings (summed over partitions), {hits} from cache, "
            f"{problems} without estimate",
            highlight=False,
        )
    else:
        assert units is not None
        index = _index(tables, None, None, population)
        index.population_weights(pop)
        try:
            with units.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                fields = reader.fieldnames or []
                if "unit_id" not in fields or "typing" not in fields:
                    raise InvalidInputError(
                        f"--units needs the columns unit_id and typing (found {', '.join(fields)})", where=str(units)
                    )
                pairs = [(r["unit_id"], r["typing"]) for r in reader]
        except FileNotFoundError:
            raise NotFoundError(f"file not found: {units}", where=str(units)) from None
        with progress_bar("imputing", len(pairs), counts=True) as update:
            result = impute_rows(pairs, pop, patient, use_cache=not no_cache, index=index, progress=update)
        rows = result.rows
        err_console.print(
            f"{len(rows)} units, {result.distinct_typings} distinct typings, {result.cache_hits} from cache, "
            f"{result.problems} without estimate",
            highlight=False,
        )
    if output is not None:
        with output.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(HEADER)
            w.writerows(rows)
        err_console.print(f"wrote {output}", highlight=False)


def _registry_partitions(registry: str, population: str) -> Any:
    from cordmatch.errors import InvalidInputError
    from cordmatch.io.partitions import read_manifest

    if population.strip().upper() == "CAU_TOY":
        raise InvalidInputError("CAU_TOY is for --units only (workers load the shipped sets)", where="--population")
    return read_manifest(registry)


def register(app: typer.Typer) -> None:
    app.command("impute")(impute_command)
    app.command("match-probability")(match_probability_command)
    app.command("impute-registry")(impute_registry_command)
