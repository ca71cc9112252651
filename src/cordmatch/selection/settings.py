"""Selection settings: every threshold with its unit and source label; policies as data.

The defaults ship in ``settings.toml`` next to this module (read as package data). Centres override any
subset with a TOML text of the same layout (:func:`settings_from_toml`) or ``name=value`` pairs
(:meth:`SelectionSettings.with_values`). The selection core never reads user files itself.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from typing import Any

from cordmatch.errors import InvalidInputError
from cordmatch.sourced import Sourced, Status

ORDER_KEYS = ("dsa", "match", "c_match", "tnc")
DSA_ACTIONS = ("flag", "exclude")


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold(Sourced):
    """One configurable threshold: a sourced figure (status V verified, U unverified) with its name, unit
    and description."""

    name: str
    unit: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """A selection policy: ranking order, DSA action and which extra hard filters apply."""

    name: str
    description: str
    source: str
    dsa_action: str
    order: tuple[str, ...]
    require_single_dose: bool
    max_mismatches: bool


@dataclass(frozen=True)
class SelectionSettings:
    """Thresholds by name and policies by name."""

    thresholds: Mapping[str, Threshold]
    policies: Mapping[str, PolicySpec] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Threshold:
        try:
            return self.thresholds[name]
        except KeyError:
            raise InvalidInputError(
                f"unknown threshold {name!r}; known: {', '.join(sorted(self.thresholds))}", where=name
            ) from None

    def value(self, name: str) -> float:
        return self[name].value

    def policy(self, name: str) -> PolicySpec:
        """The policy called ``name``; InvalidInputError naming the known ones otherwise."""
        spec = self.policies.get(name)
        if spec is None:
            raise InvalidInputError(
                f"unknown policy {name!r}; choose one of {', '.join(sorted(self.policies))}",
                where="policy",
                field="policy",
            )
        return spec

    def with_values(self, values: Mapping[str, float], source: str = "override") -> SelectionSettings:
        """A copy with some threshold values replaced; the source label records the override."""
        new = dict(self.thresholds)
        for name, v in values.items():
            old = self[name]
            new[name] = replace(
                old, value=float(v), source=f"{source} (default {old.value:g}, {old.source})", status=Status.UNVERIFIED
            )
        return SelectionSettings(new, self.policies)

    def merged(self, other: Mapping[str, Any], where: str = "settings") -> SelectionSettings:
        """Apply a parsed TOML mapping of the shipped layout (any subset) on top of these settings."""
        thresholds = dict(self.thresholds)
        policies = dict(self.policies)
        unknown = set(other) - {"thresholds", "policies"}
        if unknown:
            raise InvalidInputError(f"unknown section(s) {', '.join(sorted(unknown))}", where=where)
        for name, body in dict(other.get("thresholds", {})).items():
            base = thresholds.get(name)
            thresholds[name] = _threshold(name, body, base, where)
        for name, body in dict(other.get("policies", {})).items():
            policies[name] = _policy(name, body, policies.get(name), where)
        return SelectionSettings(thresholds, policies)


def _threshold(name: str, body: Any, base: Threshold | None, where: str) -> Threshold:
    if not isinstance(body, Mapping):
        raise InvalidInputError(f"threshold {name!r} must be a table", where=f"{where}: thresholds.{name}")
    fields: dict[str, Any] = (
        {}
        if base is None
        else {
            "value": base.value,
            "unit": base.unit,
            "source": base.source,
            "status": base.status,
            "description": base.description,
        }
    )
    fields.update(body)
    missing = [k for k in ("value", "unit", "source", "status") if k not in fields]
    if missing:
        raise InvalidInputError(f"threshold {name!r} lacks {', '.join(missing)}", where=f"{where}: thresholds.{name}")
    value = fields["value"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(
            f"threshold {name!r}: value must be a number", where=f"{where}: thresholds.{name}.value"
        )
    if fields["status"] not in tuple(Status):
        raise InvalidInputError(
            f"threshold {name!r}: status must be V or U", where=f"{where}: thresholds.{name}.status"
        )
    return Threshold(
        name=name,
        value=float(value),
        unit=str(fields["unit"]),
        source=str(fields["source"]),
        status=Status(fields["status"]),
        description=str(fields.get("description", "")),
    )


def _policy(name: str, body: Any, base: PolicySpec | None, where: str) -> PolicySpec:
    at = f"{where}: policies.{name}"
    if not isinstance(body, Mapping):
        raise InvalidInputError(f"policy {name!r} must be a table", where=at)
    fields: dict[str, Any] = (
        {}
        if base is None
        else {
            "description": base.description,
            "source": base.source,
            "dsa_action": base.dsa_action,
            "order": list(base.order),
            "require_single_dose": base.require_single_dose,
            "max_mismatches": base.max_mismatches,
        }
    )
    fields.update(body)
    order = tuple(str(k) for k in fields.get("order", ()))
    bad = [k for k in order if k not in ORDER_KEYS]
    if bad or not order:
        raise InvalidInputError(
            f"policy {name!r}: order must list some of {', '.join(ORDER_KEYS)} (got {bad or 'nothing'})", where=at
        )
    if fields.get("dsa_action") not in DSA_ACTIONS:
        raise InvalidInputError(f"policy {name!r}: dsa_action must be one of {', '.join(DSA_ACTIONS)}", where=at)
    return PolicySpec(
        name=name,
        description=str(fields.get("description", "")),
        source=str(fields.get("source", "centre setting")),
        dsa_action=str(fields["dsa_action"]),
        order=order,
        require_single_dose=bool(fields.get("require_single_dose", False)),
        max_mismatches=bool(fields.get("max_mismatches", False)),
    )


def parse_toml(text: str, where: str = "settings") -> dict[str, Any]:
    """Parse TOML text; InvalidInputError with the line on syntax errors."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"settings are not valid TOML: {exc}", where=where) from exc


@lru_cache(maxsize=1)
def default_settings() -> SelectionSettings:
    """The shipped defaults (``cordmatch/selection/settings.toml``)."""
    text = resources.files("cordmatch.selection").joinpath("settings.toml").read_text(encoding="utf-8")
    return SelectionSettings({}, {}).merged(parse_toml(text, "settings.toml"), "settings.toml")


def settings_from_toml(text: str, where: str = "settings", base: SelectionSettings | None = None) -> SelectionSettings:
    """The defaults (or ``base``) with a TOML override text applied."""
    return (base or default_settings()).merged(parse_toml(text, where), where)


def parse_assignments(pairs: list[str]) -> dict[str, float]:
    """``name=value`` strings (CLI ``--set``) as a mapping; InvalidInputError naming the bad one."""
    out: dict[str, float] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise InvalidInputError(f"expected name=value, got {pair!r}", where="--set")
        try:
            out[name.strip()] = float(raw)
        except ValueError:
            raise InvalidInputError(f"{name.strip()}: {raw!r} is not a number", where="--set") from None
    return out
