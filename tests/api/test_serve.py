"""`cordmatch serve --demo`: a real server process with the demo data answers the pages and the API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_bad_port_is_a_clear_error() -> None:
    from cordmatch.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["serve", "--port", "70000", "--db", "/nonexistent-dir-never/x.sqlite3"])
    assert exc.value.code == 2


@pytest.mark.slow
def test_serve_demo_end_to_end(tmp_path: Path, tables: object) -> None:  # tables: the cache exists first
    from cordmatch.services.bank_demo import DEMO_PASSWORD

    port = _free_port()
    db = tmp_path / "demo.sqlite3"
    cmd = [sys.executable, "-m", "cordmatch", "serve", "--demo", "--db", str(db), "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else "server exited"
            assert time.monotonic() < deadline, "server did not answer within 60 s"
            time.sleep(0.2)
        token = httpx.post(f"{base}/api/v1/auth/token", json={"username": "coord", "password": DEMO_PASSWORD})
        assert token.status_code == 201, token.text
        h = {"Authorization": f"Bearer {token.json()['token']}"}
        units = httpx.get(f"{base}/api/v1/units", headers=h).json()
        assert units["total"] >= 4 and all(u["state"] == "available" for u in units["items"])
        assert httpx.get(f"{base}/openapi.json").json()["info"]["title"] == "cordmatch"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    text = out.decode()
    assert DEMO_PASSWORD in text and "coordinator" in text  # the demo accounts are printed
