"""Adapters for files: haplotype frequency sets (`frequency_sets`)."""
