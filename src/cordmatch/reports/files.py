"""Writing a report file: all or nothing (a temporary file renamed into place), errors naming the path."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cordmatch.errors import InvalidInputError


def write_file(path: Path, data: bytes, *, option: str = "--out") -> None:
    """Write ``data`` to ``path`` atomically; InvalidInputError naming the path when it cannot be written."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InvalidInputError(f"cannot write {path}: folder {folder} does not exist", where=option)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {path}: {exc.strerror}", where=option) from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file (mkstemp makes it owner-only)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InvalidInputError(f"cannot write {path}: {exc.strerror}", where=option) from None


def format_of(path: Path, allowed: tuple[str, ...], option: str = "--out") -> str:
    """The file format from the name's suffix (``.pdf`` -> ``pdf``), one of ``allowed``."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in allowed:
        raise InvalidInputError(
            f"{path.name}: the file name must end in {' or '.join('.' + a for a in allowed)}", where=option
        )
    return fmt
