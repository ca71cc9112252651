"""Typed exceptions shared by every layer. Each names what was wrong and where."""

from __future__ import annotations


class CordmatchError(Exception):
    """Base class of every error cordmatch raises on bad input or bad state.

    ``where`` names the place (a token, a field, a line) when known; ``field`` names the request field at
    fault in domain words (``patient_gl``, ``weight_kg``), which each entry point renders in its own words (a
    CLI option, an API field).
    """

    def __init__(self, message: str, *, where: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.field = field

    def __str__(self) -> str:
        return f"{self.message} (at {self.where})" if self.where else self.message


class InvalidInputError(CordmatchError):
    """Input that does not have the expected form or value."""


class NotFoundError(CordmatchError):
    """A referenced thing does not exist."""


class ConflictError(CordmatchError):
    """The request conflicts with the stored state (duplicate, taken, wrong lifecycle state)."""


class PermissionDeniedError(CordmatchError):
    """The user's role does not allow the action."""


class ReferenceDataError(CordmatchError):
    """Reference data that is missing or damaged (a nomenclature build that fails its checks)."""
