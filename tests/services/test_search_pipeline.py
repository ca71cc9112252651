"""The one search pipeline: errors name the request's fields in domain words; the CLI renders them as its
options and the API/pages as the query's fields."""

from __future__ import annotations

from typing import Any

import pytest

from cordmatch.cli.options import in_option_words
from cordmatch.cli.search_cmd import OPTIONS
from cordmatch.errors import InvalidInputError
from cordmatch.services.search import SearchRequest, build_patient, run_search
from cordmatch.services.search_query import SearchQuery, query_field_error

PATIENT = "A*01:01+A*02:01^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*15:01+DRB1*03:01"


def _error(req: SearchRequest, tables: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as err:
        run_search(req, tables, registry=lambda: pytest.fail("the registry is opened after the checks"))
    return err.value


@pytest.mark.parametrize(
    ("change", "field", "where"),
    [
        ({"patient_gl": "A*01:01+A*02:01"}, "patient_gl", "patient_gl"),
        ({"patient_gl": PATIENT.replace("A*02:01", "A*99:01")}, "patient_gl", "A*99:01"),
        ({"weight_kg": -3.0}, "weight_kg", "weight_kg"),
        ({"abo": "X"}, "abo", "abo"),
        ({"policy": "nope"}, "policy", "policy"),
        ({"population": "EUR"}, "population", "population"),
        ({"antibodies_text": "A2,abc"}, "antibodies", "antibodies line 1"),
    ],
)
def test_errors_name_the_request_field(tables: Any, change: dict[str, Any], field: str, where: str) -> None:
    req = SearchRequest(**{"target": "memory", "patient_gl": PATIENT, "weight_kg": 20.0, **change})
    exc = _error(req, tables)
    assert exc.field == field and exc.where == where and "--" not in exc.message


def test_each_entry_point_renders_the_field(tables: Any) -> None:
    bad_allele = SearchRequest("memory", PATIENT.replace("A*02:01", "A*99:01"), 20.0)
    exc = _error(bad_allele, tables)
    api = query_field_error(exc)
    assert api.where == "patient_gl" and api.message.startswith("patient_gl: ") and "A*99:01" in api.message
    with pytest.raises(InvalidInputError) as cli, in_option_words(OPTIONS):
        raise exc
    assert cli.value.where == "A*99:01" and cli.value.message.startswith("--patient: ")
    weight = _error(SearchRequest("memory", PATIENT, -3.0), tables)
    assert query_field_error(weight).where == "weight_kg"
    with pytest.raises(InvalidInputError) as cli, in_option_words(OPTIONS):
        raise weight
    assert cli.value.where == "--weight"


def test_the_query_is_the_pipeline_request() -> None:
    q = SearchQuery(patient_gl=PATIENT, weight_kg=20, antibodies="A2,3000", top=3, research=True)
    req = q.request()
    assert (req.patient_gl, req.weight_kg, req.antibodies_text, req.top, req.research) == (
        PATIENT,
        20,
        "A2,3000",
        3,
        True,
    )


def test_the_patient_typing_is_parsed_once(tables: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import cordmatch.services.search as pipeline

    calls: list[str] = []
    real = pipeline.parse_typing
    monkeypatch.setattr(pipeline, "parse_typing", lambda gl, t: calls.append(gl) or real(gl, t))
    patient, _ = build_patient(SearchRequest("memory", PATIENT, 20.0), tables)
    assert calls == [PATIENT] and patient.typing.gl()
