"""``GET /coverage``: population coverage of the bank's available units (simulated patients)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from cordmatch.api.deps import Actor
from cordmatch.bank.roles import Permission, require
from cordmatch.http.coverage import coverage_report

router = APIRouter(tags=["coverage"])


@router.get(
    "/coverage",
    summary="Share of simulated patients with a unit at >= 4/6 ... 8/8 (with and without the dose), "
    "optionally against bank size and with the under-served haplotypes",
)
def coverage(
    request: Request,
    actor: Actor,
    population: Annotated[str, Query(description="CAU, AFA, API, HIS, mix, a list (CAU,AFA) or all")] = "mix",
    patients: Annotated[int, Query(description="simulated patients per population (<= 20,000)")] = 1000,
    seed: Annotated[int, Query(description="random seed: same seed, same answer")] = 1,
    weight_kg: Annotated[float | None, Query(description="give every patient this weight (kg)")] = None,
    no_dose: Annotated[bool, Query(description="HLA only")] = False,
    policy: Annotated[str, Query(description="nmdp, dose-first or eurocord (dose rules)")] = "nmdp",
    sizes: Annotated[str | None, Query(description="bank sizes for a curve, e.g. 100,1000 (<= 8)")] = None,
    level: Annotated[str, Query(description="level that serves a patient (under-served table)")] = "5/6",
    underserved: Annotated[int, Query(description="how many under-served haplotypes to list")] = 0,
) -> dict[str, Any]:
    from cordmatch.services.coverage_query import CoverageQuery

    require(actor.role, Permission.UNIT_READ, who=actor.username)
    q = CoverageQuery(population, patients, seed, weight_kg, no_dose, policy, sizes, level, underserved)
    return coverage_report(request, q)
