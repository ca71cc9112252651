"""Where the log-in throttle counts: in the process by default, or in a shared storage (Redis) that every
server process and machine counts in together; a shared storage that cannot be reached refuses log-ins
(503) instead of letting them through uncounted; a storage that cannot be used is a clear error."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import pytest

from cordmatch.config import Settings
from cordmatch.errors import InvalidInputError
from cordmatch.services.throttle import BusyError, Throttle

REDIS = "redis://127.0.0.1:6379/15"


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


needs_redis = pytest.mark.skipif(not _redis_answers(), reason="no Redis server at 127.0.0.1:6379")


@needs_redis
def test_processes_sharing_redis_count_failed_logins_together() -> None:
    first, second = Throttle(storage=REDIS), Throttle(storage=REDIS)  # as two server processes
    account = f"tech-{uuid.uuid4().hex}"
    for _ in range(3):
        assert not first.failed(account, None)
    assert not second.failed(account, None)
    assert second.failed(account, None)  # the fifth failure, counted across both, locks the account
    assert first.locked(account, None) is not None and second.locked(account, None) is not None
    first.succeeded(account)
    assert second.locked(account, None) is None


def test_in_process_counts_are_each_process_own() -> None:
    first, second = Throttle(), Throttle()
    for _ in range(5):
        first.failed("tech", None)
    assert first.locked("tech", None) is not None and second.locked("tech", None) is None


def test_an_unreachable_shared_storage_refuses_log_ins() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    throttle = Throttle(storage=f"redis://127.0.0.1:{port}")
    with pytest.raises(BusyError, match="cannot be reached"):
        throttle.locked("tech", "10.0.0.1")
    with pytest.raises(BusyError):
        throttle.failed("tech", "10.0.0.1")


@pytest.mark.parametrize(("uri", "needle"), [("bogus://x", "unknown storage scheme"),
                                             ("async+memory://", "no moving windows")])  # fmt: skip
def test_a_storage_that_cannot_be_used_names_the_setting(uri: str, needle: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        Throttle(storage=uri)
    assert err.value.where == "CORDMATCH_THROTTLE_STORAGE" and needle in err.value.message


def test_the_application_uses_the_configured_storage(tmp_path: Any) -> None:
    from cordmatch.bootstrap import build

    settings = Settings.from_env({"CORDMATCH_THROTTLE_STORAGE": "memory://"}, data_dir=tmp_path,
                                 db=str(tmp_path / "b.sqlite3"))  # fmt: skip
    assert settings.throttle_storage == "memory://"
    assert build(settings).bank.throttle.storage == "memory://"
    assert build(Settings(data_dir=tmp_path, db=str(tmp_path / "c.sqlite3"))).bank.throttle.storage == "memory://"
