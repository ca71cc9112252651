"""Words and numbers for people on the pages: cell counts with their units, field and permission names in
plain words, messages without CLI flags or library URLs, and the search outcome as comparison-table rows.

Pure functions of the services' answers; no rule is decided here (the verdicts come from the selection).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

# ---------------------------------------------------------------------------------------------- names
#: Form and API field names as the pages' labels call them.
FIELD_LABELS: dict[str, str] = {
    "hla_gl": "HLA typing",
    "gl": "HLA typing",
    "patient_gl": "HLA typing",
    "weight_kg": "Weight (kg)",
    "din": "DIN",
    "explain": "Explain a unit (DIN)",
    "antibodies": "Anti-HLA antibodies",
    "top": "Show top",
    "policy": "Policy",
    "abo": "ABO",
    "rh": "Rh",
    "tnc": "TNC",
    "cd34": "CD34+",
    "volume_ml": "Volume (mL)",
    "viability_pct": "Viability (%)",
    "viable_cd34_pct": "Post-thaw viable CD34+ (%)",
    "viable_cd45_pct": "Post-thaw viable CD45+ (%)",
    "cfu": "CFU",
    "collected_at": "Collected at",
    "collection_volume_ml": "Collection volume (mL)",
    "product_code": "Product code",
    "bank_code": "Bank",
    "patient_ref": "Patient reference",
    "exceptional_reason": "Exceptional-release reason",
    "idm_result": "Maternal IDM",
    "hb_screen": "Haemoglobinopathy screen",
    "segments": "Attached segments",
    "reason": "Reason",
    "target": "Next step",
    "stage": "Stage",
    "kind": "Kind",
    "lab": "Laboratory",
    "days": "Reserve for (days)",
    "file": "CSV file",
    "csv": "CSV file",
    "role": "Your role",
    "state": "State",
    "password": "Password",
    "username": "User name",
    "csrf": "Form",
    "result": "Result",
}

#: What each permission lets a user do, as a sentence ending ("may not ...").
PERMISSION_WORDS: dict[str, str] = {
    "unit.read": "view units",
    "unit.search": "search units",
    "unit.write": "register units or record their results",
    "unit.release": "sign a QC release",
    "unit.discard": "discard units",
    "reservation.create": "reserve units",
    "reservation.manage": "manage reservations",
    "unit.export": "export units",
    "config.write": "change the configuration",
    "users.manage": "manage users",
    "audit.read": "read the audit trail",
}

#: ``where`` values that are no form field (the error summary names no field for them).
NOT_FIELDS = frozenset({"role", "csrf", "login", "state", "qc", "unit", "din_lookup", "reservation", "compare"})

_CLI_FLAGS = {
    "--explain UNIT": 'a DIN in "Explain a unit"',
    "--explain": '"Explain a unit"',
    "--patient": "HLA typing",
    "--weight": "Weight (kg)",
    "--antibodies": "Anti-HLA antibodies",
    "--abo": "Patient ABO",
    "--top": "Show top",
    "--policy": "Policy",
    "--population": "Population",
}


def field_label(name: str | None) -> str:
    """``hla_gl`` -> "HLA typing"; ``collection.tnc`` -> "collection TNC"; unknown names de-underscored."""
    if not name:
        return ""
    if name in FIELD_LABELS:
        return FIELD_LABELS[name]
    if name.startswith("--"):
        return _CLI_FLAGS.get(name, name.lstrip("-"))
    head, _, last = name.rpartition(".")
    if head:
        return f"{head.replace('.', ' ').replace('_', ' ')} {field_label(last)}".strip()
    return name.replace("_", " ")


_PERMISSION = re.compile(r"^(?P<who>\S+) with role (?P<role>\w+) may not (?P<perm>[a-z_]+\.[a-z_]+)$")
_URL = re.compile(r"\s*(For further information visit )?https?://\S+")


def human_message(text: str, *, role: str | None = None) -> str:
    """A service message in the user's words: permission ids, CLI flags, library URLs and machine
    notation (``x10^7/kg``, ``>=``) replaced."""
    m = _PERMISSION.match(text.strip())
    if m:
        words = PERMISSION_WORDS.get(m["perm"], m["perm"].replace(".", " ").replace("_", " "))
        return f"Your role ({m['role']}) may not {words}."
    text = _URL.sub("", text)
    text = text.replace("use --explain UNIT to see why", 'enter a DIN in "Explain a unit" to see why')
    for flag, words in _CLI_FLAGS.items():
        text = re.sub(rf"{re.escape(flag)}\b", words, text)
    for name, label in FIELD_LABELS.items():
        text = re.sub(rf"(?<![\w.*-]){re.escape(name)}(?=:)", label, text)
    return machine_to_human(text)


#: Machine numbers: long fractions (float noise), a bare ``.0``, e-notation, or six digits and more.
_FLOAT = re.compile(r"(?<![\w*:.^])(\d+\.\d{4,}|\d+\.0|\d+(?:\.\d+)?e[+-]?\d+|\d{6,}(?:\.\d+)?)(?![\w*]|\.\d)")


def machine_to_human(text: str) -> str:
    """``x10^7/kg`` -> ``×10⁷/kg``, ``>=`` -> ``≥``, ``<=`` -> ``≤``, ``900000000.0`` -> ``9 ×10⁸``,
    ``70.0`` -> ``70`` (HLA names, DINs and other identifiers are left alone)."""
    text = re.sub(r"\bx ?10\^(-?\d+)", lambda m: "×10" + m[1].translate(_SUPERSCRIPT), text)
    text = _FLOAT.sub(lambda m: number(float(m[1])), text)
    return text.replace(">=", "≥").replace("<=", "≤")


#: Audit trail actions in words (the code stays visible next to them).
ACTION_WORDS: dict[str, str] = {
    "unit.register": "registered",
    "unit.process": "processing recorded (received → processed)",
    "unit.tests": "test results recorded",
    "unit.storage": "storage position set",
    "unit.nima": "NIMA recorded",
    "unit.release": "released (QC checklist passed)",
    "unit.release.exceptional": "exceptional release",
    "unit.reserve": "reserved",
    "unit.unreserve": "reservation cancelled",
    "unit.reservation_expired": "reservation expired",
    "unit.ct_request": "confirmatory typing requested",
    "unit.ship": "shipped",
    "unit.infuse": "infusion recorded",
    "units.import": "imported from CSV",
}


def action_words(action: str) -> str:
    """``unit.state.received`` -> "moved to received"; ``unit.measure.pre_cryo`` -> "pre cryo counts recorded"."""
    if action in ACTION_WORDS:
        return ACTION_WORDS[action]
    for prefix, words in (("unit.state.", "moved to {}"), ("unit.measure.", "{} counts recorded"),
                          ("unit.typing.", "{} HLA typing recorded")):  # fmt: skip
        if action.startswith(prefix):
            return words.format(action.removeprefix(prefix).replace("_", " "))
    return action


# ---------------------------------------------------------------------------------------------- numbers
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def cells(value: float | None) -> str:
    """A cell count for people: ``1050000000.0`` -> ``1.05 ×10⁹``; None -> "—"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if value == 0:
        return "0"
    exp = math.floor(math.log10(abs(value)))
    if exp < 4:
        return number(value)
    mantissa = value / 10**exp
    if round(mantissa, 2) >= 10:
        mantissa, exp = mantissa / 10, exp + 1
    return f"{mantissa:.3g} ×10{str(exp).translate(_SUPERSCRIPT)}"


