"""Bank CLI: record a unit's cell counts, and the processing step that needs them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cordmatch.cli.bank_cmd import TokenOpt, UserOpt, _actor, _service, unit_app
from cordmatch.cli.common import DbOpt, console

#: The counts of one stage, as command-line options (absolute counts, not per kg).
VolumeOpt = Annotated[float | None, typer.Option("--volume", help="Volume in mL.")]
TncOpt = Annotated[float | None, typer.Option("--tnc", help="Total nucleated cells in the unit, e.g. 1.2e9.")]
Cd34Opt = Annotated[float | None, typer.Option("--cd34", help="CD34+ cells in the unit, e.g. 4.5e6.")]
ViabilityOpt = Annotated[float | None, typer.Option("--viability", help="Viability of nucleated cells, %.")]
ViableCd34Opt = Annotated[float | None, typer.Option("--viable-cd34", help="Viable CD34+ cells, %.")]
ViableCd45Opt = Annotated[float | None, typer.Option("--viable-cd45", help="Viable CD45+ cells, %.")]
CfuOpt = Annotated[float | None, typer.Option("--cfu", help="Colony-forming units in the unit.")]


def _counts(
    volume: float | None,
    tnc: float | None,
    cd34: float | None,
    viability: float | None,
    viable_cd34: float | None,
    viable_cd45: float | None,
    cfu: float | None,
) -> dict[str, Any]:
    """The given counts as the service's measurement fields (counts not given stay unknown)."""
    return {
        "volume_ml": volume,
        "tnc": tnc,
        "cd34": cd34,
        "viability_pct": viability,
        "viable_cd34_pct": viable_cd34,
        "viable_cd45_pct": viable_cd45,
        "cfu": cfu,
    }


@unit_app.command("process")
def unit_process_cmd(
    din: Annotated[str, typer.Argument()],
    tnc: TncOpt = None,
    rbc_depleted: Annotated[
        bool, typer.Option("--rbc-depleted/--not-rbc-depleted", help="Whether red cells were depleted.")
    ] = True,
    volume: VolumeOpt = None,
    cd34: Cd34Opt = None,
    viability: ViabilityOpt = None,
    viable_cd34: ViableCd34Opt = None,
    viable_cd45: ViableCd45Opt = None,
    cfu: CfuOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
) -> None:
    """Record the post-processing counts (TNC required) and move a received unit to processed."""
    svc = _service(db)
    values = _counts(volume, tnc, cd34, viability, viable_cd34, viable_cd45, cfu)
    out = svc.units.record_processing(_actor(svc, user, token), din, values, red_cell_depleted=rbc_depleted)
    console.print(f"{out.din_labelled}: {out.state}", highlight=False)


@unit_app.command("counts")
def unit_counts_cmd(
    din: Annotated[str, typer.Argument()],
    stage: Annotated[str, typer.Option("--stage", help="collection, post_processing, pre_cryo or post_thaw.")],
    volume: VolumeOpt = None,
    tnc: TncOpt = None,
    cd34: Cd34Opt = None,
    viability: ViabilityOpt = None,
    viable_cd34: ViableCd34Opt = None,
    viable_cd45: ViableCd45Opt = None,
    cfu: CfuOpt = None,
    db: DbOpt = None,
    user: UserOpt = None,
    token: TokenOpt = None,
) -> None:
    """Record the cell counts of one stage (a released unit's counts change only through a correction)."""
    svc = _service(db)
    values = _counts(volume, tnc, cd34, viability, viable_cd34, viable_cd45, cfu)
    out = svc.units.record_measurement(_actor(svc, user, token), din, stage, values)
    console.print(f"{out.din_labelled}: {stage} counts recorded", highlight=False)
