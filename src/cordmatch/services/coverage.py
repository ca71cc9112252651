"""Coverage service: run the coverage engine (locally or on Dask) for simulated patients, report.

Patients come from the simulator (:mod:`cordmatch.sim.coverage_patients`, NMDP 2007 haplotype frequencies),
which the entry points hand to :func:`cordmatch.services.coverage_query.run_query`; their haplotype pair is
kept for the under-served table. Dask: patients are independent, so they are cut into
chunks evaluated against one scattered :class:`CoverageIndex`; the chunks are gathered in order, so the
answer is the same on any number of workers.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from cordmatch.coverage.cohort import SimulatedPatients
from cordmatch.coverage.engine import (
    LEVELS,
    CoverageIndex,
    CoveragePatients,
    DoseRule,
    PatientCoverage,
    evaluate,
    served_matrix,
)
from cordmatch.coverage.planning import recruitment_value, under_served
from cordmatch.coverage.stats import summarise
from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import CodedRelation, NomenclatureTables
from cordmatch.io.cluster import ClusterSpec, open_client
from cordmatch.probability.populations import POPULATIONS, check_population
from cordmatch.selection.index import UnitIndex
from cordmatch.selection.model import UnitRecord
from cordmatch.selection.records import build_index
from cordmatch.selection.settings import SelectionSettings

CHUNK_PATIENTS = 512  # patients per Dask task


def parse_populations(text: str) -> list[str]:
    """``CAU`` / ``mix`` / ``CAU,AFA``: the populations to simulate (checked)."""
    pops = [check_population(p.strip()) for p in text.split(",") if p.strip()]
    if not pops:
        raise InvalidInputError("name at least one population", where="--population")
    if "MIX" in pops and len(pops) > 1:
        raise InvalidInputError("mix cannot be combined with other populations", where="--population")
    if len(set(pops)) != len(pops):
        raise InvalidInputError(f"a population is named twice in {text!r}", where="--population")
    return pops


def parse_weights(text: str, source: str = "weights") -> npt.NDArray[np.float64]:
    """Patient weights in kg: one number a line (or CSV with a ``weight_kg`` column); '#' comments skipped."""
    lines = [(n, raw.split("#", 1)[0].strip()) for n, raw in enumerate(text.splitlines(), start=1)]
    lines = [(n, t) for n, t in lines if t]
    col = 0
    if lines and not _is_number(lines[0][1].split(",")[0]):
        header = [h.strip().lower() for h in lines[0][1].split(",")]
        if "weight_kg" not in header:
            raise InvalidInputError("the header has no weight_kg column", where=f"{source} line {lines[0][0]}")
        col = header.index("weight_kg")
        lines = lines[1:]
    out: list[float] = []
    for n, t in lines:
        fields = t.split(",")
        value = fields[col].strip() if col < len(fields) else ""
        if not _is_number(value) or not 0 < float(value) <= 500:
            raise InvalidInputError(
                f"field weight_kg: {value!r} is not a weight in kg (0-500)", where=f"{source} line {n}"
            )
        out.append(float(value))
    if not out:
        raise InvalidInputError("no weights in the file", where=source)
    return np.array(out, dtype=np.float64)


def _is_number(s: str) -> bool:
    try:
        return math.isfinite(float(s))
    except ValueError:
        return False


def run_coverage(
    cidx: CoverageIndex,
    pats: CoveragePatients,
    dose: DoseRule | None,
    cluster: ClusterSpec | None = None,
    chunk: int = CHUNK_PATIENTS,
    client: Any = None,
) -> PatientCoverage:
    """Evaluate in-process, or on Dask (an open ``client``, else one opened for ``cluster``) in chunks of
    ``chunk`` patients; the chunks are gathered in order, so the result is the same either way."""
    if client is None and cluster is None:
        return evaluate(cidx, pats, dose)
    if client is None:
        with open_client(cluster) as opened:  # type: ignore[arg-type]
            return run_coverage(cidx, pats, dose, chunk=chunk, client=opened)
    bounds = [*list(range(0, len(pats), chunk)), len(pats)]
    parts = [pats.take(np.arange(a, b)) for a, b in itertools.pairwise(bounds)]
    remote = client.scatter(cidx, broadcast=True)
    futures = client.map(evaluate, [remote] * len(parts), parts, [dose] * len(parts), pure=False)
    return PatientCoverage.concat(client.gather(futures))


@contextmanager
def maybe_client(cluster: ClusterSpec | None) -> Iterator[Any]:
    """A Dask client for ``cluster`` (closed on exit), or None to run in-process."""
    if cluster is None:
        yield None
        return
    with open_client(cluster) as client:
        yield client


def antigen_relation(tables: NomenclatureTables) -> CodedRelation:
    """The release's WHO antigen relation (``tables.coded_relation``), as the search passes it to the kernel:
    related antigens and XX codes are then settled as the search settles them."""
    return tables.coded_relation


def dose_rule(settings: SelectionSettings, policy: str, no_dose: bool) -> DoseRule | None:
    return None if no_dose else DoseRule.from_settings(settings, settings.policy(policy))


def report(
    cov: PatientCoverage, population: str, cidx: CoverageIndex, dose: DoseRule | None, by_population: bool
) -> dict[str, Any]:
    """The JSON report of one run (keys of :func:`cordmatch.coverage.stats.summarise`) plus context."""
    out = summarise(cov, population)
    out["registry_units"] = len(cidx)
    out["levels"] = list(LEVELS)
    out["dose_policy"] = dose.source if dose is not None else None
    out["units_not_counted"] = cidx.exact_only
    pops = sorted(set(cov.population))
    if by_population and len(pops) > 1:
        labels = np.asarray(cov.population)
        out["by_population"] = [summarise(cov, p, np.flatnonzero(labels == p)) for p in pops]
    out["notes"] = notes(cidx, dose)
    return out


def notes(cidx: CoverageIndex, dose: DoseRule | None) -> list[str]:
    out = [
        "worst case: a unit counts at a level only if it reaches it whatever its unknown alleles are; "
        "units with a definite or possible DSA do not count",
        "confidence intervals: Wilson score, 95%",
    ]
    if cidx.exact_only:
        out.append(f"{cidx.exact_only} units have typings that are only graded exactly; they count as untyped here")
    if dose is None:
        out.append("dose not assessed (--no-dose): HLA only")
    else:
        out.append(
            f"single-unit dose: policy {dose.source}, TNC/kg minimum by diagnosis, CD34+/kg >= "
            f"{dose.single_cd34_min:g} when recorded; double: two units >= 4/6, each >= {dose.double_each_tnc:g} "
            f"TNC/kg, together > {dose.double_combined_tnc:g}; unit-to-unit match not assessed"
        )
    return out


def size_curve(
    index: UnitIndex,
    pats: CoveragePatients,
    sizes: Sequence[int],
    seed: int,
    dose: DoseRule | None,
    cluster: ClusterSpec | None = None,
    client: Any = None,
    relation: CodedRelation | None = None,
) -> list[dict[str, Any]]:
    """Coverage against bank size: nested random subsets (seeded) of the registry's live units."""
    live = np.flatnonzero(index.live)
    bad = [s for s in sizes if not 1 <= s <= len(live)]
    if bad:
        raise InvalidInputError(
            f"bank size {bad[0]} is not between 1 and the registry's {len(live):,} units", where="--sizes"
        )
    perm = np.random.default_rng(np.random.SeedSequence([seed, 0x5123])).permutation(live)
    rows = []
    for size in sorted(set(sizes)):
        cidx = CoverageIndex.from_unit_index(index, perm[:size], relation)
        rows.append({"units": size, **summarise(run_coverage(cidx, pats, dose, cluster, client=client), "")})
        rows[-1].pop("population")
    return rows


