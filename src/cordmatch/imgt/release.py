"""The IPD-IMGT/HLA release files shipped (unmodified, CC BY-ND) inside the package."""

from __future__ import annotations

import shutil
from pathlib import Path

from cordmatch.paths import package_data

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


def release_dir(release: str = RELEASE) -> Path:
    """Directory of the shipped release files."""
    return package_data(f"imgt-hla-{release}")


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
        shutil.copyfile(src, latest / rel)
    return target_root.resolve().as_uri() + "/"
