"""`cordmatch demo`: built-in patients and units graded end to end, offline."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cordmatch.cli.common import console, load_tables, progress_bar


def demo_command(
    units_n: Annotated[int, typer.Option("--units", help="Size of the generated demo registry.")] = 100_000,
    small: Annotated[bool, typer.Option("--grading-only", help="Only the built-in grading table.")] = False,
) -> None:
    """Grade built-in patients against built-in units, then search a generated registry (offline)."""
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
        # ids never wrap (the column is as wide as the longest id); their descriptions and the why do
        id_width = max(len(_unit_label(u).split("\n")[0]) for u in units)
        table.add_column("unit", min_width=id_width, max_width=max(id_width, 18))
        for col in ("6/6", "8/8", "GvH 8", "HvG 8"):
            table.add_column(col, no_wrap=True)
        table.add_column("why (worst position)", overflow="fold", ratio=1)
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
                    _unit_label(uname),
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
    if not small:
        registry_search_demo(tables, units_n)


def _unit_label(name: str) -> str:
    """``CBU-0001 (8/8 two-field)`` as the id on its own line, then the description."""
    uid, _, rest = name.partition(" (")
    return f"{uid}\n({rest}" if rest else uid


DEMO_SEED = 7


def demo_registry(tables: object, n: int) -> str:
    """A generated registry of ``n`` units, cached in the data directory (generated once, offline)."""

    from cordmatch.hla.tables import NomenclatureTables
    from cordmatch.paths import data_dir
    from cordmatch.services.registry import write_registry
    from cordmatch.sim.registry import generate_registry

    assert isinstance(tables, NomenclatureTables)
    path = data_dir() / "demo" / f"registry-{n}-seed{DEMO_SEED}-imgt{tables.release}.parquet"
    if not path.exists():
        with progress_bar(f"generating a demo registry of {n:,} units (first run only)", n, counts=True) as update:
            chunks = generate_registry(n, DEMO_SEED, "mix", tables, progress=update)
            write_registry(str(path), chunks, tables.release)
    return str(path)


def _m8(v: int | None) -> str:
    return "8-allele match unresolved" if v is None else f"{v}/8"


def registry_search_demo(tables: object, n: int) -> None:
    """Search the generated registry: a child's top 10 with explanations, then a heavy adult's double units."""
    import time

    from cordmatch.cli.search_cmd import outcome_table, sentence
    from cordmatch.demo_data import DEMO_PATIENTS
    from cordmatch.hla.tables import NomenclatureTables
    from cordmatch.services.search import SearchRequest, load_registry, run_search
    from cordmatch.sim.patients import generate_patients

    assert isinstance(tables, NomenclatureTables)
    target = demo_registry(tables, n)
    t0 = time.perf_counter()
    index, _ = load_registry(target, tables)
    console.print(
        f"\n[bold]registry search[/]: {len(index):,} generated units ({target}), loaded in "
        f"{time.perf_counter() - t0:.1f} s; {index.bytes_per_unit():.0f} index bytes per unit"
    )
    child_gl = next(iter(DEMO_PATIENTS.values()))
    antibodies = "specificity,mfi\nA*24:02,4200\nB*07:02,1800\n"
    req = SearchRequest(
        target,
        child_gl,
        18.0,
        antibodies_text=antibodies,
        top=10,
        diagnosis="acute myeloid leukaemia",
        malignant=True,
        abo="A",
    )
    t0 = time.perf_counter()
    out = run_search(req, tables)
    ms = (time.perf_counter() - t0) * 1000
    console.print(
        f"patient: child, 18 kg, AML, {child_gl}; antibodies A*24:02 (MFI 4200), B*07:02 (MFI 1800); "
        f"searched, filtered, ranked and explained in {ms:.0f} ms"
    )
    console.print(
        outcome_table(out, f"top 10 (policy nmdp) of {out.counts['passing_filters']:,} units passing the filters")
    )
    if out.results:
        best = out.results[0]
        console.print(f"[bold]why #1 {best.unit.unit_id}[/] ({best.unit.hla}):")
        for c in best.checks:
            console.print(f"   {c.verdict:4} {sentence(c)}", highlight=False)
    if len(out.results) > 1:
        last = out.results[-1]
        exp = run_search(
            SearchRequest(
                target,
                child_gl,
                18.0,
                antibodies_text=antibodies,
                top=1,
                explain=last.unit.unit_id,
                malignant=True,
                abo="A",
            ),
            tables,
        ).explanation
        if exp is not None:
            console.print(f"[bold]why {last.unit.unit_id} is only #{exp.rank}[/]:")
            for line in exp.lines:
                console.print(f"   {line}", highlight=False)
    # a heavy adult: the first generated adult (seeded) for whom no single unit reaches the dose
    for sp in generate_patients(40, DEMO_SEED, "mix", tables):
        if sp.weight_kg < 60:
            continue
        for weight in (110.0, 130.0, 150.0):
            r = run_search(SearchRequest(target, sp.hla, weight, top=3, malignant=sp.malignant), tables)
            if r.double_units:
                console.print(
                    f"\n[bold]heavy patient[/]: adult, {weight:g} kg, {sp.diagnosis}, {sp.hla}: "
                    f"{r.counts['meeting_single_unit_dose']} single units reach the single-unit dose"
                )
                d = r.double_units[0]
                console.print(
                    f"[bold]double-unit graft[/]: {d.first.unit.unit_id} ({_m8(d.first.match_8)}, "
                    f"{d.first.tnc_per_kg:.2f}) + {d.second.unit.unit_id} ({_m8(d.second.match_8)}, "
                    f"{d.second.tnc_per_kg:.2f}) x10^7 TNC/kg"
                )
                for c in d.checks:
                    console.print(f"   {c.verdict:4} {sentence(c)}", highlight=False)
                return
    console.print("no heavy generated patient needed a double-unit graft in this registry")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
