"""Roles and what each may do. Services check the permission on every call."""

from __future__ import annotations

from enum import StrEnum

from cordmatch.errors import InvalidInputError, PermissionDeniedError


class Role(StrEnum):
    TECHNICIAN = "technician"  # bank technician: registers, records results, moves units
    DIRECTOR = "director"  # bank director: everything a technician does + QC release
    COORDINATOR = "coordinator"  # transplant-centre coordinator: search, reserve
    ADMIN = "admin"  # administrator: users, tokens, configuration, audit


class Permission(StrEnum):
    UNIT_READ = "unit.read"  # see units in any state (bank staff)
    UNIT_SEARCH = "unit.search"  # see available units (listing), as centres do
    UNIT_WRITE = "unit.write"  # register, record results, lifecycle moves, import
    UNIT_RELEASE = "unit.release"  # sign the QC release (also exceptional release)
    UNIT_DISCARD = "unit.discard"
    RESERVE = "reservation.create"  # reserve, request confirmatory typing, cancel own
    RESERVATION_MANAGE = "reservation.manage"  # record CT results, ship, infuse, cancel any
    EXPORT = "unit.export"
    CONFIG = "config.write"  # product codes, QC criteria, banks
    USERS = "users.manage"
    AUDIT = "audit.read"


P = Permission

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.TECHNICIAN: frozenset(
        {P.UNIT_READ, P.UNIT_SEARCH, P.UNIT_WRITE, P.UNIT_DISCARD, P.RESERVATION_MANAGE, P.EXPORT}
    ),
    Role.DIRECTOR: frozenset(
        {
            P.UNIT_READ,
            P.UNIT_SEARCH,
            P.UNIT_WRITE,
            P.UNIT_DISCARD,
            P.UNIT_RELEASE,
            P.RESERVATION_MANAGE,
            P.EXPORT,
            P.CONFIG,
            P.AUDIT,
        }
    ),
    Role.COORDINATOR: frozenset({P.UNIT_SEARCH, P.RESERVE}),
    Role.ADMIN: frozenset({P.UNIT_READ, P.UNIT_SEARCH, P.EXPORT, P.CONFIG, P.USERS, P.AUDIT}),
}


def role_of(value: str | Role) -> Role:
    try:
        return Role(value)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InvalidInputError(f"unknown role {value!r} (known: {known})", where="role") from None


def allows(role: Role | str, permission: Permission) -> bool:
    return permission in PERMISSIONS[role_of(role)]


def require(role: Role | str, permission: Permission, *, who: str = "user") -> None:
    """Return when ``role`` has ``permission``, else raise PermissionDeniedError naming both."""
    if not allows(role, permission):
        raise PermissionDeniedError(f"{who} with role {role_of(role).value} may not {permission.value}", where="role")
