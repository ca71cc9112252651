"""Where cordmatch keeps its files: the user's data directory (overridable)."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``override``, else the settings' (``$CORDMATCH_DATA_DIR``), else the platform's
    user data dir. Created when missing."""
    from cordmatch.config import current

    chosen = override or current().data_dir or user_data_dir("cordmatch", appauthor=False)
    path = Path(chosen).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_data(*parts: str) -> Path:
    """A path inside the data shipped with the package (``cordmatch/data``)."""
    return Path(__file__).resolve().parent.joinpath("data", *parts)
