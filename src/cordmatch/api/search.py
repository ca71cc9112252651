"""The unit search of the API and the pages: patient in, ranked and explained units out.

``POST /api/v1/search`` and the page ``/search`` call a backend ``(actor, SearchQuery) -> dict`` that
returns the selection's ``SearchOutcome.to_dict()`` shape (``policy``, ``patient``, ``counts``,
``results`` with ``rank``, ``unit_id``, ``match_6``, ``match_8``, ``tnc_per_kg``, ``cd34_per_kg``,
``reasons``, ``checks``, ``unit``; ``double_units``, ``notes``, ``explain``). ``create_app`` takes one as
``search_backend=``; the default ("auto") is :class:`cordmatch.services.bank_search.BankSearch` on the
app's store, i.e. the selection's ranking over the bank's available units (ADR 0502).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cordmatch.services.auth import Principal
from cordmatch.store.engine import Store


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    patient_gl: str = Field(description="patient HLA typing as a GL string")
    weight_kg: float = Field(gt=0, le=300, description="patient weight, kg")
    policy: str = "nmdp"
    top: int = Field(default=10, ge=1, le=100)
    diagnosis: str | None = None
    malignant: bool | None = None
    abo: str | None = None
    antibodies: str | None = Field(default=None, description="anti-HLA antibodies, one 'specificity,MFI' a line")
    explain: str | None = Field(default=None, description="a DIN to explain (why ranked or excluded)")
    research: bool = Field(
        default=False, description="rank grafts for an investigational use (registered research protocol only)"
    )
    population: str | None = Field(
        default=None, description="haplotype frequencies for match probabilities: CAU, AFA, API, HIS or mix"
    )


SearchBackend = Callable[[Principal, SearchQuery], dict[str, Any]]

UNAVAILABLE = "search is not enabled on this server (the app was created without a search backend)"


def discover_backend(store: Store) -> SearchBackend | None:
    """The bank-store search: the selection's ranking over the available units of ``store``."""
    from cordmatch.services.bank_search import BankSearch

    return BankSearch(store)
