"""`cordmatch demo`: built-in patients and units graded end to end, offline."""

from __future__ import annotations

import typer
from rich.table import Table

from cordmatch.cli.common import console, load_tables


def demo_command() -> None:
    """Grade built-in patients against built-in cord blood units and print the results."""
    from cordmatch.demo_data import DEMO_PATIENTS, DEMO_UNITS
    from cordmatch.hla.typing import parse_typing
    from cordmatch.matching import grade

    tables = load_tables()
    console.print(
        f"[bold]cordmatch demo[/]: IPD-IMGT/HLA {tables.release}, offline. "
        "Decision support: it explains, people decide.\n"
    )
    units = {name: parse_typing(gl, tables) for name, gl in DEMO_UNITS.items()}
    for pname, pgl in DEMO_PATIENTS.items():
        patient = parse_typing(pgl, tables)
        table = Table(title=f"{pname}: {pgl}", title_justify="left")
        for col in ("unit", "6/6", "8/8", "GvH 8", "HvG 8", "why (worst position)"):
            table.add_column(col, overflow="fold")
        rows = []
        for uname, unit in units.items():
            g = grade(patient, unit)
            positions = [p for lg in g.loci.values() for p in lg.positions]
            order = {"antigen mismatch": 0, "unresolved": 1, "antigen match, allele mismatch": 2, "allele match": 3}
            worst = min(positions, key=lambda p: order.get(p.grade, 0)) if positions else None
            why = f"{worst.patient} vs {worst.donor}: {worst.grade}" if worst else ""
            if g.match_8.bidirectional is None:
                why += f" (8/8 n/a: {g.match_8.reason})"
            rows.append(
                (
                    -(g.match_8.bidirectional if g.match_8.bidirectional is not None else -1),
                    -(g.match_6.bidirectional or 0),
                    uname,
                    g.match_6.label(),
                    g.match_8.label(),
                    str(g.match_8.gvh if g.match_8.gvh is not None else "n/a"),
                    str(g.match_8.hvg if g.match_8.hvg is not None else "n/a"),
                    why,
                )
            )
        for row in sorted(rows):
            table.add_row(*row[2:])
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
