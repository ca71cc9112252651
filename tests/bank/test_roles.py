from __future__ import annotations

import pytest

from cordmatch.bank.roles import PERMISSIONS, Permission, Role, allows, require
from cordmatch.errors import PermissionDeniedError


def test_release_only_by_director() -> None:
    assert [r for r in Role if allows(r, Permission.UNIT_RELEASE)] == [Role.DIRECTOR]


def test_coordinator_searches_and_reserves_only() -> None:
    assert PERMISSIONS[Role.COORDINATOR] == {Permission.UNIT_SEARCH, Permission.RESERVE}


def test_admin_manages_users_but_not_units() -> None:
    assert allows("admin", Permission.USERS)
    assert not allows("admin", Permission.UNIT_WRITE)
    assert not allows("technician", Permission.USERS)


def test_require_names_role_and_permission() -> None:
    with pytest.raises(PermissionDeniedError, match=r"coordinator may not unit\.release"):
        require(Role.COORDINATOR, Permission.UNIT_RELEASE)
    require(Role.DIRECTOR, Permission.UNIT_RELEASE)
