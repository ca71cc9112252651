"""The search seam of the API and the pages: the query (JSON fields), the backend type, and errors named by
the query's fields.

``POST /api/v1/search`` and the page ``/search`` call a backend ``(actor, SearchQuery) -> dict`` that
returns the selection's ``SearchOutcome.to_dict()`` shape (``policy``, ``patient``, ``counts``,
``results`` with ``rank``, ``unit_id``, ``match_6``, ``match_8``, ``tnc_per_kg``, ``cd34_per_kg``,
``reasons``, ``checks``, ``unit``; ``double_units``, ``notes``, ``explain``). The app takes one as
``search_backend=``; the default ("auto") is :class:`cordmatch.services.bank_search.BankSearch` on the
app's store, i.e. the selection's ranking over the bank's available units (ADR 0502).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cordmatch.errors import InvalidInputError
from cordmatch.services.auth import Principal
from cordmatch.services.search import SearchRequest


class SearchQuery(BaseModel):
    """A search as the API and the pages receive it; :meth:`request` gives the pipeline's request."""

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

    def request(self, target: str = "bank store") -> SearchRequest:
        """The search pipeline's request for this query, on ``target``."""
        return SearchRequest(
            target=target,
            patient_gl=self.patient_gl,
            weight_kg=self.weight_kg,
            antibodies_text=self.antibodies,
            antibodies_source="antibodies",
            policy=self.policy,
            top=self.top,
            explain=self.explain,
            diagnosis=self.diagnosis,
            malignant=self.malignant,
            abo=self.abo,
            research=self.research,
            population=self.population,
        )


SearchBackend = Callable[[Principal, SearchQuery], dict[str, Any]]

UNAVAILABLE = "search is not enabled on this server (the app was created without a search backend)"


def query_field_error(exc: InvalidInputError) -> InvalidInputError:
    """The pipeline's error in the query's words: ``where`` is the query field at fault (the pipeline's domain
    field names are the query's), the token or line it named kept in the message."""
    field, where, message = exc.field, exc.where, exc.message
    if field is None:
        return InvalidInputError(message, where=where or "patient_gl")
    if where is None or where == field:
        return InvalidInputError(message, where=field, field=field)
    if field == "antibodies":  # "antibodies line 3": keep the line in the text
        label = where if where.startswith("antibodies") else f"antibodies {where}"
        return InvalidInputError(f"{label}: {message}", where=field, field=field)
    return InvalidInputError(f"{field}: {message}", where=field, field=field)
