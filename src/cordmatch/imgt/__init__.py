"""Adapter: the IPD-IMGT/HLA release shipped in the package, py-ard, and the cached nomenclature tables."""

from cordmatch.imgt.cache import current_tables, default_nomenclature, load_or_build
from cordmatch.imgt.release import RELEASE, release_dir

__all__ = ["RELEASE", "current_tables", "default_nomenclature", "load_or_build", "release_dir"]