def number(value: Any, digits: int = 3) -> str:
    """A plain number without float noise (``2159999999.9999995`` -> ``2.16 ×10⁹``, ``96.0`` -> ``96``)."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    if abs(value) >= 100_000:
        return cells(float(value))
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}g}" if abs(value) < 1 else f"{round(value, 2):g}"


def dose(value: float | None, places: int = 2) -> str:
    """A dose per kg (already in x10^7/kg or x10^5/kg) with fixed decimals; None -> "—"."""
    return "—" if value is None else f"{value:.{places}f}"


# ---------------------------------------------------------------------------------------------- search rows
@dataclass(frozen=True)
class Caution:
    """A short badge on a result row; ``level`` is bad (excluded/failed), warn (flagged) or unknown."""

    text: str
    level: str
    detail: str


@dataclass
class Row:
    """One ranked unit (or a double graft) as a row of the comparison table."""

    key: str
    rank: str
    dins: list[str]
    match_8: str
    match_6: str
    tnc: str
    cd34: str
    abo: str
    age: str
    bank: str
    cautions: list[Caution]
    p42: str
    median: str
    checks: list[dict[str, str]]
    reasons: list[str]
    plot_query: str
    double: bool = False
    members: list[Row] = field(default_factory=list)


_UNKNOWN_WORDS = ("unknown", "not recorded", "unresolved", "ambiguous", "n/a", "not estimated")
_SHORT = {
    "red cells": "RBC replete",
    "attached segment": "no attached segment",
    "bank accreditation": "bank not accredited",
    "HLA-C allele mismatches": "HLA-C mismatch",
    "TNC dose, single unit": "TNC below single-unit dose",
    "CD34+ dose, single unit": "CD34+ below single-unit dose",
    "CD34+ dose": "CD34+ not recorded",
    "typing": "ambiguous typing",
}
_NO_BADGE = ("NIMA match (tie-breaker)", "estimated neutrophil engraftment")


def _short(check: dict[str, str]) -> str:
    rule, value = check.get("rule", ""), check.get("value", "")
    if rule.startswith("HLA match"):
        if "unresolved" in value:
            return "HLA unresolved: confirm typing"
        return "6/6 count unknown" if value == "n/a" else f"HLA {value}"
    if rule.startswith("donor-specific antibodies"):
        return ("possible DSA: " if value.startswith("possible") else "DSA: ") + value.split(" (")[0].removeprefix(
            "possible: "
        )
    if rule == "ABO":
        return "ABO " + value.split(": ", 1)[-1].replace("patient or unit ABO ", "")
    if rule == "unit age":
        return value if "unknown" in value else f"unit age {value}"
    if rule == "mismatches (of 8)":
        return f"{value} mismatches of 8"
    return _SHORT.get(rule, f"{rule}: {value}")


def cautions(checks: list[dict[str, str]], *, patient_abo_known: bool = True) -> list[Caution]:
    """Badges for every flagged or failed rule and every unknown fact of the unit (never hidden)."""
    out: list[Caution] = []
    for c in checks:
        verdict, rule, value = c.get("verdict", ""), c.get("rule", ""), c.get("value", "")
        sentence = machine_to_human(_sentence(c))
        if verdict == "fail":
            out.append(Caution(_short(c), "bad", sentence))
        elif verdict == "flag":
            out.append(Caution(_short(c), "warn", sentence))
        elif rule in _NO_BADGE:
            continue
        elif rule == "ABO" and not patient_abo_known and not value.startswith("unit ?"):
            continue  # the patient's ABO was not given: said once above the table
        elif verdict != "pass" and any(w in value.lower() for w in _UNKNOWN_WORDS):
            out.append(Caution(_short(c), "unknown", sentence))
    return out


def _sentence(c: dict[str, str]) -> str:
    thr = f" (threshold {c['threshold']})" if c.get("threshold") else ""
    return f"{c.get('rule', '')}: {c.get('value', '')}{thr}: {c.get('verdict', '')} [{c.get('source', '')}]"


def _check(checks: list[dict[str, str]], rule: str) -> dict[str, str] | None:
    return next((c for c in checks if c.get("rule") == rule), None)


_P42 = re.compile(r"P\(engraft by day 42\) (\d+(?:\.\d+)?%)")
_MEDIAN = re.compile(r"median day (\d+)")


def _engraftment(checks: list[dict[str, str]]) -> tuple[str, str]:
    c = _check(checks, "estimated neutrophil engraftment")
    if c is None:
        return "—", ""
    p, med = _P42.search(c.get("value", "")), _MEDIAN.search(c.get("value", ""))
    return (p[1] if p else "not estimated"), (f"median day {med[1]}" if med else "")


_P88 = re.compile(r"P\(8/8\) (\d(?:\.\d+)?)")


def _match(grade: dict[str, Any] | None, out_of: int, checks: list[dict[str, str]] | None = None) -> str:
    """``7/8``; unresolved: ``?/8``, with the estimated P(8/8) when the search gave one."""
    value = (grade or {}).get("bidirectional")
    if value is not None:
        return f"{value}/{out_of}"
    c = _check(checks or [], "match probability (unresolved typing)") if out_of == 8 else None
    p = _P88.search(c.get("value", "")) if c else None
    return f"?/8 (P(8/8) {float(p[1]):.0%})" if p else f"?/{out_of}"


def _age(checks: list[dict[str, str]]) -> str:
    c = _check(checks, "unit age")
    if c is None:
        return "—"
    value = c.get("value", "")
    return value.replace(" years", " y") if value.endswith("years") else "unknown"


def _plot(tnc: float, cd34: float | None, m8: Any, m6: Any, *, double: bool = False) -> str:
    q: dict[str, Any] = {"tnc": tnc, "cd34": "" if cd34 is None else cd34}
    q["m8"] = "" if m8 is None else m8
    q["m6"] = "" if m6 is None else m6
    if double:
        q["double"] = 1
    return urlencode(q)


def result_row(r: dict[str, Any], *, patient_abo_known: bool = True) -> Row:
    """A ranked unit of the selection's ``SearchOutcome.to_dict()`` as a table row."""
    checks = [dict(c) for c in r.get("checks") or []]
    unit = r.get("unit") or {}
    p42, median = _engraftment(checks)
    m8, m6 = (r.get("match_8") or {}).get("bidirectional"), (r.get("match_6") or {}).get("bidirectional")
    bank = unit.get("bank") or "—"
    return Row(
        key=str(r["unit_id"]),
        rank=str(r.get("rank", "")),
        dins=[str(r["unit_id"])],
        match_8=_match(r.get("match_8"), 8, checks),
        match_6=_match(r.get("match_6"), 6),
        tnc=dose(r.get("tnc_per_kg")),
        cd34=dose(r.get("cd34_per_kg")),
        abo=f"{unit.get('abo') or '?'}{unit.get('rh') or ''}",
        age=_age(checks),
        bank=bank + ("" if unit.get("accredited") in (None, True) else " (not accredited)"),
        cautions=cautions(checks, patient_abo_known=patient_abo_known),
        p42=p42,
        median=median,
        checks=[_human_check(c) for c in checks],
        reasons=[machine_to_human(s) for s in r.get("reasons") or []],
        plot_query=_plot(float(r.get("tnc_per_kg") or 0.0), r.get("cd34_per_kg"), m8, m6),
    )


