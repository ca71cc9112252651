"""``GET /coverage``: population coverage of the bank's available units (simulated patients);
``POST /coverage/recruitment``: which candidate units would serve the most patients the bank does not."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import Field

from cordmatch.api.deps import Actor
from cordmatch.bank.roles import Permission, require
from cordmatch.http.coverage import coverage_report
from cordmatch.services.schemas import Code, Gl, _In

#: Most candidate units one request may rank.
MAX_CANDIDATES = 1000

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


class CandidateIn(_In):
    """A unit the bank could collect or acquire: its typing and, for the dose, its counts (cells)."""

    unit_id: Code = Field(description="the candidate's own name (unique in the request)")
    hla: Gl = Field(description="GL string, e.g. A*02:01+A*01:01^B*08:01+B*44:02^DRB1*03:01+DRB1*04:01")
    tnc: float | None = Field(None, description="total nucleated cells (cells); without it: HLA only")
    cd34: float | None = Field(None, description="CD34+ cells (cells)")


class RecruitmentIn(_In):
    """Candidates to rank against simulated patients not served by the bank (see ``GET /coverage``)."""

    candidates: list[CandidateIn] = Field(min_length=1, max_length=MAX_CANDIDATES)
    population: Code = "mix"
    patients: int = 1000
    seed: int = 1
    weight_kg: float | None = None
    no_dose: bool = False
    policy: Code = "nmdp"
    level: Code = "5/6"


@router.post(
    "/coverage/recruitment",
    summary="Rank candidate units by the simulated patients they would newly serve: patients without a bank "
    "unit at the level (and the single-unit dose when every candidate has a TNC)",
)
def recruitment(request: Request, actor: Actor, body: RecruitmentIn) -> dict[str, Any]:
    from cordmatch.services.coverage import candidate_records
    from cordmatch.services.coverage_query import CoverageQuery

    require(actor.role, Permission.UNIT_READ, who=actor.username)
    tables = request.app.state.application.tables
    rows = [c.model_dump() for c in body.candidates]
    candidates = candidate_records(rows, tables, [f"candidates[{i}]" for i in range(len(rows))])
    q = CoverageQuery(body.population, body.patients, body.seed, body.weight_kg, body.no_dose, body.policy,
                      None, body.level, 0)  # fmt: skip
    return coverage_report(request, q, candidates=candidates)
