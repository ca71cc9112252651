"""Log-in throttling and lock-out (audited), token throttling, delegated tokens never sign, rehash on
log-in, constant work for unknown/deactivated accounts."""

from __future__ import annotations

from typing import Any

from api.conftest import PASSWORD, Api, assert_problem, make_api
from services.conftest import to_quarantine


def _login(api: Api, username: str, password: str) -> Any:
    return api.client.post("/api/v1/auth/token", json={"username": username, "password": password, "days": 1})


def test_failed_logins_lock_the_account_and_are_audited(api: Api) -> None:
    for _ in range(5):
        assert_problem(_login(api, "tech", "wrong password"), 401)
    r = _login(api, "tech", PASSWORD)  # even the right password waits until the window has moved on
    body = assert_problem(r, 429)
    assert int(r.headers["Retry-After"]) > 0 and "too many failed log-ins" in body["detail"]
    assert _login(api, "director", PASSWORD).status_code == 201  # other accounts are not locked
    with api.world.svc.store.read() as s:
        from sqlalchemy import select

        from cordmatch.store.models import AuditRow

        actions = [a for (a,) in s.execute(select(AuditRow.action).where(AuditRow.entity_id == "tech"))]
    assert actions.count("auth.login_failed") == 4 and actions.count("auth.lockout") == 1
    assert api.client.get("/api/v1/audit/verify", headers=api.as_("admin")).json()["ok"] is True


def test_failed_logins_lock_the_client_address(store: Any) -> None:
    from cordmatch.services.throttle import Throttle

    api = make_api(store)
    api.client.app.state.bank.throttle = Throttle(account_failures="100/hour", address_failures="3/hour")
    for name in ("nobody1", "nobody2", "nobody3"):
        assert_problem(_login(api, name, "wrong password"), 401)
    assert_problem(_login(api, "coord", PASSWORD), 429)


def test_an_unreachable_throttle_storage_refuses_log_ins_with_503(store: Any) -> None:
    import socket

    from cordmatch.services.throttle import Throttle

    with socket.socket() as s:  # a port nothing listens on: the shared storage is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = make_api(store)
    api.client.app.state.bank.throttle = Throttle(storage=f"redis://127.0.0.1:{port}")
    body = assert_problem(_login(api, "tech", PASSWORD), 503)  # never let through uncounted
    assert "throttle" in body["detail"]


def test_token_creation_is_throttled(store: Any) -> None:
    from cordmatch.services.throttle import Throttle

    api = make_api(store)
    api.client.app.state.bank.throttle = Throttle(tokens_per_user="3/hour")
    for i in range(3):
        assert api.client.post("/api/v1/tokens", json={"name": f"t{i}"}, headers=api.as_("tech")).status_code == 201
    r = api.client.post("/api/v1/tokens", json={"name": "t4"}, headers=api.as_("tech"))
    assert_problem(r, 429)
    assert "Retry-After" in r.headers


def test_a_token_for_another_user_never_signs_and_the_audit_names_the_admin(api: Api) -> None:
    to_quarantine(api.world, "G123498654321", "1")
    c = api.client
    r = c.post("/api/v1/tokens", json={"name": "as director", "for_user": "director"}, headers=api.as_("admin"))
    assert r.status_code == 201, r.text
    delegated = {"Authorization": f"Bearer {r.json()['token']}"}
    assert c.get("/api/v1/me", headers=delegated).json()["username"] == "director"
    body = assert_problem(c.post("/api/v1/units/G123498654321/release", headers=delegated), 403, "role")
    assert "own log-in" in body["detail"]
    assert c.get("/api/v1/units/G123498654321", headers=api.as_("tech")).json()["state"] == "quarantine"
    assert_problem(c.post("/api/v1/tokens", json={"name": "again"}, headers=delegated), 403)
    # what the delegate may do is recorded under the administrator's name
    r = c.put("/api/v1/units/G123498654321/storage", json={"tank": "T9", "rack": "R", "box": "B", "slot": "1"},
              headers=delegated)  # fmt: skip
    timeline = c.get("/api/v1/units/G123498654321/timeline", headers=api.as_("tech")).json()
    if r.status_code == 200:
        assert timeline[-1]["actor"] == "admin"
    assert all(e["actor"] != "director" for e in timeline if e["action"] == "unit.release")
    # the director's own token signs
    assert c.post("/api/v1/units/G123498654321/release", headers=api.as_("director")).status_code == 200


def test_login_rehashes_when_argon2_parameters_change(api: Api) -> None:
    from argon2 import PasswordHasher
    from sqlalchemy import select

    from cordmatch.services.auth import set_password_hasher
    from cordmatch.store.models import User

    def stored() -> str:
        with api.world.svc.store.read() as s:
            return s.execute(select(User.password_hash).where(User.username == "tech")).scalar_one()

    before = stored()
    old = set_password_hasher(PasswordHasher(time_cost=2, memory_cost=512, parallelism=1))
    try:
        assert _login(api, "tech", PASSWORD).status_code == 201
        after = stored()
        assert after != before and "m=512,t=2" in after
        assert _login(api, "tech", PASSWORD).status_code == 201
        assert stored() == after  # no rehash when the parameters are current
    finally:
        set_password_hasher(old)


def test_unknown_and_deactivated_accounts_do_the_same_argon2_work(api: Api, monkeypatch: Any) -> None:
    from cordmatch.services import users

    calls: list[str] = []
    real = users.verify_password
    monkeypatch.setattr(users, "verify_password", lambda h, p: calls.append(h) or real(h, p))
    api.client.patch("/api/v1/users/coord2", json={"active": False}, headers=api.as_("admin"))
    for name in ("coord2", "no such user", "tech"):
        assert_problem(_login(api, name, "wrong password"), 401)
    assert_problem(_login(api, "coord2", PASSWORD), 401)
    assert len(calls) == 4  # every answer verified one argon2 hash
