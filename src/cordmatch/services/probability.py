"""Match probability service: GL strings in, genotype posteriors and match probabilities out.

The one API that the CLI, REST and search call. It loads the nomenclature and the haplotype index
(both cached on disk), resolves typings, and calls the pure core :mod:`cordmatch.probability`.

Registry batches (:func:`impute_registry`) deduplicate typings (by canonical GL string) and keep an on-disk
cache of the posteriors (:mod:`cordmatch.io.posterior_cache`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from cordmatch.errors import InvalidInputError
from cordmatch.hla.mac import MacTable
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.hla.typing import HlaTyping, parse_typing
from cordmatch.io.posterior_cache import cache_path, load_posteriors, save_posteriors
from cordmatch.probability.imputation import (
    DEFAULT_FLOOR,
    GenotypePosterior,
    TypingConstraints,
    constraints_from_gl,
    constraints_from_typing,
    impute,
    no_estimate,
    population_label,
)
from cordmatch.probability.index import HaplotypeIndex
from cordmatch.probability.match import (
    BatchMatchSummary,
    MatchProbability,
    PackedPosteriors,
    batch_match_probabilities,
    match_probability_from_posteriors,
)

Population = str | Mapping[str, float]
#: Called as progress(done, total) during batches.
ProgressFn = Callable[[int, int], None]


def parse_population(text: str) -> Population:
    """``CAU`` or a mix ``CAU:0.6,HIS:0.4`` (weights are normalised)."""
    text = text.strip()
    if not text:
        raise InvalidInputError("empty population", where="--population")
    if ":" not in text and "," not in text:
        return text.upper()
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.partition(":")
        try:
            mix[name.strip().upper()] = float(weight) if weight.strip() else 1.0
        except ValueError:
            raise InvalidInputError(f"population weight {weight!r} is not a number", where=part.strip()) from None
    return mix


def _index(index: HaplotypeIndex | None, tables: NomenclatureTables) -> HaplotypeIndex:
    if index is not None:
        return index
    from cordmatch.io.frequency_sets import load_index

    return load_index(tables=tables)


def resolve(typing: str | HlaTyping, tables: NomenclatureTables, macs: MacTable | None = None) -> HlaTyping:
    return typing if isinstance(typing, HlaTyping) else parse_typing(typing, tables, macs)


def impute_typing(
    typing: str | HlaTyping,
    population: Population,
    *,
    tables: NomenclatureTables,
    index: HaplotypeIndex | None = None,
    macs: MacTable | None = None,
    floor: float = DEFAULT_FLOOR,
) -> GenotypePosterior:
    """Genotype posterior of one typing (GL string or resolved typing) in a population or mix."""
    t = tables
    idx = _index(index, t)
    idx.population_weights(population)  # unknown population: a clear error before parsing
    return impute(constraints_from_typing(resolve(typing, t, macs), t, idx.loci), idx, population, floor=floor)


def match_probability(
    patient_typing: str | HlaTyping,
    donor_typing: str | HlaTyping,
    population: Population,
    *,
    donor_population: Population | None = None,
    tables: NomenclatureTables,
    index: HaplotypeIndex | None = None,
    macs: MacTable | None = None,
    floor: float = DEFAULT_FLOOR,
) -> MatchProbability:
    """P(0/1/2 mismatches) per locus and the 6 and 8 count distributions for a patient and a unit."""
    t = tables
    idx = _index(index, t)
    pat = impute_typing(patient_typing, population, tables=t, index=idx, macs=macs, floor=floor)
    don = impute_typing(donor_typing, donor_population or population, tables=t, index=idx, macs=macs, floor=floor)
    return match_probability_from_posteriors(pat, don)


# --------------------------------------------------------------------------- registry batches
@dataclass
class RegistryPosteriors:
    """Posteriors of a registry's units, in input order, packed for :func:`score_units`."""

    unit_ids: list[str]
    packed: PackedPosteriors
    population: str
    #: unit id -> reason, for units with no estimate (bad typing or no compatible genotype).
    problems: dict[str, str]
    distinct_typings: int
    cache_hits: int


def impute_registry(
    units: Iterable[tuple[str, str]],
    population: Population,
    *,
    tables: NomenclatureTables,
    index: HaplotypeIndex | None = None,
    macs: MacTable | None = None,
    floor: float = DEFAULT_FLOOR,
    use_cache: bool = True,
    base: str | os.PathLike[str] | None = None,
    progress: ProgressFn | None = None,
) -> RegistryPosteriors:
    """Impute every unit (unit id, GL string); identical typings are imputed once; results cached.

    A unit whose typing does not parse, or fits no genotype, gets no estimate and is listed in
    ``problems``; the batch goes on.
    """
    t = tables
    idx = _index(index, t)
    idx.population_weights(population)
    label = population_label(population)
    unit_list = list(units)
    path = cache_path(idx, population, base)
    cache = load_posteriors(path, len(idx.loci)) if use_cache else {}
    hits = 0
    computed = 0
    by_raw: dict[str, str] = {}  # raw GL -> canonical key (or an error key)
    results: dict[str, GenotypePosterior] = {}
    problems: dict[str, str] = {}
    posteriors: list[GenotypePosterior] = []
    total = len(unit_list)
    parts: dict[str, tuple[str, TypingConstraints]] = {}
    for n, (unit_id, gl) in enumerate(unit_list, start=1):
        key = by_raw.get(gl)
        if key is None:
            constraints: TypingConstraints | None = None
            try:
                key, constraints = constraints_from_gl(gl, t, idx.loci, macs, parts)
            except InvalidInputError as exc:
                key = f"!error {exc}"
                results[key] = no_estimate(idx, label, f"typing not usable: {exc}")
            by_raw[gl] = key
            if key not in results:
                cached = cache.get(key)
                if cached is not None:
                    hits += 1
                    codes, p, reason = cached
                    results[key] = GenotypePosterior(
                        idx.loci,
                        codes,
                        p,
                        label,
                        reason=reason,
                        lgx_antigen=idx.lgx_antigen,
                        antigen_relation=idx.antigen_relation,
                        code_names=idx.lgx_names,
                    )
                else:
                    assert constraints is not None
                    results[key] = impute(constraints, idx, population, floor=floor)
                    computed += 1
        post = results[key]
        if not post.ok:
            problems[unit_id] = post.reason or "no estimate"
        posteriors.append(post)
        if progress is not None and (n % 500 == 0 or n == total):
            progress(n, total)
    if use_cache and computed:
        for key, post in results.items():
            if not key.startswith("!error"):
                cache[key] = (post.codes, post.probabilities, post.reason)
        save_posteriors(path, cache, len(idx.loci))
    return RegistryPosteriors(
        unit_ids=[u for u, _ in unit_list],
        packed=PackedPosteriors.pack(posteriors, idx.loci),
        population=label,
        problems=problems,
        distinct_typings=len(results),
        cache_hits=hits,
    )


def score_units(patient: GenotypePosterior, units: PackedPosteriors | Sequence[GenotypePosterior]) -> BatchMatchSummary:
    """Search hook: P(8/8), P(>=7/8), P(6/6), P(>=5/6) per unit, the patient's posterior computed once."""
    packed = units if isinstance(units, PackedPosteriors) else PackedPosteriors.pack(list(units), patient.loci)
    return batch_match_probabilities(patient, packed)
