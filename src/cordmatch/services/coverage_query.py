"""One coverage question as the CLI, the REST API and the director's page ask it: validated, then answered
from a registry index (the report of :mod:`cordmatch.services.coverage`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from cordmatch.coverage.cohort import MAX_PATIENTS, SimulatedPatients, check_count
from cordmatch.coverage.engine import LEVELS, CoverageIndex, CoveragePatients, PatientCoverage
from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.io.cluster import ClusterSpec
from cordmatch.selection.index import UnitIndex
from cordmatch.selection.model import UnitRecord
from cordmatch.selection.settings import SelectionSettings, default_settings
from cordmatch.services import coverage as svc

#: Most patients (per population) one API or page request may simulate; the CLI allows MAX_PATIENTS.
API_MAX_PATIENTS = 20_000
API_MAX_SIZES = 8


class PatientSimulator(Protocol):
    """Draws ``n`` coded patients of one population, deterministic for ``seed``."""

    def __call__(
        self,
        n: int,
        seed: int,
        population: str,
        tables: NomenclatureTables,
        settings: SelectionSettings | None = None,
        *,
        weight_kg: float | None = None,
        weights: npt.NDArray[np.float64] | None = None,
    ) -> SimulatedPatients: ...


@dataclass(frozen=True)
class CoverageQuery:
    """What to simulate and report (see ``cordmatch coverage --help``)."""

    population: str = "mix"
    patients: int = 1000
    seed: int = 1
    weight_kg: float | None = None
    no_dose: bool = False
    policy: str = "nmdp"
    sizes: str | None = None
    level: str = "5/6"
    underserved: int = 0

    def check(self, settings: SelectionSettings, max_patients: int = MAX_PATIENTS) -> list[str]:
        """Raise InvalidInputError naming the field (``patients``, ``sizes``...); returns the populations."""
        try:
            return self._check(settings, max_patients)
        except InvalidInputError as exc:
            where = (exc.where or "").lstrip("-").replace("-", "_")
            raise InvalidInputError(exc.message, where=where) from None

    def _check(self, settings: SelectionSettings, max_patients: int) -> list[str]:
        pops = svc.populations_for(self.population)
        check_count(self.patients)
        if self.patients > max_patients:
            raise InvalidInputError(
                f"at most {max_patients:,} patients per request here (the CLI and Dask take more)", where="patients"
            )
        if self.level not in LEVELS:
            raise InvalidInputError(f"unknown level {self.level!r}; choose one of {', '.join(LEVELS)}", where="level")
        if self.no_dose and self.weight_kg is not None:
            raise InvalidInputError("no_dose does not take a weight", where="weight_kg")
        if self.weight_kg is not None and not (math.isfinite(self.weight_kg) and 0 < self.weight_kg <= 500):
            raise InvalidInputError(f"weight must be between 0 and 500 kg, not {self.weight_kg:g}", where="weight_kg")
        if self.seed < 0:
            raise InvalidInputError(f"the seed must be a whole number >= 0, not {self.seed}", where="seed")
        if not 0 <= self.underserved <= 1000:
            raise InvalidInputError(
                f"underserved must be between 0 and 1000, got {self.underserved}", where="underserved"
            )
        settings.policy(self.policy)
        if self.sizes is not None:
            svc.parse_sizes(self.sizes)
        return pops


def run_query(
    index: UnitIndex,
    tables: NomenclatureTables,
    q: CoverageQuery,
    *,
    simulate: PatientSimulator,
    settings: SelectionSettings | None = None,
    cluster: ClusterSpec | None = None,
    weights: npt.NDArray[np.float64] | None = None,
    candidates: Sequence[UnitRecord] | None = None,
    max_patients: int = MAX_PATIENTS,
    max_sizes: int | None = None,
) -> dict[str, Any]:
    """The report for ``q`` against ``index``: shares per level (JSON keys of the issue), by population,
    and on request the size curve (``sizes``), under-served haplotypes and the candidates' ranking.
    ``simulate`` draws the patients (the entry points pass ``cordmatch.sim.coverage_patients.simulate_patients``)."""
    settings = settings or default_settings()
    pops = q.check(settings, max_patients)
    size_list = svc.parse_sizes(q.sizes) if q.sizes is not None else None
    if size_list is not None and max_sizes is not None and len(size_list) > max_sizes:
        raise InvalidInputError(f"at most {max_sizes} bank sizes per request", where="sizes")
    if len(index) == 0:
        raise InvalidInputError("the registry is empty: no units to assess", where="registry")
    live = len(index)
    if size_list is not None and max(size_list) > live:
        raise InvalidInputError(
            f"bank size {max(size_list):,} is more than the registry's {live:,} units", where="sizes"
        )
    dose = svc.dose_rule(settings, q.policy, q.no_dose)
    relation = svc.antigen_relation(tables)
    cidx = CoverageIndex.from_unit_index(index, relation=relation)
    sims, covs, reports = [], [], []
    with svc.maybe_client(cluster) as client:
        for k, pop in enumerate(pops):
            sim = simulate(q.patients, q.seed + k, pop, tables, settings, weight_kg=q.weight_kg, weights=weights)
            cov = svc.run_coverage(cidx, sim.coded, dose, client=client)
            sims.append(sim)
            covs.append(cov)
            reports.append(svc.report(cov, pop, cidx, dose, by_population=True))
        sizes_rows = None
        if size_list:
            everyone = CoveragePatients.concat([x.coded for x in sims])
            sizes_rows = svc.size_curve(index, everyone, size_list, q.seed, dose, client=client, relation=relation)
    if len(reports) == 1:
        out = dict(reports[0])
    else:
        out = svc.report(PatientCoverage.concat(covs), ",".join(pops), cidx, dose, by_population=False)
        out["by_population"] = reports
    out["seed"] = q.seed
    out["policy"] = q.policy
    if sizes_rows is not None:
        out["sizes"] = sizes_rows
    if q.underserved:
        rows = [r for sim, cov in zip(sims, covs, strict=True) for r in svc.underserved_table(sim, cov, q.level, 10**9)]
        rows.sort(key=lambda r: (-r["patients_unserved"], -r["frequency"]))
        out["underserved"] = rows[: q.underserved]
    if candidates is not None:
        out["recruitment"] = svc.recruitment(candidates, sims, covs, tables, q.level, dose)
    return out


def store_index(store: Any, tables: NomenclatureTables) -> UnitIndex:
    """The available units of the bank store (units without typing or TNC cannot be assessed: left out)."""
    from cordmatch.services.registry_store import index_records, records_from_store

    index, _ = index_records(records_from_store(store), tables)
    return index
