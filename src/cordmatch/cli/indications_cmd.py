"""`cordmatch indications`: evidence categories of diseases treated by allogeneic HCT (cord blood as one
donor source), and investigational uses of cord blood (never shown as treatment).

Exit codes: 0 listed (or whole table shown); 2 the disease is not listed, or the text is empty. With
--json the result (status "not_listed") is still printed to stdout before exiting with code 2.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer

from cordmatch.cli.options import JsonOpt
from cordmatch.errors import CordmatchError, NotFoundError

if TYPE_CHECKING:
    from cordmatch.outcomes.indications import Indication, InvestigationalUse


def indications(
    disease: str | None = typer.Option(None, "--disease", help="Diagnosis as free text, e.g. 'AML', 'sickle cell'."),
    as_json: JsonOpt = False,
    age: float | None = typer.Option(None, "--age", help="Patient age in years: adult (>= 18) or paediatric rows."),
    weight: float | None = typer.Option(
        None, "--weight", help="Patient weight in kg (when no age: >= 50 kg shows adult rows)."
    ),
) -> None:
    """Show the indications table, or look up one diagnosis (rows of the patient's age group when given)."""
    from cordmatch.errors import InvalidInputError
    from cordmatch.outcomes.indications import NOT_LISTED, load_indications, patient_population

    for name, v in (("--age", age), ("--weight", weight)):
        if v is not None and not (0 <= v <= 150 if name == "--age" else 0 < v <= 300):
            raise InvalidInputError(f"{name} {v:g} is out of range", where=name)

    table = load_indications()
    if disease is None:
        if as_json:
            payload = {
                "indications": [i.to_dict() for i in table.indications],
                "investigational": [u.to_dict() for u in table.investigational],
            }
            typer.echo(json.dumps(payload, indent=2, sort_keys=True))
        else:
            _print_table(table.indications, table.investigational)
        return
    try:
        result = table.lookup(disease).for_population(patient_population(age, weight))
    except CordmatchError as exc:
        raise type(exc)(exc.message, where="--disease") from None
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
        if result.status == NOT_LISTED:
            raise typer.Exit(code=2)
        return
    if result.status == NOT_LISTED:
        raise NotFoundError(
            f"{disease!r} is not listed in the indications table; this is not a judgement on "
            "transplantation - ask the transplant centre",
            where="--disease",
        )
    _print_table(result.indications, result.investigational)
    if result.note:
        typer.echo(f"note: {result.note}")


def _print_table(indications: Sequence[Indication], investigational: Sequence[InvestigationalUse]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    rows = list(indications)
    if rows:
        t = Table(title="Indications for allogeneic HCT (cord blood is one donor source)")
        for col in ("Disease", "Population", "ASTCT", "EBMT 2022", "Cord blood"):
            t.add_column(col, overflow="fold")
        for i in rows:
            grade = f"/{i.ebmt_grade}" if i.ebmt_grade else ""
            t.add_row(
                i.name,
                i.population,
                f"{i.astct or '-'} [{i.astct_status}]",
                f"{(i.ebmt + grade) or '-'} [{i.ebmt_status}]",
                i.cord_blood_role,
            )
        console.print(t)
        console.print(
            "ASTCT: S standard, C standard with clinical evidence, R rare indication, D developmental, "
            "N not generally recommended. EBMT: S, CO clinical option, D, GNR generally not recommended. "
            "'-' = not in the retrieved rows.",
            markup=False,
        )
        from cordmatch.reports.numbers import LEGEND

        console.print(f"Sources: {LEGEND}", markup=False)
    for use in investigational:
        console.print(f"[bold yellow]INVESTIGATIONAL[/] {use.text}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("indications")(indications)
