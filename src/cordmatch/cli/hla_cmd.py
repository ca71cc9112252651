"""`cordmatch hla ...`: reduce, expand, validate names and GL strings; build or update the release."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cordmatch.cli.common import JsonOpt, MacsOpt, console, err_console, load_macs, load_tables, print_json
from cordmatch.errors import InvalidInputError

hla_app = typer.Typer(help="HLA nomenclature on the IPD-IMGT/HLA release (offline).", no_args_is_help=True)


@hla_app.command("reduce")
def reduce_cmd(
    typing: Annotated[str, typer.Argument(help="An allele name or a GL string.")],
    to: Annotated[str, typer.Option("--to", help="Level: G, P, lg, lgx, W, exon, U2, S.")] = "lgx",
    as_json: JsonOpt = False,
    macs: MacsOpt = None,
) -> None:
    """Reduce every allele of TYPING to a level."""
    from cordmatch.hla.loci import REDUCTION_LEVELS
    from cordmatch.hla.reduction import reduce_gl

    if to not in REDUCTION_LEVELS:
        raise InvalidInputError(f"unknown level {to!r} for --to; choose one of {', '.join(REDUCTION_LEVELS)}")
    tables = load_tables()
    notes: list[str] = []
    out = reduce_gl(typing, to, tables, load_macs(macs), notes)
    for note in notes:
        err_console.print(f"[yellow]warning:[/] {note}", highlight=False)
    if as_json:
        print_json({"input": typing, "level": to, "reduced": out, "release": tables.release, "warnings": notes})
    else:
        console.print(out, highlight=False, soft_wrap=True)


@hla_app.command("expand")
def expand_cmd(
    token: Annotated[str, typer.Argument(help="An allele, group, serologic antigen, XX code or MAC.")],
    as_json: JsonOpt = False,
    macs: MacsOpt = None,
) -> None:
    """List the full allele names a token stands for."""
    from cordmatch.hla.reduction import reduce_token

    tables = load_tables()
    notes: list[str] = []
    names = reduce_token(token, "W", tables, load_macs(macs), notes).split("/")
    for note in notes:
        err_console.print(f"[yellow]warning:[/] {note}", highlight=False)
    if as_json:
        print_json({"input": token, "alleles": names, "release": tables.release, "warnings": notes})
    else:
        console.print("\n".join(names), highlight=False)


@hla_app.command("validate")
def validate_cmd(
    typing: Annotated[str, typer.Argument(help="A GL string, e.g. 'A*01:01+A*02:01^B*08:01+B*44:02'.")],
    macs: MacsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a typing against the release; exit 0 when valid, 2 (with the reason) when not."""
    from cordmatch.hla.typing import parse_typing

    tables = load_tables()
    parsed = parse_typing(typing, tables, load_macs(macs))
    loci = {locus: lt.gl() for locus, lt in parsed.loci.items()}
    for note in parsed.warnings:
        err_console.print(f"[yellow]warning:[/] {note}", highlight=False)
    if as_json:
        print_json({"valid": True, "release": tables.release, "loci": loci, "warnings": list(parsed.warnings)})
    else:
        console.print(f"[green]valid[/] on IPD-IMGT/HLA {tables.release}: " + ", ".join(loci), highlight=False)


@hla_app.command("info")
def info_cmd() -> None:
    """Show the release in use, its citation and where its cache lives."""
    from cordmatch.imgt.cache import cache_file
    from cordmatch.imgt.release import CITATION, release_dir

    tables = load_tables()
    console.print(f"IPD-IMGT/HLA release {tables.release}: {len(tables.alleles)} alleles, {len(tables.names)} names")
    console.print(f"release files: {release_dir(tables.release)} (CC BY-ND, unmodified)")
    console.print(f"cache: {cache_file(release=tables.release)}")
    console.print(f"cite: {CITATION}", highlight=False)


@hla_app.command("build")
def build_cmd(rebuild: Annotated[bool, typer.Option("--rebuild", help="Rebuild even if cached.")] = False) -> None:
    """Build (or rebuild) the cached nomenclature tables of the active release, offline."""
    from cordmatch.cli.common import progress_bar
    from cordmatch.imgt.cache import cache_file, load_or_build
    from cordmatch.imgt.release import active_release

    release = active_release()
    with progress_bar("building HLA nomenclature") as update:
        tables = load_or_build(release=release, rebuild=rebuild, progress=lambda st, d, t: update(d, t, st))
    console.print(f"ready: IPD-IMGT/HLA {tables.release}, cache {cache_file(release=release)}")


@hla_app.command("update")
def update_cmd(
    from_dir: Annotated[
        Path | None, typer.Option("--from", help="A directory holding a release's files (offline).")
    ] = None,
    download: Annotated[
        str | None,
        typer.Option("--download", help="Fetch this release (e.g. 3.59.0) from IPD-IMGT/HLA: needs a network."),
    ] = None,
) -> None:
    """Add a newer IPD-IMGT/HLA release and make it the active one. Never touches the network unless
    --download is given."""
    from cordmatch.cli.common import progress_bar
    from cordmatch.imgt.cache import load_or_build
    from cordmatch.imgt.release import download_release, install_release, installed_releases_dir

    if (from_dir is None) == (download is None):
        raise InvalidInputError("give exactly one of --from DIR or --download VERSION", where="hla update")
    if download is not None:
        from_dir = download_release(download, installed_releases_dir())
    assert from_dir is not None
    version = install_release(from_dir)
    with progress_bar("building HLA nomenclature") as update:
        tables = load_or_build(release=version, progress=lambda st, d, t: update(d, t, st))
    installed_releases_dir().mkdir(parents=True, exist_ok=True)
    (installed_releases_dir() / "active").write_text(version, encoding="utf-8")
    console.print(f"active release: IPD-IMGT/HLA {tables.release} ({len(tables.alleles)} alleles)")


@hla_app.command("use")
def use_cmd(version: Annotated[str, typer.Argument(help="A release already installed, e.g. 3.58.0.")]) -> None:
    """Choose which installed release is active."""
    from cordmatch.imgt.release import installed_releases_dir, release_dir

    if not release_dir(version).is_dir():
        raise InvalidInputError(f"release {version} is not installed; use 'cordmatch hla update'", where=version)
    installed_releases_dir().mkdir(parents=True, exist_ok=True)
    (installed_releases_dir() / "active").write_text(version, encoding="utf-8")
    console.print(f"active release: IPD-IMGT/HLA {version}")


def register(app: typer.Typer) -> None:
    app.add_typer(hla_app, name="hla")
