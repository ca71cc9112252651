"""The populations of the shipped NMDP 2007 haplotype frequency sets, and the US mix of them."""

from __future__ import annotations

from cordmatch.errors import InvalidInputError

POPULATIONS = ("CAU", "AFA", "API", "HIS")
#: US population shares used by ``--population mix`` [U] (approximate registry composition, not verified).
MIX_WEIGHTS = {"CAU": 0.55, "HIS": 0.18, "AFA": 0.14, "API": 0.13}


def check_population(population: str, where: str = "--population") -> str:
    """The population code (upper case; ``MIX`` for the mix); InvalidInputError naming ``where`` otherwise."""
    p = population.upper()
    if p not in (*POPULATIONS, "MIX"):
        raise InvalidInputError(
            f"unknown population {population!r}; choose one of {', '.join(POPULATIONS)} or mix", where=where
        )
    return p
