"""HLA nomenclature (pure core): names, integer-coded release tables, GL strings, typings."""
