"""Throttling of log-ins and token creation (the ``limits`` library, moving windows).

Failed log-ins count per account and per client address; when either reaches its limit inside the
window, further attempts are refused (even with the right password) until the window has moved on: a
lockout of at most the window. Successful log-ins clear the account's count. Token creation counts
per user. The counts live where ``$CORDMATCH_THROTTLE_STORAGE`` says: by default in the process (each
server worker keeps its own: with N workers an attacker gets at most N times the limit); a shared storage
(``redis://HOST:6379``) makes every process and machine count together.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.errors import ConfigurationError
from limits.storage import MovingWindowSupport, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from cordmatch.errors import InvalidInputError, PermissionDeniedError

# [U] project choices, configurable per app (Throttle(...)); OWASP suggests locking after a handful of failures.
ACCOUNT_FAILURES = "5/15minutes"  # failed log-ins per account
ADDRESS_FAILURES = "30/15minutes"  # failed log-ins per client address (many accounts from one place)
TOKENS_PER_USER = "30/hour"  # API tokens one user may create
HASH_SLOTS = 4  # argon2 hashes computed at once (each takes ~64 MiB with the default parameters)
HASH_WAIT_S = 30.0  # how long a log-in waits for a hashing slot before answering 503
IN_PROCESS = "memory://"
STORAGE_VARIABLE = "CORDMATCH_THROTTLE_STORAGE"


class ThrottledError(PermissionDeniedError):
    """Too many attempts: refused until ``retry_after`` seconds have passed (answered 429)."""

    def __init__(self, message: str, *, where: str | None = None, retry_after: int = 60) -> None:
        super().__init__(message, where=where)
        self.retry_after = retry_after


class BusyError(PermissionDeniedError):
    """Every password-hashing slot is taken for too long (answered 503 with Retry-After)."""


@dataclass
class Throttle:
    """Counters of failed log-ins (per account, per address) and of token creation (per user); ``storage``:
    where they live (a ``limits`` storage URI with moving windows: ``memory://``, ``redis://HOST:PORT``)."""

    account_failures: str = ACCOUNT_FAILURES
    address_failures: str = ADDRESS_FAILURES
    tokens_per_user: str = TOKENS_PER_USER
    storage: str = IN_PROCESS

    def __post_init__(self) -> None:
        self._limiter: Any = _FailClosed(MovingWindowRateLimiter(open_storage(self.storage)))
        self._account: RateLimitItem = parse(self.account_failures)
        self._address: RateLimitItem = parse(self.address_failures)
        self._tokens: RateLimitItem = parse(self.tokens_per_user)

    def _retry_after(self, item: RateLimitItem, *key: str) -> int:
        reset_at: float = self._limiter.get_window_stats(item, *key).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def locked(self, username: str, address: str | None) -> ThrottledError | None:
        """The error to answer when the account or the address is locked out now, else None."""
        key = username.casefold()
        if not self._limiter.test(self._account, "account", key):
            wait = self._retry_after(self._account, "account", key)
            return ThrottledError(f"too many failed log-ins for this account: try again in {wait} s",
                                  where="username", retry_after=wait)  # fmt: skip
        if address and not self._limiter.test(self._address, "address", address):
            wait = self._retry_after(self._address, "address", address)
            return ThrottledError(f"too many failed log-ins from this address: try again in {wait} s",
                                  where="login", retry_after=wait)  # fmt: skip
        return None

    def failed(self, username: str, address: str | None) -> bool:
        """Count a failed log-in; True when it locks the account or the address."""
        ok = self._limiter.hit(self._account, "account", username.casefold())
        if address:
            ok = self._limiter.hit(self._address, "address", address) and ok
        return not ok or self.locked(username, address) is not None

    def succeeded(self, username: str) -> None:
        self._limiter.clear(self._account, "account", username.casefold())

    def token_issued(self, username: str) -> None:
        """Count a token creation; ThrottledError when the user has created too many."""
        if not self._limiter.hit(self._tokens, "tokens", username.casefold()):
            wait = self._retry_after(self._tokens, "tokens", username.casefold())
            raise ThrottledError(f"too many API tokens created: try again in {wait} s", where="name",
                                 retry_after=wait)  # fmt: skip


class _FailClosed:
    """A limiter whose storage failures (a shared storage unreachable) answer BusyError (503): a count that
    cannot be read or written never lets a log-in through as "not locked"."""

    def __init__(self, limiter: MovingWindowRateLimiter) -> None:
        self._limiter = limiter

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._limiter, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except Exception as exc:  # the storage's client raises its own types (redis, memcached, ...)
                raise BusyError("the log-in throttle's storage cannot be reached: retry shortly",
                                where="login") from exc  # fmt: skip

        return call


def open_storage(uri: str) -> Storage:
    """The ``limits`` storage at ``uri``; InvalidInputError naming the setting when it cannot be used."""
    try:
        storage = storage_from_string(uri)
    except ConfigurationError as exc:  # an unknown scheme, or its client library missing
        raise InvalidInputError(f"${STORAGE_VARIABLE}: {exc}", where=STORAGE_VARIABLE) from None
    if not isinstance(storage, Storage) or not isinstance(storage, MovingWindowSupport):
        scheme = uri.split(":", 1)[0]
        raise InvalidInputError(f"${STORAGE_VARIABLE}: {scheme} storage has no moving windows (or is asynchronous)",
                                where=STORAGE_VARIABLE)  # fmt: skip
    return storage


_slots = threading.BoundedSemaphore(HASH_SLOTS)


class hashing_slot:
    """Hold one of HASH_SLOTS argon2 slots (bounds the memory of concurrent log-ins); BusyError after
    HASH_WAIT_S seconds without a free slot."""

    def __enter__(self) -> None:
        if not _slots.acquire(timeout=HASH_WAIT_S):
            raise BusyError("the server is busy checking passwords: retry shortly", where="login")

    def __exit__(self, *exc: object) -> None:
        _slots.release()
