"""The IPD-IMGT/HLA release files shipped (unmodified, CC BY-ND) inside the package."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from cordmatch.errors import InvalidInputError
from cordmatch.paths import data_dir, package_data

#: The release shipped with cordmatch.
RELEASE = "3.58.0"

#: Files py-ard reads, relative to its ``{IMGT_HLA_URL}Latest/`` root.
PYARD_LAYOUT = {
    "Allelelist.txt": "Allelelist.txt",
    "release_version.txt": "release_version.txt",
    "hla_nom_g.txt": "wmda/hla_nom_g.txt",
    "hla_nom_p.txt": "wmda/hla_nom_p.txt",
    "rel_dna_ser.txt": "wmda/rel_dna_ser.txt",
    "rel_ser_ser.txt": "wmda/rel_ser_ser.txt",
}

CITATION = (
    "Barker D, et al. The IPD-IMGT/HLA Database. Nucleic Acids Research (2023) 51(D1): D948-D955. "
    "Robinson J, Barker D, Marsh SGE. 25 years of the IPD-IMGT/HLA Database. HLA (2024) 103(6): e15549."
)


RELEASE_FILES = tuple(PYARD_LAYOUT)


def installed_releases_dir(base: str | os.PathLike[str] | None = None) -> Path:
    """Where releases added with ``cordmatch hla update`` live (under the data directory ``base``)."""
    return data_dir(base) / "releases"


def release_dir(release: str = RELEASE) -> Path:
    """Directory of a release's files: the shipped one, or one added with ``cordmatch hla update``."""
    if release == RELEASE:
        return package_data(f"imgt-hla-{release}")
    return installed_releases_dir() / f"imgt-hla-{release}"


def active_release(chosen: str | None = None, base: str | os.PathLike[str] | None = None) -> str:
    """The release in use: ``chosen``, else the settings' (``$CORDMATCH_HLA_RELEASE``), else the one chosen
    by ``hla update``/``hla use``, else the shipped one."""
    from cordmatch.config import current

    named = chosen or current().hla_release
    if named:
        return named
    marker = installed_releases_dir(base) / "active"
    if marker.exists():
        chosen = marker.read_text(encoding="utf-8").strip()
        if chosen and release_dir(chosen).is_dir():
            return chosen
    return RELEASE


def release_version_of(directory: Path) -> str:
    """The release number written in a directory's ``release_version.txt`` (``# version: IPD-IMGT/HLA X``)."""
    path = directory / "release_version.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"no release_version.txt in {directory}", where=str(path)) from exc
    m = re.search(r"IPD-IMGT/HLA\s+([0-9]+\.[0-9]+\.[0-9]+)", text)
    if not m:
        raise InvalidInputError(f"cannot read the release number in {path}", where=str(path))
    return m.group(1)


def install_release(source: Path) -> str:
    """Copy a release's files (unmodified) from a local directory into the data directory; return its number."""
    missing = [name for name in RELEASE_FILES if not (source / name).is_file()]
    if missing:
        raise InvalidInputError(f"{source} lacks release files: {', '.join(missing)}", where=str(source))
    version = release_version_of(source)
    target = release_dir(version)
    if version != RELEASE:
        target.mkdir(parents=True, exist_ok=True)
        for name in (*RELEASE_FILES, "LICENCE.md"):
            if (source / name).is_file():
                shutil.copyfile(source / name, target / name)
    return version


def download_release(version: str, target_parent: Path) -> Path:
    """Fetch a release's files from the IPD-IMGT/HLA GitHub repository (network; only when asked)."""
    import urllib.request

    tag = version.replace(".", "")
    base = f"https://raw.githubusercontent.com/ANHIG/IMGTHLA/{tag}/"
    target = target_parent / f"download-{version}"
    target.mkdir(parents=True, exist_ok=True)
    for name, rel in {**PYARD_LAYOUT, "LICENCE.md": "LICENCE.md"}.items():
        url = base + rel
        try:
            with urllib.request.urlopen(url, timeout=60) as resp:
                (target / name).write_bytes(resp.read())
        except OSError as exc:
            raise InvalidInputError(f"could not download {url}: {exc}", where=url) from exc
    return target


def lay_out_for_pyard(source: Path, target_root: Path) -> str:
    """Copy the release files into py-ard's expected layout under ``target_root``; return the file:// URL.

    py-ard reads ``{IMGT_HLA_URL}Latest/Allelelist.txt`` and ``{IMGT_HLA_URL}Latest/wmda/*``.
    """
    latest = target_root / "Latest"
    (latest / "wmda").mkdir(parents=True, exist_ok=True)
    for name, rel in PYARD_LAYOUT.items():
        src = source / name
        if not src.exists():
            raise FileNotFoundError(f"release file missing: {src}")
        # copied aside, then renamed: a py-ard starting at the same time in another process never reads
        # a half-written file
        aside = (latest / rel).with_name(f".{Path(rel).name}.{os.getpid()}")
        shutil.copyfile(src, aside)
        os.replace(aside, latest / rel)
    return target_root.resolve().as_uri() + "/"