def parse_sizes(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        p = part.strip().replace("_", "")
        if not p.isdigit() or int(p) < 1:
            raise InvalidInputError(f"{part!r} is not a bank size (a positive whole number)", where="--sizes")
        out.append(int(p))
    return out


def served_rows(cov: PatientCoverage, level: str, with_dose: bool) -> npt.NDArray[np.bool_]:
    if level not in LEVELS:
        raise InvalidInputError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}", where="--level")
    counts = cov.count_dose if with_dose and cov.count_dose is not None else cov.count
    served: npt.NDArray[np.bool_] = counts[:, LEVELS.index(level)] > 0
    return served


def underserved_table(
    sim: SimulatedPatients, cov: PatientCoverage, level: str = "5/6", top: int = 20
) -> list[dict[str, Any]]:
    """Haplotypes most often carried by patients without a unit at ``level`` (HLA only, no DSA)."""
    return under_served(served_rows(cov, level, False), sim.haplotypes, cov.population, sim.tables, top)


def parse_candidates(text: str, tables: NomenclatureTables, source: str = "candidates") -> list[UnitRecord]:
    """Candidate units: CSV with ``unit_id`` and ``hla`` (GL string), optional ``tnc`` and ``cd34`` (cells)."""
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "hla" not in fields or "unit_id" not in fields:
        raise InvalidInputError("the header must name unit_id and hla (tnc, cd34 optional)", where=f"{source} line 1")
    rows = []
    for row in reader:
        r = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        rows.append({k: r.get(k, "") for k in ("unit_id", "hla", "tnc", "cd34")})
    return candidate_records(rows, tables, [f"{source} line {n}" for n in range(2, len(rows) + 2)], source)


