"""Match probability from population haplotype frequencies (pure core: no I/O).

- :mod:`~cordmatch.probability.frequencies`: parse and validate frequency CSV lines and hfx metadata;
- :mod:`~cordmatch.probability.index`: the precomputed haplotype index (allele codes per locus);
- :mod:`~cordmatch.probability.imputation`: genotype posteriors under Hardy-Weinberg equilibrium;
- :mod:`~cordmatch.probability.match`: P(0/1/2 mismatches) per locus, the 6 and 8 counts, and the
  batch scoring hook for search.

Loading files and caching live in the adapter :mod:`cordmatch.io.frequency_sets`; the one-call API
(GL strings in, results out) in :mod:`cordmatch.services.probability`.
"""

from cordmatch.probability.imputation import DEFAULT_FLOOR, GenotypePosterior, TypingConstraints, impute
from cordmatch.probability.index import HaplotypeIndex, UnknownPopulationError
from cordmatch.probability.match import (
    BatchMatchSummary,
    MatchProbability,
    PackedPosteriors,
    ambiguous_loci,
    batch_match_probabilities,
    match_probability_from_posteriors,
)

__all__ = [
    "DEFAULT_FLOOR",
    "BatchMatchSummary",
    "GenotypePosterior",
    "HaplotypeIndex",
    "MatchProbability",
    "PackedPosteriors",
    "TypingConstraints",
    "UnknownPopulationError",
    "ambiguous_loci",
    "batch_match_probabilities",
    "impute",
    "match_probability_from_posteriors",
]
