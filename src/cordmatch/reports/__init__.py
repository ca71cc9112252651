"""Reports for people (adapter): numbers written for readers, the search report (PDF and print view), the
unit report for the transplant centre and the ISBT 128 bag label (PDF and SVG with Code 128 barcodes).

Decision support: every report says so, names its sources and says when a fact is missing.
"""