def _human_check(c: dict[str, str]) -> dict[str, str]:
    return {k: machine_to_human(str(v)) for k, v in c.items()}


def _worst(values: list[Any]) -> int | None:
    """The lower of the units' match counts; None when any is unknown (never assume the best)."""
    known = [int(v) for v in values if v is not None]
    return None if not values or len(known) < len(values) else min(known)


def _bidirectional(units: list[dict[str, Any]], key: str) -> list[Any]:
    """Each unit's bidirectional match count at ``key`` (``match_8`` or ``match_6``); None when unknown."""
    return [(u.get(key) or {}).get("bidirectional") for u in units]


def _joined(members: list[Row]) -> dict[str, Any]:
    """The fields of a double-graft row that join its units' own (``7/8 + 6/8``)."""
    return {
        "dins": [m.dins[0] for m in members],
        "match_8": " + ".join(m.match_8 for m in members),
        "match_6": " + ".join(m.match_6 for m in members),
        "abo": " + ".join(m.abo for m in members),
        "age": " + ".join(m.age for m in members),
        "bank": " + ".join(dict.fromkeys(m.bank for m in members)),
    }


def double_row(d: dict[str, Any], index: int, *, patient_abo_known: bool = True) -> Row:
    """A double-unit graft as a table row: both DINs, the combined dose, the pair's own checks."""
    units = d.get("units") or []
    members = [result_row(u, patient_abo_known=patient_abo_known) for u in units]
    checks = [dict(c) for c in d.get("checks") or []]
    p42, median = _engraftment(checks)
    m8, m6 = _worst(_bidirectional(units, "match_8")), _worst(_bidirectional(units, "match_6"))
    tnc = float(d.get("combined_tnc_per_kg") or 0.0)
    return Row(
        key=f"double-{index}",
        rank=f"D{index}",
        tnc=dose(d.get("combined_tnc_per_kg")),
        cd34=dose(d.get("combined_cd34_per_kg")),
        cautions=cautions(checks, patient_abo_known=patient_abo_known) + [c for m in members for c in m.cautions],
        p42=p42,
        median=median,
        checks=[_human_check(c) for c in checks],
        reasons=[machine_to_human(s) for s in d.get("reasons") or []],
        plot_query=_plot(tnc, d.get("combined_cd34_per_kg"), m8, m6, double=True),
        double=True,
        members=members,
        **_joined(members),
    )


