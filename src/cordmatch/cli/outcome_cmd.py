"""`cordmatch outcome`: estimated neutrophil engraftment and the neutropenic infection-risk window.

Exit codes: 0 success; 2 bad input (impossible dose, match count out of range, unknown plot format),
with a one-line message naming the option and no traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cordmatch.cli.options import JsonOpt
from cordmatch.errors import CordmatchError

if TYPE_CHECKING:
    from cordmatch.outcomes.engraftment import EngraftmentEstimate

# Library field -> command-line option, so error messages name what the user typed.
_OPTION = {
    "tnc_per_kg": "--tnc",
    "cd34_per_kg": "--cd34",
    "match_8": "--match-8",
    "match_6": "--match-6",
    "dsa_mfi": "--dsa-mfi",
    "dsa_both_units": "--dsa-both",
    "weight_kg": "--weight",
    "age_group": "--age-group",
    "format": "--plot",
}


def outcome(
    tnc: float = typer.Option(..., "--tnc", help="TNC dose, x10^7 cells/kg (combined for --double)."),
    cd34: float | None = typer.Option(None, "--cd34", help="CD34+ dose, x10^5 cells/kg (combined for --double)."),
    match_8: int | None = typer.Option(None, "--match-8", help="Bidirectional allele matches at A, B, C, DRB1 (0-8)."),
    match_6: int | None = typer.Option(None, "--match-6", help="Matches at A, B (antigen) + DRB1 (allele), 0-6."),
    double: bool = typer.Option(False, "--double", help="Double-unit graft (doses are the sum of both units)."),
    dsa: bool = typer.Option(False, "--dsa", help="Patient has donor-specific anti-HLA antibodies."),
    dsa_mfi: float | None = typer.Option(
        None, "--dsa-mfi", help="MFI of the strongest DSA (compared with the centre threshold)."
    ),
    dsa_both: bool = typer.Option(False, "--dsa-both", help="Double graft: DSA against both units."),
    weight: float | None = typer.Option(None, "--weight", help="Recipient weight in kg (shows absolute cell numbers)."),
    malignant: bool | None = typer.Option(None, "--malignant/--non-malignant", help="Disease type, if known."),
    age_group: str | None = typer.Option(None, "--age-group", help="child or adult, if known."),
    as_json: JsonOpt = False,
    plot: Path | None = typer.Option(
        None, "--plot", help="Write the cumulative incidence curve to FILE.png or FILE.svg."
    ),
) -> None:
    """Estimate neutrophil engraftment (median day, day-42 probability) and the neutropenic window."""
    from cordmatch.outcomes.engraftment import EngraftmentInputs, estimate
    from cordmatch.plausibility import check_number

    check_number(tnc, "tnc_per_kg", "--tnc")
    check_number(cd34, "cd34_per_kg", "--cd34")
    check_number(dsa_mfi, "mfi", "--dsa-mfi")
    check_number(weight, "weight_kg", "--weight")
    check_number(match_8, "match_grade", "--match-8")
    check_number(match_6, "match_grade", "--match-6")
    inputs = EngraftmentInputs(
        tnc_per_kg=tnc,
        cd34_per_kg=cd34,
        match_8=match_8,
        match_6=match_6,
        double_unit=double,
        dsa=dsa or dsa_both or dsa_mfi is not None,
        dsa_mfi=dsa_mfi,
        dsa_both_units=dsa_both,
        weight_kg=weight,
        malignant=malignant,
        age_group=age_group,
    )
    try:
        result = estimate(inputs)
        image: bytes | None = None
        if plot is not None:
            from cordmatch.io.outcomes_plot import plot_engraftment

            image = plot_engraftment([("this graft", result)], fmt=plot.suffix.lower().lstrip("."))
    except CordmatchError as exc:
        raise _with_option(exc) from None
    if image is not None and plot is not None:
        plot.write_bytes(image)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
        return
    _print_human(result, plot)


def _with_option(exc: CordmatchError) -> CordmatchError:
    option = _OPTION.get(exc.where or "", exc.where)
    return type(exc)(exc.message, where=option)


def _print_human(result: EngraftmentEstimate, plot: Path | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    lo, hi = result.interval_days
    table = Table(title=f"Neutrophil engraftment estimate ({result.graft} unit)", show_header=False)
    table.add_row("Median engraftment day (among engrafters)", f"{result.median_days:.0f}")
    q = result.interval_quantiles
    table.add_row(f"{100 * q[0]:.0f}th-{100 * q[1]:.0f}th percentile", f"day {lo:.0f} - {hi:.0f}")
    table.add_row("Probability of engraftment by day 42", f"{100 * result.p_engraft_day42:.0f}%")
    table.add_row("Probability of engraftment at all", f"{100 * result.p_engraft_eventual:.0f}%")
    w = result.infection_window
    table.add_row("Neutropenic infection-risk window", f"day 0 - {w.end_day_median:.0f} (to day {hi:.0f})")
    table.add_row("Still neutropenic at day 28", f"{100 * w.p_neutropenic_day28:.0f}%")
    console.print(table)
    for line in result.explanations:
        console.print(f"- {line}", markup=False)
    from cordmatch.reports.numbers import LEGEND

    console.print(f"Sources: {LEGEND}", markup=False, style="dim")
    if plot is not None:
        console.print(f"Plot written to {plot}", markup=False)


def register(app: typer.Typer) -> None:
    app.command("outcome")(outcome)
