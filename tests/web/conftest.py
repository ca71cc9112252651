"""Web fixtures: an app with the demo data (cheap password hashing), a logged-in TestClient, and a live
uvicorn server on a free loopback port for the browser tests."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.conftest import _cheap_password_hashing  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def demo_din(n: int) -> str:
    """The DIN of the n-th demo unit (1-4 available, 5 reserved, 6 quarantine, 7 collected, 8 discarded)."""
    from datetime import UTC, datetime

    from cordmatch.bank.din import issue_din
    from cordmatch.services.bank_demo import DEMO_FIN

    return str(issue_din(DEMO_FIN, datetime.now(UTC).year, n))


def login(client: Any, username: str) -> None:
    from cordmatch.services.bank_demo import DEMO_PASSWORD

    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "username": username, "password": DEMO_PASSWORD,
                                    "next": "/units"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory, _cheap_password_hashing: Any) -> Path:  # noqa: F811
    """A SQLite file with the demo data, seeded once; tests work on copies of it."""
    from cordmatch.services.bank import BankService
    from cordmatch.services.bank_demo import seed_demo
    from cordmatch.store import open_store

    path = tmp_path_factory.mktemp("seed") / "demo.sqlite3"
    store = open_store(str(path))
    try:
        seed_demo(BankService(store))
    finally:
        store.close()  # the last connection checkpoints the WAL into the file
    return path


@pytest.fixture
def web_app(tmp_path: Path, seeded_db: Path) -> Any:
    from cordmatch.server import create_app

    db = tmp_path / "web.sqlite3"
    shutil.copyfile(seeded_db, db)
    return create_app(str(db), search_backend=None)


@pytest.fixture
def client(web_app: Any) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(web_app, raise_server_exceptions=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path, tables: Any) -> Iterator[str]:
    """The real app under uvicorn in a thread on a free loopback port; yields its base URL.
    (``tables``: the HLA tables are built before the first search, not inside a browser wait.)"""
    import uvicorn

    from cordmatch.server import create_app

    db = tmp_path_factory.mktemp("live") / "live.sqlite3"  # one server for all browser tests (CI time)
    shutil.copyfile(seeded_db, db)
    app = create_app(str(db))  # with the real search
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# ---------------------------------------------------------------------------------------------- browser
CHROMIUM = "/usr/bin/chromium"  # the `browser` fixture (tests/conftest.py) is one chromium for the session


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) at 1280x900 whose requests may not leave the test server."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []

    def local_only(route: Any) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "data:", "blob:", "about:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", local_only)
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    pg.outside_requests = outside  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        context.close()


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    """A screenshot (the whole page, or the window) saved as test-artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def log_in(page: Any, base: str, username: str) -> None:
    from cordmatch.services.bank_demo import DEMO_PASSWORD

    page.goto(f"{base}/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/units")
