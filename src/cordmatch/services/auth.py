"""Passwords (argon2id via argon2-cffi) and API tokens (random, stored as SHA-256)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cordmatch.bank.roles import Role

_hasher = PasswordHasher()
TOKEN_PREFIX = "cmt_"
MIN_PASSWORD = 8


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: every service call takes one and checks its role."""

    user_id: int
    username: str
    role: Role
    centre: str | None = None
    delegated_by: str | None = None  # the administrator who issued this user's token (acts, never signs)

    @property
    def actor_name(self) -> str:
        """Who really acts (the audit names them): the issuer of a delegated token, else the user."""
        return self.delegated_by or self.username


# The identity used for work the system does by itself (e.g. expiring reservations).
SYSTEM = Principal(0, "system", Role.ADMIN)


def set_password_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Replace the argon2 parameters (tests use cheap ones); returns the previous hasher."""
    global _hasher
    old, _hasher = _hasher, hasher
    return old


def hash_password(password: str) -> str:
    from cordmatch.services.throttle import hashing_slot

    with hashing_slot():
        return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches; at most HASH_SLOTS hashes run at once (bounded memory)."""
    from cordmatch.services.throttle import hashing_slot

    with hashing_slot():
        try:
            return _hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def new_token() -> str:
    """A fresh API token (shown once; only its hash is stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
