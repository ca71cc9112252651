"""Sourced HLA facts the virtual crossmatch needs beyond the allele tables.

- Public epitopes Bw4 and Bw6 (amino acids 77-83 of the class I heavy chain): which A and B antigens carry
  them, per the WHO HLA Dictionary assignments (Marsh et al., Tissue Antigens 2010; Holdsworth et al.,
  Tissue Antigens 2009) as summarised for histocompatibility training (pathologyboardreview.com,
  "public epitopes"): Bw4 on B5 (B51, B52, B5102, B5103), B0802, B0803, B13, B17 (B57, B58), B1809, B27,
  B37, B38, B44, B47, B49, B53, B5607, B59, B63, B77 and A23, A24, A25, A32; Bw6 on B7, B8, B1309, B14,
  B18, B2708, B2712, B2718, B35, B39, B40 (B60, B61, B4005), B4406, B4409, B41, B42, B45, B46, B4702, B48,
  B50, B54, B55, B56, B62, B64, B65, B67, B70 (B71, B72), B73, B75, B76, B78, B81, B82; neither on B1806,
  B4601, B5503, B7301. An allele is classified by its first-field family with the listed exceptions;
  alleles without an assigned serology follow their family ([U] for those).
- Secondary DRB loci by DRB1 group (prototypic DR haplotypes: DR51 = DRB5 with DRB1*15/16; DR52 = DRB3
  with DRB1*03/11/12/13/14; DR53 = DRB4 with DRB1*04/07/09; DR1, DR8, DR10 haplotypes carry none;
  exceptions and null DRB4/DRB5 alleles exist): Hurley et al., "Variation in HLA genetic organization"
  (Hematology: Basic Principles and Practice, ch. 93); Robbins & Hurley (DRB5 diversity).
"""

from __future__ import annotations

from typing import Final

#: First-field families and their public epitope (None: neither), class I.
BW_FAMILY: Final[dict[str, str | None]] = {
    "A*23": "Bw4", "A*24": "Bw4", "A*25": "Bw4", "A*32": "Bw4",
    "B*07": "Bw6", "B*08": "Bw6", "B*13": "Bw4", "B*14": "Bw6", "B*15": "Bw6", "B*18": "Bw6",
    "B*27": "Bw4", "B*35": "Bw6", "B*37": "Bw4", "B*38": "Bw4", "B*39": "Bw6", "B*40": "Bw6",
    "B*41": "Bw6", "B*42": "Bw6", "B*44": "Bw4", "B*45": "Bw6", "B*46": "Bw6", "B*47": "Bw4",
    "B*48": "Bw6", "B*49": "Bw4", "B*50": "Bw6", "B*51": "Bw4", "B*52": "Bw4", "B*53": "Bw4",
    "B*54": "Bw6", "B*55": "Bw6", "B*56": "Bw6", "B*57": "Bw4", "B*58": "Bw4", "B*59": "Bw4",
    "B*67": "Bw6", "B*73": "Bw6", "B*78": "Bw6", "B*81": "Bw6", "B*82": "Bw6",
}  # fmt: skip

#: Two-field alleles whose epitope differs from their family's (WHO assignments listed above).
BW_EXCEPTIONS: Final[dict[str, str | None]] = {
    "B*08:02": "Bw4", "B*08:03": "Bw4", "B*13:09": "Bw6", "B*15:13": "Bw4", "B*15:16": "Bw4",
    "B*15:17": "Bw4", "B*18:06": None, "B*18:09": "Bw4", "B*27:08": "Bw6", "B*27:12": "Bw6",
    "B*27:18": "Bw6", "B*44:06": "Bw6", "B*44:09": "Bw6", "B*46:01": None, "B*47:02": "Bw6",
    "B*55:03": None, "B*56:07": "Bw4", "B*73:01": None,
}  # fmt: skip

PUBLIC_EPITOPES: Final = ("Bw4", "Bw6")
EPITOPE_SOURCE: Final = "WHO HLA Dictionary (Marsh 2010) Bw4/Bw6 assignments"


def bw_epitope(allele: str) -> str | None:
    """``Bw4``, ``Bw6`` or None for an A or B allele name (``B*44:02:01:01``)."""
    two = ":".join(allele.split(":")[:2])
    if two in BW_EXCEPTIONS:
        return BW_EXCEPTIONS[two]
    return BW_FAMILY.get(allele.split(":")[0])


#: Secondary DRB locus -> DRB1 first fields whose haplotypes carry it, and its serologic name.
DRB_SECONDARY: Final[dict[str, frozenset[str]]] = {
    "DRB3": frozenset({"03", "11", "12", "13", "14"}),
    "DRB4": frozenset({"04", "07", "09"}),
    "DRB5": frozenset({"15", "16"}),
}
DRB_SECONDARY_NAME: Final = {"DRB3": "DR52", "DRB4": "DR53", "DRB5": "DR51"}
DRB_SECONDARY_SOURCE: Final = "prototypic DR haplotypes (Hurley, Hematology BPP ch. 93) [V]"

#: Class II loci a unit is often not typed at: an antibody there is "not assessed" on such a unit.
TYPED_ONLY_LOCI: Final = frozenset({"DQB1", "DQA1", "DPB1", "DPA1"})


def drb1_family(allele: str) -> str:
    """``04`` for ``DRB1*04:01``."""
    return allele.split("*", 1)[1].split(":")[0]
