"""ISBT 128 data structures of the bag label's blood group and collection date bar codes (pure functions).

Every value here is [V] from the *ISBT 128 Standard Technical Specification*, ICCBBA ST-001, version 6.2.2
(April 2023), read in a text copy of that document:

- Blood Groups [ABO and RhD], Data Structure 002 (section 2.4.2): data identifier ``=%``, then the four
  data characters ``ggre``; ``gg`` from Table 4 [RT005] (page 86), column "Default: Intended Use Not
  Specified" (the type of collection is carried by the product code instead); ``r`` = ``0`` when the bar
  code carries no Rh/Kell/Mi(a) phenotype (section 2.4.2, Table 6 [RT007]); ``e`` is reserved and always
  ``0`` (section 2.4.2).
- Collection Date, Data Structure 006 (section 2.4.6): data identifier ``=*``, then ``cyyjjj``: ``c`` the
  century, ``yy`` the year within it, ``jjj`` the ordinal day of the year (Glossary, "Ordinal Number":
  1 January is 1, 31 December is 365 or 366). The century digit is 0 for 2000-2099: the document's own
  example label (Appendix C, Figure 21, label 4) prints the ``cyyjjjhhmm`` content ``0180292359`` for the
  expiry date 29 JAN 2018. Other centuries are not shown in the document, so no bar code is made for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType

#: Data identifier of Data Structure 002 [V: ST-001 v6.2.2 section 2.4.2].
BLOOD_GROUP_DI = "=%"
#: Data identifier of Data Structure 006 [V: ST-001 v6.2.2 section 2.4.6].
COLLECTION_DATE_DI = "=*"
#: ``gg`` by (ABO, RhD), intended use not specified [V: ST-001 v6.2.2 Table 4 RT005, page 86].
ABO_RHD_GG: Mapping[tuple[str, str], str] = MappingProxyType({
    ("O", "neg"): "95", ("O", "pos"): "51",
    ("A", "neg"): "06", ("A", "pos"): "62",
    ("B", "neg"): "17", ("B", "pos"): "73",
    ("AB", "neg"): "28", ("AB", "pos"): "84",
})  # fmt: skip
#: ``r``: no Rh, Kell or Mi(a) phenotype in the bar code [V: ST-001 v6.2.2 section 2.4.2, Table 6 RT007].
NO_PHENOTYPE = "0"
#: ``e``: reserved, always zero [V: ST-001 v6.2.2 section 2.4.2].
RESERVED = "0"
#: Years whose century digit is shown in the source: ``c`` = 0 [V: ST-001 v6.2.2 Appendix C, Figure 21].
VERIFIED_YEARS = range(2000, 2100)


def blood_group_content(abo: str | None, rh: str | None) -> str | None:
    """The 4-character ``ggre`` content for ABO ``O``/``A``/``B``/``AB`` and RhD ``pos``/``neg``; None when
    either is unknown or not one of these (never a default group)."""
    if abo is None or rh is None:
        return None
    gg = ABO_RHD_GG.get((abo, rh))
    return None if gg is None else f"{gg}{NO_PHENOTYPE}{RESERVED}"


def blood_group_barcode(abo: str | None, rh: str | None) -> str | None:
    """Data Structure 002 as a bar code's data (``=%`` + ``ggre``), or None (see :func:`blood_group_content`)."""
    content = blood_group_content(abo, rh)
    return None if content is None else BLOOD_GROUP_DI + content


def collection_date_content(day: date) -> str | None:
    """The 6-character ``cyyjjj`` content of a calendar date (``c`` century digit, ``yy`` year in the century,
    ``jjj`` day of the year, 001-366); None outside 2000-2099 (century digit not verified)."""
    if day.year not in VERIFIED_YEARS:
        return None
    return f"0{day.year % 100:02d}{day.timetuple().tm_yday:03d}"


def collection_date_barcode(day: date) -> str | None:
    """Data Structure 006 as a bar code's data (``=*`` + ``cyyjjj``), or None outside 2000-2099."""
    content = collection_date_content(day)
    return None if content is None else COLLECTION_DATE_DI + content