def candidate_records(
    rows: Sequence[Mapping[str, Any]], tables: NomenclatureTables, places: Sequence[str], source: str = "candidates"
) -> list[UnitRecord]:
    """Checked candidate units from rows of ``unit_id``, ``hla`` and optional ``tnc``/``cd34`` (cells; text or
    numbers, empty = not given); ``places[i]`` names row i in errors (a file line, a JSON item)."""
    out: list[UnitRecord] = []
    seen: set[str] = set()
    for r, where in zip(rows, places, strict=True):
        uid = str(r.get("unit_id") or "").strip()
        if not uid or uid in seen:
            raise InvalidInputError(f"field unit_id: {uid!r} is empty or repeated", where=where)
        seen.add(uid)
        nums: dict[str, float | None] = {}
        for name in ("tnc", "cd34"):
            v = r.get(name)
            text = "" if v is None else str(v).strip()
            if text and (not _is_number(text) or float(text) < 0):
                raise InvalidInputError(f"field {name}: {text!r} is not a cell count", where=where)
            nums[name] = float(text) if text else None
        hla = str(r.get("hla") or "").strip()
        try:
            build_index([UnitRecord(uid, hla, 1.0)], tables)
        except InvalidInputError as exc:
            raise InvalidInputError(f"field hla: {exc.message}", where=where) from None
        out.append(UnitRecord(uid, hla, nums["tnc"] if nums["tnc"] is not None else math.nan, nums["cd34"]))
    if not out:
        raise InvalidInputError("no candidate units given", where=source)
    return out


def recruitment(
    candidates: Sequence[UnitRecord],
    sims: Sequence[SimulatedPatients],
    covs: Sequence[PatientCoverage],
    tables: NomenclatureTables,
    level: str,
    dose: DoseRule | None,
) -> dict[str, Any]:
    """Rank candidates by the simulated patients (not served at ``level`` by the registry) they would serve.
    With a dose rule and a TNC for every candidate, served means the level and the single-unit dose."""
    with_dose = dose is not None and all(not math.isnan(c.tnc) for c in candidates)
    records = [UnitRecord(c.unit_id, c.hla, 0.0 if math.isnan(c.tnc) else c.tnc, c.cd34) for c in candidates]
    cand_index = build_index(records, tables)
    cand = CoverageIndex.from_unit_index(cand_index, relation=antigen_relation(tables))
    ids = [cand_index.unit_id(int(s)) for s in cand.slots]
    newly_parts = []
    pops: list[str] = []
    for sim, cov in zip(sims, covs, strict=True):
        unserved = np.flatnonzero(~served_rows(cov, level, with_dose))
        sub = sim.coded.take(unserved)
        newly_parts.append(served_matrix(cand, sub, level, dose if with_dose else None))
        pops.extend(sub.population)
    newly = np.concatenate(newly_parts) if newly_parts else np.zeros((0, len(records)), np.bool_)
    return {
        "level": level,
        "with_dose": with_dose,
        "patients_unserved": len(pops),
        "candidates": recruitment_value(newly, pops, ids),
    }


def populations_for(text: str) -> list[str]:
    """Populations for a by-population run: ``all`` = the four simulated populations."""
    return list(POPULATIONS) if text.strip().lower() == "all" else parse_populations(text)


def plot_curve(rows: Sequence[dict[str, Any]], fmt: str = "svg", title: str = "Coverage against bank size") -> bytes:
    """Share of patients with a unit at >= 4/6, 5/6, 6/6 (and with the dose) against bank size; PNG or SVG."""
    if fmt not in ("png", "svg"):
        raise InvalidInputError(f"plot format must be png or svg, got {fmt!r}", where="format")
    if not rows:
        raise InvalidInputError("nothing to plot: no bank sizes", where="--sizes")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 4.2), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    x = [r["units"] for r in rows]
    for level, colour in (("4/6", "#1b9e77"), ("5/6", "#d95f02"), ("6/6", "#7570b3"), ("8/8", "#666666")):
        y = [100 * r["p_at_least"][level] for r in rows]
        lo = [100 * r["ci95"]["p_at_least"][level][0] for r in rows]
        hi = [100 * r["ci95"]["p_at_least"][level][1] for r in rows]
        ax.plot(x, y, marker="o", color=colour, label=f">= {level}")
        ax.fill_between(x, lo, hi, color=colour, alpha=0.15, linewidth=0)
        if rows[0]["p_at_least_with_dose"] is not None:
            yd = [100 * r["p_at_least_with_dose"][level] for r in rows]
            ax.plot(x, yd, marker=".", linestyle="--", color=colour, label=f">= {level} with dose")
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_xticks(x)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(0, 100)
    ax.set_xlabel("units in the bank (random subsets of one registry)")
    ax.set_ylabel("patients with at least one unit (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right", ncol=2)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


def write_plot(rows: Sequence[dict[str, Any]], path: Any, title: str) -> None:
    """Write the size curve to ``path`` (.svg or .png), through a temporary name."""
    from pathlib import Path

    p = Path(path)
    data = plot_curve(rows, p.suffix.lower().lstrip("."), title)
    tmp = p.with_name(p.name + ".tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InvalidInputError(f"cannot write plot: {exc.strerror}", where=str(p)) from None
