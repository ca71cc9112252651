"""Report fixtures: the web fixtures (demo store, logged-in client) and the Debian tools the tests read
PDFs and barcodes with (poppler-utils, zbar-tools)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from services.conftest import _cheap_password_hashing  # noqa: F401
from web.conftest import client, demo_din, login, seeded_db, web_app  # noqa: F401  (fixtures and helpers)

TOOLS = ("pdftotext", "pdftoppm", "zbarimg")


def need_tools() -> None:
    """Skip loudly when poppler-utils or zbar-tools are missing (CI installs them: .ci/run)."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"MISSING DEBIAN TOOLS {', '.join(missing)}: apt-get install poppler-utils zbar-tools")


def pdf_text(pdf: bytes, tmp: Path) -> str:
    """The text of a PDF, as pdftotext reads it (layout kept)."""
    need_tools()
    src = tmp / "in.pdf"
    src.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(src), "-"], capture_output=True, check=True, text=True)
    return out.stdout


def pdf_png(pdf: bytes, tmp: Path, dpi: int = 300, name: str = "page") -> Path:
    """The first page of a PDF as a PNG (pdftoppm)."""
    need_tools()
    src = tmp / f"{name}.pdf"
    src.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile", str(src),
                    str(tmp / name)], check=True)  # fmt: skip
    return tmp / f"{name}.png"


def barcodes(png: Path) -> list[str]:
    """Every Code 128 barcode zbarimg decodes in a PNG (data only)."""
    need_tools()
    out = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Scode128.enable", str(png)],
                         capture_output=True, text=True)  # fmt: skip
    return [line for line in out.stdout.splitlines() if line]


@pytest.fixture
def bank(tmp_path: Path, seeded_db: Path):  # type: ignore[no-untyped-def]  # noqa: F811
    """A BankService on a copy of the demo store."""
    from cordmatch.services.bank import BankService
    from cordmatch.store import open_store

    db = tmp_path / "bank.sqlite3"
    shutil.copyfile(seeded_db, db)
    store = open_store(str(db))
    yield BankService(store)
    store.close()


def actor(svc, username: str):  # type: ignore[no-untyped-def]
    from cordmatch.services.bank_demo import DEMO_PASSWORD

    return svc.users.authenticate(username, DEMO_PASSWORD)
