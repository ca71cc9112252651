"""Users, passwords and API tokens of the bank (argon2id hashes; only token hashes stored)."""

from __future__ import annotations

import functools
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cordmatch.bank.roles import Permission, Role, role_of
from cordmatch.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from cordmatch.plausibility import check_number
from cordmatch.services import bank_validate as v
from cordmatch.services.auth import (
    MIN_PASSWORD,
    Principal,
    hash_password,
    needs_rehash,
    new_token,
    token_hash,
    verify_password,
)
from cordmatch.services.bank_context import BankContext
from cordmatch.services.schemas import TokenOut, UserOut
from cordmatch.store.models import ApiToken, User

P = Permission


class UserServices:
    """Accounts: bootstrap, create, (de)activate, log in, tokens."""

    def __init__(self, ctx: BankContext) -> None:
        self.ctx = ctx

    def bootstrap_admin(self, username: str, password: str) -> UserOut:
        """Create the first administrator; refused once any user exists."""
        with self.ctx.tx() as s:
            if s.execute(select(func.count(User.id))).scalar_one():
                raise ConflictError("users exist already: ask an administrator", where="username")
            system = Principal(0, "system", Role.ADMIN)
            return self._create_user(s, system, username, password, Role.ADMIN, None)

    def create_user(
        self, actor: Principal, username: str, password: str, role: Role | str, *, centre: str | None = None
    ) -> UserOut:
        self.ctx.require(actor, P.USERS)
        with self.ctx.tx() as s:
            return self._create_user(s, actor, username, password, role_of(role), centre)

    def _create_user(
        self, s: Session, actor: Principal, username: str, password: str, role: Role, centre: str | None
    ) -> UserOut:
        username = v.check_text(username, "username", max_len=100)
        if username.lower() == "system":
            raise InvalidInputError("user name 'system' is reserved", where="username")
        if len(password) < MIN_PASSWORD:
            raise InvalidInputError(f"password needs at least {MIN_PASSWORD} characters", where="password")
        if role == Role.COORDINATOR and not (centre or "").strip():
            raise InvalidInputError("a coordinator needs a transplant centre", where="centre")
        if s.execute(select(User).where(User.username == username)).scalar_one_or_none():
            raise ConflictError(f"user {username} already exists", where="username")
        user = User(username=username, role=role.value, password_hash=hash_password(password), centre=centre)
        s.add(user)
        s.flush()
        out = UserOut(id=user.id, username=username, role=role.value, centre=centre, active=True)
        self.ctx.audit(s, actor, "user.create", "user", username, None, out.model_dump())
        return out

    def list_users(self, actor: Principal) -> list[UserOut]:
        self.ctx.require(actor, P.USERS)
        with self.ctx.read() as s:
            return [
                UserOut(id=u.id, username=u.username, role=u.role, centre=u.centre, active=u.active)
                for u in s.execute(select(User).order_by(User.username)).scalars()
            ]

    def set_user_active(self, actor: Principal, username: str, active: bool) -> UserOut:
        self.ctx.require(actor, P.USERS)
        with self.ctx.tx() as s:
            user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if user is None:
                raise NotFoundError(f"no user {username}", where="username")
            before = user.active
            user.active = active
            s.flush()
            self.ctx.audit(s, actor, "user.active", "user", username, {"active": before}, {"active": active})
            return UserOut(id=user.id, username=user.username, role=user.role, centre=user.centre, active=active)

    def authenticate(self, username: str, password: str, *, client: str | None = None) -> Principal:
        """The principal for a user name + password; PermissionDeniedError otherwise (no detail leaked).

        Throttled per account and per ``client`` address (ThrottledError while locked out; failures and
        lock-outs are audited). Unknown, deactivated and wrong-password answers take the same argon2 work.
        A stored hash made with older argon2 parameters is replaced by one with the current parameters.
        """
        locked = self.ctx.throttle.locked(username, client)
        if locked is not None:
            raise locked
        with self.ctx.read() as s:  # no database connection is held while argon2 works (it may wait for a slot)
            user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
            found = (user.password_hash, user.active, user.id, user.username, user.role, user.centre) if user else None
        stored = found[0] if found else _dummy_hash()
        matches = verify_password(stored, password)  # same work whether or not the user exists or is active
        if found is None or not found[1] or not matches:
            self._login_failed(username, client)
            raise PermissionDeniedError("unknown user or wrong password", where="login")
        principal = Principal(found[2], found[3], role_of(found[4]), found[5])
        self.ctx.throttle.succeeded(username)
        if needs_rehash(stored):
            self._rehash(principal, password)
        return principal

    def _login_failed(self, username: str, client: str | None) -> None:
        """Count and audit a failed log-in (and the lock-out it may start)."""
        locks = self.ctx.throttle.failed(username, client)
        anonymous = Principal(0, "anonymous", Role.COORDINATOR)
        after = {"username": username[:200], "client": client, "locked": locks}
        with self.ctx.tx() as s:
            action = "auth.lockout" if locks else "auth.login_failed"
            self.ctx.audit(s, anonymous, action, "user", username[:60], None, after)

    def _rehash(self, principal: Principal, password: str) -> None:
        """Store a hash with the current argon2 parameters (the old one was made with other parameters)."""
        new_hash = hash_password(password)
        with self.ctx.tx() as s:
            user = s.get(User, principal.user_id)
            if user is not None:
                user.password_hash = new_hash
                s.flush()
                self.ctx.audit(s, principal, "user.password_rehash", "user", user.username, None, {"params": "current"})

    def issue_token(
        self,
        actor: Principal,
        name: str,
        *,
        days: int | None = None,
        for_user: str | None = None,
        throttled: bool = False,
    ) -> TokenOut:
        """A new API token for ``actor`` (or, for an administrator, ``for_user``); shown once.
        ``throttled`` (the REST API and the pages): at most TOKENS_PER_USER per user (ThrottledError)."""
        name = v.check_text(name, "name", max_len=100)
        if days is not None and days <= 0:
            raise InvalidInputError("token lifetime must be at least 1 day", where="days")
        check_number(days, "token_days", "days")
        if throttled:
            self.ctx.throttle.token_issued(actor.actor_name)
        with self.ctx.tx() as s:
            user_id, username = actor.user_id, actor.username
            issued_by = None
            if actor.delegated_by:
                raise PermissionDeniedError("a delegated token cannot create tokens", where="for_user")
            if for_user is not None and for_user != actor.username:
                self.ctx.require(actor, P.USERS)
                issued_by = actor.user_id
                user = s.execute(select(User).where(User.username == for_user)).scalar_one_or_none()
                if user is None:
                    raise NotFoundError(f"no user {for_user}", where="for_user")
                user_id, username = user.id, user.username
            token = new_token()
            expires = self.ctx.clock() + timedelta(days=days) if days else None
            row = ApiToken(
                user_id=user_id, token_hash=token_hash(token), name=name, expires_at=expires, issued_by=issued_by
            )
            s.add(row)
            s.flush()
            after = {"user": username, "name": name, "expires_at": expires, "delegated": issued_by is not None}
            self.ctx.audit(s, actor, "token.issue", "api_token", row.id, None, after)
            return TokenOut(id=row.id, name=name, token=token, expires_at=expires)

    def revoke_token(self, actor: Principal, token_id: int) -> None:
        with self.ctx.tx() as s:
            row = s.get(ApiToken, token_id)
            if row is None:
                raise NotFoundError(f"no token {token_id}", where="token_id")
            if row.user_id != actor.user_id:
                self.ctx.require(actor, P.USERS)
            row.revoked = True
            s.flush()
            self.ctx.audit(s, actor, "token.revoke", "api_token", token_id, {"revoked": False}, {"revoked": True})

    def authenticate_token(self, token: str) -> Principal:
        with self.ctx.read() as s:
            row = s.execute(select(ApiToken).where(ApiToken.token_hash == token_hash(token))).scalar_one_or_none()
            if (
                row is None
                or row.revoked
                or not row.user.active
                or (row.expires_at is not None and row.expires_at <= self.ctx.clock())
            ):
                raise PermissionDeniedError("unknown, expired or revoked token", where="token")
            u = row.user
            delegated_by = None
            if row.issued_by is not None and row.issued_by != u.id:
                issuer = s.get(User, row.issued_by)
                if issuer is None or not issuer.active:
                    raise PermissionDeniedError("unknown, expired or revoked token", where="token")
                delegated_by = issuer.username
            return Principal(u.id, u.username, role_of(u.role), u.centre, delegated_by=delegated_by)


@functools.cache
def _dummy_hash_for(hasher_id: int) -> str:
    return hash_password("not a password of anyone")


def _dummy_hash() -> str:
    from cordmatch.services import auth

    return _dummy_hash_for(id(auth._hasher))
