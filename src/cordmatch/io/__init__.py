"""Adapters for files: GL strings, CSV, HML, haplotype frequency sets."""
