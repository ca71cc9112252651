"""The search seam: patient in, ranked and explained units out (``POST /api/v1/search``, the search page).

The ranking itself belongs to the selection issue (``cordmatch.selection`` + a service that builds its
index from the bank store). Until that is on this branch, ``discover_backend()`` finds nothing and the
endpoint answers 501 problem+json saying so. A backend is any callable
``(actor, SearchQuery) -> dict`` returning the selection's ``SearchOutcome.to_dict()`` shape:
``{"policy", "patient", "counts", "results": [{"rank", "unit_id", "match_6", "match_8", "tnc_per_kg",
"cd34_per_kg", "reasons", "checks", "unit": {...}}], "double_units", "notes"}``; ``create_app`` takes one
as ``search_backend=`` (tests inject a fake one), and ``discover_backend()`` is the one place to wire
the real one (ADR 0502).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cordmatch.services.auth import Principal


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


SearchBackend = Callable[[Principal, SearchQuery], dict[str, Any]]

UNAVAILABLE = (
    "search is not available in this build: the ranked, explained unit search lands with the selection "
    "issue (cordmatch.selection); this endpoint and the search page are wired to it through "
    "cordmatch.api.search.discover_backend()"
)


def discover_backend() -> SearchBackend | None:
    """The selection issue's bank-store search, when this build has it; else None."""
    try:
        module = importlib.import_module("cordmatch.services.bank_search")
    except ImportError:
        return None
    backend = getattr(module, "search_backend", None)
    return backend if callable(backend) else None
