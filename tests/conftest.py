"""Shared test set-up: a repo-local data directory so the nomenclature cache is built once per clone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