@dataclass
class Indication:
    """The indication notes of a search: one summary line and the details behind it."""

    summary: str
    details: list[str]


_ASTCT = re.compile(r"ASTCT (\w+) \(")


def split_notes(notes: list[str]) -> tuple[Indication | None, list[str]]:
    """(indication summary with its details, the other notes in plain words)."""
    ind = [n.removeprefix("indication: ") for n in notes if n.startswith("indication: ")]
    rest = [human_message(n) for n in notes if not n.startswith("indication: ")]
    if not ind:
        return None, rest
    names = [n.split(":", 1)[0] for n in ind]
    cats = [m[1] if (m := _ASTCT.search(n)) else "not listed" for n in ind]
    if len(ind) == 1:
        summary = f"{names[0]}: ASTCT category {cats[0]}"
    else:
        summary = f"{len(ind)} settings match the diagnosis; ASTCT categories: {', '.join(cats)}"
    return Indication(summary, [machine_to_human(n) for n in ind]), rest


def search_view(outcome: dict[str, Any]) -> dict[str, Any]:
    """The template's view of a search outcome: rows, double-graft rows, indication and notes."""
    patient = outcome.get("patient") or {}
    abo_known = bool(patient.get("abo"))
    rows = [result_row(r, patient_abo_known=abo_known) for r in outcome.get("results") or []]
    doubles = [
        double_row(d, i + 1, patient_abo_known=abo_known) for i, d in enumerate(outcome.get("double_units") or [])
    ]
    indication, notes = split_notes(list(outcome.get("notes") or []))
    if not abo_known and rows:
        notes.insert(0, "Patient ABO not given: ABO compatibility is not assessed for any unit.")
    explain = outcome.get("explain")
    if explain:
        explain = dict(explain)
        explain["checks"] = [_human_check(c) for c in explain.get("checks") or []]
        explain["explanation"] = [human_message(s) for s in explain.get("explanation") or []]
    counts = {k.replace("_", " "): v for k, v in (outcome.get("counts") or {}).items()}
    return {"rows": rows, "doubles": doubles, "indication": indication, "notes": notes, "explain": explain,
            "counts": counts, "policy": outcome.get("policy", "")}  # fmt: skip
