"""`cordmatch search`: rank a registry's cord blood units for one patient, with the reasons."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cordmatch.cli.common import console, err_console, load_tables, print_json
from cordmatch.cli.options import JsonOpt, RegistryOpt, in_option_words
from cordmatch.reports.numbers import LEGEND, threshold_text

if TYPE_CHECKING:
    from cordmatch.selection.model import RuleCheck, SearchOutcome
    from cordmatch.selection.settings import SelectionSettings

_COLOUR = {"pass": "green", "flag": "yellow", "fail": "red", "info": "dim"}

#: The search request's fields as this command's options.
OPTIONS = {"patient_gl": "--patient", "weight_kg": "--weight", "abo": "--abo", "top": "--top", "policy": "--policy",
           "explain": "--explain", "population": "--population", "antibodies": "--antibodies"}  # fmt: skip


def outcome_table(outcome: SearchOutcome, title: str = "ranked units") -> Table:
    """Ranked units: match, dose and the cautions of each. Unit ids never wrap (an 80-column terminal
    folds the cautions instead)."""
    width = max([len(r.unit.unit_id) for r in outcome.results] + [4])
    table = Table(title=title, title_justify="left")
    table.add_column("#", no_wrap=True, justify="right")
    table.add_column("unit", no_wrap=True, min_width=width)
    table.add_column("8/8", no_wrap=True)
    table.add_column("6/6", no_wrap=True)
    table.add_column("TNC\nx10^7/kg", no_wrap=True, justify="right")
    table.add_column("CD34+\nx10^5/kg", no_wrap=True, justify="right")
    table.add_column("bank", overflow="fold")
    table.add_column("cautions", ratio=1, overflow="fold")
    for r in outcome.results:
        cautions = "; ".join(f"{c.rule}: {c.value}" for c in r.checks if c.verdict in ("flag", "fail"))
        m8 = "n/a" if r.match_8 is None else f"{r.match_8}/8"
        m6 = "n/a" if r.match_6 is None else f"{r.match_6}/6"
        cd = "n/a" if r.cd34_per_kg is None else f"{r.cd34_per_kg:.2f}"
        table.add_row(
            str(r.rank),
            r.unit.unit_id,
            m8,
            m6,
            f"{r.tnc_per_kg:.2f}",
            cd,
            r.unit.bank,
            Text(cautions, style="yellow") if cautions else Text("none", style="green"),
        )
    return table


def sentence(check: RuleCheck) -> str:
    """A rule check for reading: its numbers without float noise."""
    return threshold_text(check.sentence())


def print_outcome(outcome: SearchOutcome, explain_all: bool = False) -> None:
    console.print(
        outcome_table(
            outcome,
            f"policy {outcome.policy}: top {len(outcome.results)} of "
            f"{outcome.counts['passing_filters']:,} units passing the filters "
            f"({outcome.counts['units']:,} in the registry)",
        )
    )
    if explain_all:
        for r in outcome.results:
            console.print(f"[bold]#{r.rank} {r.unit.unit_id}[/] {r.unit.hla}")
            for c in r.checks:
                console.print(f"   [{_COLOUR.get(c.verdict, 'white')}]{c.verdict:4}[/] {sentence(c)}", highlight=False)
    for k, d in enumerate(outcome.double_units, start=1):
        console.print(
            f"[bold]double unit {k}[/]: {d.first.unit.unit_id} + {d.second.unit.unit_id}, "
            f"combined {d.combined_tnc_per_kg:.2f} x10^7 TNC/kg"
        )
        for c in d.checks:
            console.print(f"   [{_COLOUR.get(c.verdict, 'white')}]{c.verdict:4}[/] {sentence(c)}", highlight=False)
    for note in outcome.notes:
        console.print(f"[cyan]note:[/] {note}", highlight=False)
    console.print(f"[dim]sources: {LEGEND}[/]", highlight=False)
    if outcome.explanation is not None:
        e = outcome.explanation
        console.print(f"[bold]explain {e.unit_id}[/]: {e.status}")
        for line in e.lines:
            console.print(f"   {line}", highlight=False)
        for c in e.checks:
            console.print(f"   [{_COLOUR.get(c.verdict, 'white')}]{c.verdict:4}[/] {sentence(c)}", highlight=False)


def search_command(
    db: RegistryOpt,
    patient: Annotated[str, typer.Option("--patient", help="Patient typing as a GL string.")],
    weight: Annotated[float, typer.Option("--weight", help="Patient weight in kg.")],
    antibodies: Annotated[
        Path | None, typer.Option("--antibodies", help="Antibody file: lines SPECIFICITY,MFI.")
    ] = None,
    policy: Annotated[str, typer.Option("--policy", help="nmdp (default), dose-first or eurocord.")] = "nmdp",
    top: Annotated[int, typer.Option("--top", help="Number of units to show.")] = 10,
    as_json: JsonOpt = False,
    explain: Annotated[
        str | None, typer.Option("--explain", help="Say why this unit was excluded or ranked lower.")
    ] = None,
    diagnosis: Annotated[str | None, typer.Option("--diagnosis", help="Diagnosis (free text).")] = None,
    malignant: Annotated[
        bool | None, typer.Option("--malignant/--non-malignant", help="Disease malignant or not (dose thresholds).")
    ] = None,
    abo: Annotated[str | None, typer.Option("--abo", help="Patient ABO group (O, A, B, AB).")] = None,
    settings_file: Annotated[Path | None, typer.Option("--settings", help="TOML file overriding thresholds.")] = None,
    assignments: Annotated[
        list[str] | None, typer.Option("--set", help="Override one threshold: name=value (repeatable).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show every rule of every unit.")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write the search report: FILE.pdf or FILE.html.")
    ] = None,
    patient_ref: Annotated[
        str | None, typer.Option("--patient-ref", help="Patient reference printed on the report.")
    ] = None,
    research: Annotated[
        bool,
        typer.Option("--research", help="Rank grafts for an investigational use (registered research protocol only)."),
    ] = False,
    population: Annotated[
        str | None,
        typer.Option("--population", help="Patient population for match probabilities: CAU, AFA, API, HIS or mix."),
    ] = None,
) -> None:
    """Search a registry for one patient: graded, filtered, ranked by the policy, every rule explained."""
    from cordmatch.errors import InvalidInputError
    from cordmatch.plausibility import TEXT_LIMITS
    from cordmatch.selection.settings import default_settings, parse_assignments, settings_from_toml
    from cordmatch.services.search import SearchRequest, run_search

    settings = default_settings()
    if settings_file is not None:
        try:
            text = settings_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"cannot read settings file: {exc.strerror}", where=str(settings_file)) from None
        settings = settings_from_toml(text, str(settings_file), settings)
    if assignments:
        settings = settings.with_values(parse_assignments(assignments), "--set")
    with in_option_words(OPTIONS):
        settings.policy(policy)
    report_format = None
    if report is not None:
        from cordmatch.reports.files import format_of

        report_format = format_of(report, ("pdf", "html"), "--report")  # before the search: fail fast
        folder = report.parent if str(report.parent) else Path(".")
        if not folder.is_dir():
            raise InvalidInputError(f"cannot write {report}: folder {folder} does not exist", where="--report")
    ab_text = None
    if antibodies is not None:
        try:
            if antibodies.stat().st_size > 4 * TEXT_LIMITS["antibodies"]:
                raise InvalidInputError(
                    f"antibody file is larger than {4 * TEXT_LIMITS['antibodies']} bytes", where=str(antibodies)
                )
            ab_text = antibodies.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read antibody file: {exc}", where=str(antibodies)) from None
    req = SearchRequest(
        target=db,
        patient_gl=patient,
        weight_kg=weight,
        antibodies_text=ab_text,
        antibodies_source=str(antibodies) if antibodies else "antibodies",
        policy=policy,
        top=top,
        explain=explain,
        diagnosis=diagnosis,
        malignant=malignant,
        abo=abo,
        research=research,
        population=population,
    )
    tables = load_tables()
    with in_option_words(OPTIONS):
        outcome = run_search(req, tables, settings)
    if report is not None and report_format is not None:
        _write_report(report, report_format, outcome.to_dict(), settings, tables.release, db, patient_ref,
                      ab_text is not None, top)  # fmt: skip
    if as_json:
        print_json(outcome.to_dict())
    else:
        print_outcome(outcome, explain_all=verbose)
    if not outcome.results and not outcome.double_units:
        gate = [n for n in outcome.notes if n.startswith("INVESTIGATIONAL")]
        err_console.print(
            "[yellow]investigational use: no graft ranked without --research[/]"
            if gate
            else "[yellow]no unit passes the hard filters[/]"
        )


def _write_report(
    path: Path,
    fmt: str,
    outcome: dict[str, Any],
    settings: SelectionSettings,
    release: str,
    registry: str,
    patient_ref: str | None,
    antibodies_given: bool,
    top: int,
) -> None:
    from cordmatch.reports.files import write_file
    from cordmatch.reports.search_render import render_html, render_pdf
    from cordmatch.reports.search_report import ReportContext, build

    ctx = ReportContext(settings=settings, release=release, patient_ref=patient_ref, registry=registry,
                        antibodies_given=antibodies_given, top=top)  # fmt: skip
    content = build(outcome, ctx)
    data = render_pdf(content) if fmt == "pdf" else render_html(content).encode("utf-8")
    write_file(path, data, option="--report")
    err_console.print(f"search report written to {path}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("search")(search_command)
