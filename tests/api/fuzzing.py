"""Fuzz the whole OpenAPI of the app with schemathesis (valid and invalid inputs, every role).

Shared by the bounded CI test (tests/api/test_api_schema_fuzz.py) and the longer run
(benchmarks/fuzz_api.py). Each operation is called with cases drawn from its schema, half with its
``{din}`` path parameter set to a real unit so that the deeper code runs, under a random role.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROLES = ("tech", "director", "coord", "admin")
DINS = ("G123498654321", "G123498654322")


@dataclass
class FuzzReport:
    sent: int = 0
    unsendable: int = 0
    unsatisfiable: list[str] = field(default_factory=list)
    by_class: collections.Counter[int] = field(default_factory=collections.Counter)
    server_errors: list[tuple[str, int, str, str]] = field(default_factory=list)
    not_problem_json: list[tuple[str, int, str]] = field(default_factory=list)

    def line(self) -> str:
        c = self.by_class
        return f"requests {self.sent}  2xx {c[2]}  3xx {c[3]}  4xx {c[4]}  5xx {c[5]}  (unsendable {self.unsendable})"


def fuzz_app(app: Any, headers: dict[str, dict[str, str]], *, max_examples: int, seed: int | None = 0) -> FuzzReport:
    """Call every operation of ``app``'s OpenAPI ``max_examples`` times per generation mode."""
    import schemathesis
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    report = FuzzReport()
    for result in schema.get_all_operations():
        op = result.ok()
        has_din = "{din}" in op.path
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategies = [op.as_strategy(mode)]
            if has_din:
                strategies += [op.as_strategy(mode, path_parameters={"din": d}) for d in DINS]
            _run(op.label, st.one_of(strategies), headers, report, max_examples, seed)
    return report


def _run(
    label: str,
    cases: st.SearchStrategy[Any],
    headers: dict[str, dict[str, str]],
    report: FuzzReport,
    max_examples: int,
    seed: int | None,
) -> None:
    @settings(
        max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None,
        derandomize=seed is not None,
    )  # fmt: skip
    @given(case=cases, who=st.sampled_from(ROLES))
    def call(case: Any, who: str) -> None:
        try:
            r = case.call(headers={**(case.headers or {}), **headers[who]})
        except Exception as exc:  # the test client re-raises what the app raised: a server error
            if type(exc).__name__ == "InvalidURL":  # a request the client cannot even send is no server fault
                report.unsendable += 1
                return
            what = f"{case.method} {case.formatted_path} query={case.query} body={str(case.body)[:300]}"
            report.sent += 1
            report.by_class[5] += 1
            report.server_errors.append((label, 500, what, f"{type(exc).__name__}: {exc}"[:300]))
            return
        report.sent += 1
        report.by_class[r.status_code // 100] += 1
        if r.status_code >= 500:
            what = f"{case.method} {case.formatted_path} query={case.query} body={str(case.body)[:300]}"
            report.server_errors.append((label, r.status_code, what, r.text[:300]))
        elif r.status_code >= 400 and r.status_code != 405:
            ctype = r.headers.get("content-type", "")
            ctype = ctype[0] if isinstance(ctype, list) and ctype else str(ctype or "")
            if not ctype.startswith("application/problem+json") and not label.startswith(("GET /plots",)):
                report.not_problem_json.append((label, r.status_code, ctype))

    try:
        call()
    except Exception as exc:  # an operation whose schema admits no case at all
        if type(exc).__name__ != "Unsatisfiable":
            raise
        report.unsatisfiable.append(label)
