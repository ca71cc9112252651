"""`cordmatch grade`: a patient against a donor or cord blood unit, per locus and position."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cordmatch.cli.common import JsonOpt, MacsOpt, console, err_console, load_macs, load_tables, print_json


def _count(n: int | None) -> str:
    return "unknown" if n is None else str(n)


def mismatch_counts(allele: object, antigen: object) -> str:
    """One locus's mismatch counts on one line: ``allele GvH 1, HvG 0; antigen GvH 0, HvG 0``."""
    from cordmatch.matching.model import DirectionalCounts

    assert isinstance(allele, DirectionalCounts) and isinstance(antigen, DirectionalCounts)
    return (
        f"allele GvH {_count(allele.gvh)}, HvG {_count(allele.hvg)}; "
        f"antigen GvH {_count(antigen.gvh)}, HvG {_count(antigen.hvg)}"
    )


def grade_table(result: object, title: str = "HLA match") -> Table:
    """A Rich table of a MatchGrade: one row per position and one row of mismatch counts per locus, then the
    6 and 8 counts."""
    from cordmatch.matching.model import MatchGrade

    assert isinstance(result, MatchGrade)
    table = Table(title=title, show_lines=False)
    table.add_column("locus", no_wrap=True)
    table.add_column("patient", no_wrap=True)  # allele names never wrap
    table.add_column("donor", no_wrap=True)
    table.add_column("grade, and why", min_width=len("antigen match, allele mismatch"))
    style = {"allele match": "green", "antigen match, allele mismatch": "yellow", "antigen mismatch": "red"}
    for locus, lg in result.loci.items():
        if not lg.positions:
            table.add_row(locus, "", "", f"[dim]not graded[/]\n{lg.note or ''}", end_section=True)
            continue
        for i, pg in enumerate(lg.positions):
            colour = style.get(pg.grade, "magenta")
            why = f"[{colour}]{pg.grade}[/]\n[dim]{escape(pg.reason)}[/]"
            table.add_row(f"{locus}" if i == 0 else "", pg.patient, pg.donor, why)
        counts = f"[bold]{locus} mismatches:[/] {mismatch_counts(lg.allele, lg.antigen)}"
        table.add_row("", "", "", counts + (f"\n[dim]{escape(lg.note)}[/]" if lg.note else ""), end_section=True)
    for name, mc in (("6 (A,B antigen; DRB1 allele)", result.match_6), ("8 (A,B,C,DRB1 allele)", result.match_8)):
        if mc.bidirectional is None:
            val = f"[dim]n/a[/]: {escape(mc.reason or '')}"
        else:
            val = f"[bold]{mc.bidirectional}/{mc.out_of}[/]  (GvH {mc.gvh}/{mc.out_of}, HvG {mc.hvg}/{mc.out_of})"
            if mc.reason:
                val += f" {escape(mc.reason)}"
        table.add_row("match", "", "", f"{name}: {val}")
    return table


def grade_command(
    patient: Annotated[str, typer.Option("--patient", help="Patient typing as a GL string.")],
    donor: Annotated[str, typer.Option("--donor", help="Donor or cord blood unit typing as a GL string.")],
    as_json: JsonOpt = False,
    macs: MacsOpt = None,
) -> None:
    """Grade a patient against a donor or cord blood unit, with the reason for every grade."""
    from cordmatch.errors import InvalidInputError
    from cordmatch.hla.typing import parse_typing
    from cordmatch.matching import grade

    tables = load_tables()
    mac_table = load_macs(macs)
    typings = {}
    for side, gl in (("patient", patient), ("donor", donor)):
        try:
            typings[side] = parse_typing(gl, tables, mac_table)
        except InvalidInputError as exc:
            raise InvalidInputError(f"--{side}: {exc.message}", where=exc.where) from exc
    result = grade(typings["patient"], typings["donor"])
    for w in result.warnings:
        err_console.print(f"[yellow]warning:[/] {w}", highlight=False)
    if as_json:
        print_json(result.to_dict())
    else:
        console.print(grade_table(result))


def register(app: typer.Typer) -> None:
    app.command("grade")(grade_command)
