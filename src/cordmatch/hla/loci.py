"""Loci that cordmatch grades, and the match conventions built on them."""

from __future__ import annotations

from typing import Final

#: Loci graded when typed on both sides, in display order.
GRADED_LOCI: Final = ("A", "B", "C", "DRB1", "DQB1", "DPB1")

#: Cord blood convention (x/6): A and B at antigen level, DRB1 at allele level.
MATCH_6_LOCI: Final = (("A", "antigen"), ("B", "antigen"), ("DRB1", "allele"))

#: Adult donor / current cord convention (x/8): A, B, C, DRB1 at allele level.
MATCH_8_LOCI: Final = (("A", "allele"), ("B", "allele"), ("C", "allele"), ("DRB1", "allele"))

#: Reduction levels py-ard knows, and cordmatch exposes.
REDUCTION_LEVELS: Final = ("G", "P", "lg", "lgx", "W", "exon", "U2", "S")
