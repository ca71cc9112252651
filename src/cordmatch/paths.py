"""Where cordmatch keeps its files: the user's data directory (overridable)."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

DATA_DIR_ENV = "CORDMATCH_DATA_DIR"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``override``, else ``$CORDMATCH_DATA_DIR``, else the platform's user data dir."""
    chosen = override or os.environ.get(DATA_DIR_ENV) or user_data_dir("cordmatch", appauthor=False)
    path = Path(chosen).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_data(*parts: str) -> Path:
    """A path inside the data shipped with the package (``cordmatch/data``)."""
    return Path(__file__).resolve().parent.joinpath("data", *parts)
