"""Synthetic patients: typing from the same haplotype frequencies, weight, diagnosis, ABO, antibodies (MFI).

Distributions are documented in docs/sim.md; figures not from a retrieved source are marked [U] there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.sim.haplotypes import MIX_WEIGHTS, POPULATIONS, check_population, load_haplotypes
from cordmatch.sim.registry import ABO_SHARES
from cordmatch.sourced import ABO_GROUPS

#: (diagnosis, malignant, share) [U]: a mix of common cord blood transplant indications.
DIAGNOSES = (
    ("acute myeloid leukaemia", True, 0.30),
    ("acute lymphoblastic leukaemia", True, 0.25),
    ("myelodysplastic syndrome", True, 0.10),
    ("non-Hodgkin lymphoma", True, 0.05),
    ("severe aplastic anaemia", False, 0.08),
    ("Hurler syndrome (MPS-1H)", False, 0.05),
    ("severe combined immunodeficiency", False, 0.07),
    ("thalassaemia major", False, 0.05),
    ("Fanconi anaemia", False, 0.05),
)
SENSITISED_SHARE = 0.23  # Ruggeri 2013 [V]: 23% of RIC UCBT patients had anti-HLA antibodies


@dataclass(frozen=True)
class SimPatient:
    patient_id: str
    hla: str
    weight_kg: float
    diagnosis: str
    malignant: bool
    abo: str
    population: str
    antibodies: tuple[tuple[str, float], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "patient_id": self.patient_id,
            "hla": self.hla,
            "weight_kg": self.weight_kg,
            "diagnosis": self.diagnosis,
            "malignant": self.malignant,
            "abo": self.abo,
            "population": self.population,
            "antibodies": [{"specificity": s, "mfi": m} for s, m in self.antibodies],
        }

    def antibody_text(self) -> str:
        """The antibodies in the file format ``cordmatch search --antibodies`` reads."""
        return "specificity,mfi\n" + "".join(f"{s},{m:g}\n" for s, m in self.antibodies)


def _lab_form(allele: str, r: float, tables: NomenclatureTables) -> str:
    """An antibody specificity as labs report it: the allele (60%), its first field (``A*02``, 20%) or its
    WHO serologic antigen (``A2``, ``Cw7``, 20%; the first field when WHO assigns none). [U] shares."""
    if r < 0.6:
        return allele
    family = allele.split(":")[0]
    if r < 0.8 or tables.name_id(allele) is None:
        return family
    names = sorted({n for a in tables.member_ids(allele) if (n := tables.serology_of(a)) is not None})
    return names[0] if len(names) == 1 and "/" not in names[0] else family


def generate_patients(n: int, seed: int, population: str, tables: NomenclatureTables) -> list[SimPatient]:
    """``n`` patients, deterministic for ``seed``: high-resolution A, B, C, DRB1 typings."""
    pop = check_population(population)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x9A7]))
    pops = list(POPULATIONS) if pop == "MIX" else [pop]
    w = np.array([MIX_WEIGHTS[p] for p in pops])
    out: list[SimPatient] = []
    diag_p = np.array([d[2] for d in DIAGNOSES])
    for i in range(n):
        p = pops[int(rng.choice(len(pops), p=w / w.sum()))]
        hs = load_haplotypes(p, tables)
        h = rng.choice(len(hs.freqs), size=2, p=hs.freqs)
        gl = "^".join(f"{hs.names[h[0]][li]}+{hs.names[h[1]][li]}" for li in range(4))
        child = rng.random() < 0.4  # [U] share of paediatric patients
        weight = float(np.clip(rng.normal(25, 12), 4, 60) if child else np.clip(rng.normal(75, 16), 40, 150))
        d = DIAGNOSES[int(rng.choice(len(DIAGNOSES), p=diag_p / diag_p.sum()))]
        abo = ABO_GROUPS[int(rng.choice(4, p=np.array(ABO_SHARES[p])))]
        antibodies: list[tuple[str, float]] = []
        if rng.random() < SENSITISED_SHARE:
            other = load_haplotypes(pops[int(rng.integers(len(pops)))], tables)
            for _ in range(int(rng.integers(1, 5))):
                hap = other.names[int(rng.choice(len(other.freqs), p=other.freqs))]
                name = hap[int(rng.integers(0, 4))]
                own = {x for li in range(4) for x in (hs.names[h[0]][li], hs.names[h[1]][li])}
                if name in own:
                    continue
                spec = _lab_form(name, float(rng.random()), tables)
                mfi = float(np.round(np.exp(rng.normal(np.log(2500), 1.0)), 0))  # [U]
                antibodies.append((spec, mfi))
        out.append(SimPatient(f"P{seed}-{i:05d}", gl, round(weight, 1), d[0], d[1], abo, p, tuple(antibodies)))
    return out
