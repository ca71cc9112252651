"""Shared test set-up: a repo-local data directory so the nomenclature cache is built once per clone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Property tests check answers, not speed: on a loaded CI machine Hypothesis's timing checks (the per-example
# deadline, the too-slow data generation health check) fail runs whose answers are right. Examples still run.
settings.register_profile("cordmatch", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("cordmatch")

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("CORDMATCH_DATA_DIR", str(REPO / ".pytest-data"))


@pytest.fixture(scope="session")
def tables():  # type: ignore[no-untyped-def]
    """The nomenclature tables of the shipped IPD-IMGT/HLA release (built on first use, then cached)."""
    from cordmatch.imgt import default_nomenclature

    return default_nomenclature()


@pytest.fixture
def run_cli(capsys):  # type: ignore[no-untyped-def]
    """Run the `cordmatch` entry point in-process: returns (exit code, stdout, stderr)."""
    from cordmatch.cli.main import main

    def run(args: list[str]) -> tuple[int, str, str]:
        code = 0
        try:
            main(args)
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


# ---------------------------------------------------------------------------------------------- browser
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium through Playwright, one for the whole session (nothing downloads a browser)."""
    import os

    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is absent: apt-get install -y chromium")

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
