"""Built-in example patients and cord blood units for `cordmatch demo` (invented, not real people)."""

from __future__ import annotations

DEMO_PATIENTS: dict[str, str] = {
    "P1 (child, AML)": "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01",
    "P2 (adult, ALL)": "A*24:02+A*03:01^B*07:02+B*35:01^C*07:02+C*04:01^DRB1*15:01+DRB1*01:01",
}

DEMO_UNITS: dict[str, str] = {
    "CBU-0001 (8/8 two-field)": "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01",
    "CBU-0002 (allele mismatch A)": "A*02:05+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01",
    "CBU-0003 (homozygous A)": "A*02:01+A*02:01^B*08:01+B*44:03^C*07:01+C*04:01^DRB1*03:01+DRB1*04:04",
    "CBU-0004 (null allele)": "A*24:02+A*03:01:01:02N^B*07:02+B*35:01^C*07:02+C*04:01^DRB1*15:01+DRB1*01:01",
    "CBU-0005 (antigen level, no C)": "A*24:XX+A*03:XX^B*07:XX+B*35:XX^DRB1*15:01+DRB1*01:01",
    "CBU-0006 (different P group member)": (
        "A*24:02:01:01+A*03:01^B*07:02+B*35:01^C*07:02+C*04:01^DRB1*15:01+DRB1*01:01"
    ),
}
