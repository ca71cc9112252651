"""cordmatch: HLA typing to the right umbilical cord blood unit, and the bank that keeps the units.

Decision support, not a medical device: it explains, and people decide.
"""

__version__ = "0.1.0"
