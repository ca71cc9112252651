"""Search index: every listed unit coded once as small integer arrays, searched vectorised (pure numpy).

Layout (docs/adr/0401-search-index.md):
- HLA: per locus (A, B, C, DRB1) a *genotype*: the coded locus (antigen id, allele id) x 2 positions,
  positions sorted, each distinct one stored once in a per-locus table. Per unit three ids (intp: numpy
  converts any narrower index type to intp on every gather, which costs more than the memory saved): the A
  genotype, the (B, C) genotype pair (B and C are in strong linkage: few distinct pairs) and the DRB1
  genotype. A search grades the distinct genotypes of each locus (thousands, not millions), combines B and
  C per pair, and gathers three results per unit.
- dose: TNC and CD34+ totals as float32 cells (not per kg: the patient's weight scales the thresholds);
  CD34+ NaN when not recorded; a withdrawn slot has TNC 0, so it fails the TNC filter.
- flags: uint16 bit field (live, accredited, RBC depleted, attached segment, NIMA recorded, ABO, Rh, not codable);
  collection date as uint16 days since 1970-01-01 (0 = unknown); unit id as fixed-width bytes (13 = DIN).
- units whose typing is not codable (genotype ambiguity, allele lists spanning antigens) keep the
  not-typed genotype and the NOT_CODABLE flag; the search grades them with :func:`cordmatch.matching.grade`.

Adding appends (amortised growth by 1.5x) or reuses withdrawn slots (free list); withdrawing clears the
live bit (tombstone) and frees the slot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cordmatch.errors import ConflictError, NotFoundError
from cordmatch.hla.typing import HlaTyping
from cordmatch.matching.coded import CODED_LOCI
from cordmatch.sourced import ABO_GROUPS

N_LOCI = len(CODED_LOCI)
GID_ROWS = 3  # A, (B, C) pair, DRB1
EPOCH = dt.date(1970, 1, 1)

# flag bits
LIVE = 1 << 0
ACCREDITED = 1 << 1
RBC_DEPLETED = 1 << 2
SEGMENT = 1 << 3
NIMA = 1 << 4
ABO_SHIFT = 5  # 2 bits: O A B AB
ABO_KNOWN = 1 << 7
RH_POS = 1 << 8
RH_KNOWN = 1 << 9
NOT_CODABLE = 1 << 10  # typing not codable: graded exactly (matching.grade), not by the kernel
ABO_NAMES = ABO_GROUPS
ABO_CODES = {name: code for code, name in enumerate(ABO_GROUPS)}

U16 = npt.NDArray[np.uint16]
F32 = npt.NDArray[np.float32]
I16 = npt.NDArray[np.int16]


def pack_flags(
    *,
    accredited: bool,
    rbc_depleted: bool,
    attached_segment: bool,
    abo: str | None,
    rh: str | None,
    nima: bool = False,
) -> int:
    """The flag bits of one unit (LIVE set)."""
    f = LIVE
    f |= ACCREDITED if accredited else 0
    f |= RBC_DEPLETED if rbc_depleted else 0
    f |= SEGMENT if attached_segment else 0
    f |= NIMA if nima else 0
    if abo in ABO_CODES:
        f |= ABO_KNOWN | (ABO_CODES[abo] << ABO_SHIFT)
    if rh in ("+", "-"):
        f |= RH_KNOWN | (RH_POS if rh == "+" else 0)
    return f


def date_code(d: dt.date | None) -> int:
    """Days since 1970-01-01 as uint16 (0 = unknown)."""
    return 0 if d is None else max(1, min(65535, (d - EPOCH).days))


def code_date(c: int) -> dt.date | None:
    return None if c == 0 else EPOCH + dt.timedelta(days=int(c))


@dataclass
class UnitColumns:
    """A batch of units to add, columnar. ``ag``/``al`` shaped (n, 4, 2) int16 (see matching.coded);
    ``exact[i]`` marks units whose typing is not codable (their ag/al rows are ignored)."""

    unit_id: Sequence[str] | npt.NDArray[np.bytes_]
    ag: I16
    al: I16
    tnc: F32
    cd34: F32
    flags: U16
    collected: U16
    exact: npt.NDArray[np.bool_]
    #: for exact units: their genotype alternatives coded as rows (k, 4, 2) each, or None (graded by grade())
    alternatives: Sequence[tuple[I16, I16] | None] | None = None
    #: GL strings of units typed at loci beyond A, B, C, DRB1 that the crossmatch reads (DRB3/4/5, DQ, DP)
    extra_hla: Sequence[str | None] | None = None

    def __len__(self) -> int:
        return len(self.unit_id)


class _Genotypes:
    """Distinct coded genotypes of one locus: (G, 2) antigen and allele ids, and a key -> id look-up."""

    def __init__(self) -> None:
        # genotype 0 = locus not typed
        self.ag = np.full((1, 2), -1, dtype=np.int16)
        self.al = np.full((1, 2), -1, dtype=np.int16)
        self._keys = np.array([_keys(self.ag, self.al)[0]], dtype=np.int64)
        self._ids = np.zeros(1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ag)

    def intern(self, ag: I16, al: I16) -> npt.NDArray[np.int64]:
        """Genotype ids of rows (n, 2), adding new genotypes."""
        ag, al = _sort_positions(ag, al)
        keys = _keys(ag, al)
        uniq, inverse = np.unique(keys, return_inverse=True)
        pos = np.searchsorted(self._keys, uniq)
        pos_c = np.minimum(pos, len(self._keys) - 1)
        found = self._keys[pos_c] == uniq
        ids = np.empty(len(uniq), dtype=np.int64)
        ids[found] = self._ids[pos_c[found]]
        new = ~found
        if new.any():
            # first row of each new key supplies its codes
            first = np.zeros(len(uniq), dtype=np.int64)
            first[inverse[::-1]] = np.arange(len(keys))[::-1]
            rows = first[new]
            start = len(self.ag)
            ids[new] = np.arange(start, start + int(new.sum()))
            self.ag = np.concatenate([self.ag, ag[rows]])
            self.al = np.concatenate([self.al, al[rows]])
            allk = np.concatenate([self._keys, uniq[new]])
            alli = np.concatenate([self._ids, ids[new]])
            order = np.argsort(allk, kind="stable")
            self._keys, self._ids = allk[order], alli[order]
        return ids[inverse.ravel()]

    def nbytes(self) -> int:
        return int(self.ag.nbytes + self.al.nbytes + self._keys.nbytes + self._ids.nbytes)


class _Pairs:
    """Distinct (B genotype, C genotype) pairs. B and C are in strong linkage disequilibrium, so a registry
    holds few pairs (about 55,000 at 1,000,000 units) and one gather serves both loci. Pair 0 = (0, 0)."""

    def __init__(self) -> None:
        self.b = np.zeros(1, dtype=np.intp)
        self.c = np.zeros(1, dtype=np.intp)
        self._keys = np.zeros(1, dtype=np.int64)
        self._ids = np.zeros(1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.b)

    def intern(self, b: npt.NDArray[np.int64], c: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        keys = (b.astype(np.int64) << 32) | c.astype(np.int64)
        uniq, inverse = np.unique(keys, return_inverse=True)
        pos = np.minimum(np.searchsorted(self._keys, uniq), len(self._keys) - 1)
        found = self._keys[pos] == uniq
        ids = np.empty(len(uniq), dtype=np.int64)
        ids[found] = self._ids[pos[found]]
        new = ~found
        if new.any():
            start = len(self.b)
            ids[new] = np.arange(start, start + int(new.sum()))
            self.b = np.concatenate([self.b, (uniq[new] >> 32).astype(np.intp)])
            self.c = np.concatenate([self.c, (uniq[new] & 0xFFFFFFFF).astype(np.intp)])
            allk = np.concatenate([self._keys, uniq[new]])
            alli = np.concatenate([self._ids, ids[new]])
            order = np.argsort(allk, kind="stable")
            self._keys, self._ids = allk[order], alli[order]
        out: npt.NDArray[np.int64] = ids[inverse.ravel()]
        return out

    def nbytes(self) -> int:
        return int(self.b.nbytes + self.c.nbytes + self._keys.nbytes + self._ids.nbytes)


def _sort_positions(ag: I16, al: I16) -> tuple[I16, I16]:
    swap = (ag[:, 0] > ag[:, 1]) | ((ag[:, 0] == ag[:, 1]) & (al[:, 0] > al[:, 1]))
    ag2, al2 = ag.copy(), al.copy()
    ag2[swap] = ag[swap][:, ::-1]
    al2[swap] = al[swap][:, ::-1]
    return ag2, al2


def _keys(ag: I16, al: I16) -> npt.NDArray[np.int64]:
    u = (np.concatenate([ag, al], axis=1).astype(np.int64) + 1) & 0xFFFF
    return (u[:, 0] << 48) | (u[:, 1] << 32) | (u[:, 2] << 16) | u[:, 3]


class UnitIndex:
    """All listed units, coded for vectorised search. Not thread-safe for writes."""

    def __init__(self, release: str = "", capacity: int = 1024) -> None:
        self.release = release
        self.n = 0  # slots in use (live or withdrawn)
        self._cap = 0
        # genotype ids as intp: numpy gathers convert narrower index types to intp on every call
        # rows: A genotype, (B, C) genotype pair, DRB1 genotype
        self.gid: npt.NDArray[np.intp] = np.zeros((GID_ROWS, 0), dtype=np.intp)
        self.bc = _Pairs()
        self.tnc: F32 = np.zeros(0, dtype=np.float32)
        self.cd34: F32 = np.zeros(0, dtype=np.float32)
        self.flags: U16 = np.zeros(0, dtype=np.uint16)
        self.collected: U16 = np.zeros(0, dtype=np.uint16)
        # unit ids as fixed-width bytes: 13 (an ISBT 128 DIN), widened when longer ids arrive
        self.ids: npt.NDArray[np.bytes_] = np.zeros(0, dtype="S13")
        self.genotypes = [_Genotypes() for _ in CODED_LOCI]
        self.exact: dict[int, HlaTyping | str] = {}  # slot -> typing (or GL string, parsed on first use)
        self.extra_hla: dict[int, str] = {}  # slot -> GL string of units typed at DRB3/4/5, DQ or DP
        # genotype alternatives of ambiguous units, coded: owner slot and genotype ids per row
        self.alt_owner = np.zeros(0, dtype=np.int64)
        self.alt_gid = np.zeros((N_LOCI, 0), dtype=np.int64)
        # NIMA antigen ids of the units that record one: sorted slots and up to 6 antigen ids each (-1 = none)
        self._nima_slots = np.zeros(0, dtype=np.int64)
        self._nima_ids = np.zeros((0, 6), dtype=np.int16)
        self._free: list[int] = []
        self._grow(capacity)

    # ----------------------------------------------------------------- storage
    def _grow(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = max(need, int(self._cap * 1.5) + 16)

        def grown(a: npt.NDArray[np.generic], fill: object = 0) -> npt.NDArray[np.generic]:
            shape = (*a.shape[:-1], cap)
            b = np.full(shape, fill, dtype=a.dtype)
            b[..., : a.shape[-1]] = a
            return b

        self.gid = grown(self.gid)  # type: ignore[assignment]
        self.tnc = grown(self.tnc)  # type: ignore[assignment]
        self.cd34 = grown(self.cd34, np.nan)  # type: ignore[assignment]
        self.flags = grown(self.flags)  # type: ignore[assignment]
        self.collected = grown(self.collected)  # type: ignore[assignment]
        self.ids = grown(self.ids, b"")  # type: ignore[assignment]
        self._cap = cap

    @property
    def live(self) -> npt.NDArray[np.bool_]:
        live: npt.NDArray[np.bool_] = (self.flags[: self.n] & LIVE) != 0
        return live

    def __len__(self) -> int:
        return int(np.count_nonzero(self.live))

    def add(
        self, cols: UnitColumns, exact_typings: Sequence[HlaTyping | str | None] | None = None
    ) -> npt.NDArray[np.int64]:
        """Add units (ids must be new); returns their slots. Withdrawn slots are reused first."""
        m = len(cols)
        if m == 0:
            return np.zeros(0, dtype=np.int64)
        enc = self._new_ids(cols)
        slots = self._take_slots(m)
        self._write_columns(cols, slots, enc)
        for k, s in enumerate(slots):
            self.exact.pop(int(s), None)
            self.extra_hla.pop(int(s), None)
            if cols.extra_hla is not None and cols.extra_hla[k]:
                self.extra_hla[int(s)] = str(cols.extra_hla[k])
        self._drop_nima(slots)
        self._add_not_codable(cols, slots, exact_typings)
        return slots

    def _new_ids(self, cols: UnitColumns) -> npt.NDArray[np.bytes_]:
        """The batch's unit ids as bytes (the id column widened to fit); ConflictError when one repeats within
        the batch or is already live in the index."""
        enc = np.asarray(cols.unit_id, dtype=np.bytes_)
        if enc.dtype.itemsize > self.ids.dtype.itemsize:
            self.ids = self.ids.astype(enc.dtype)
        if len(np.unique(enc)) != len(enc):
            raise ConflictError("unit ids repeat within the batch")
        if self.n and np.isin(enc, self.ids[: self.n][self.live]).any():
            dup = enc[np.isin(enc, self.ids[: self.n][self.live])][0].decode()
            raise ConflictError(f"unit {dup} is already in the index", where=dup)
        return enc

    def _take_slots(self, m: int) -> npt.NDArray[np.int64]:
        """``m`` slots: withdrawn ones first, then new ones at the end (growing the arrays)."""
        reuse = min(len(self._free), m)
        slots = np.empty(m, dtype=np.int64)
        if reuse:
            slots[:reuse] = [self._free.pop() for _ in range(reuse)]
        fresh = m - reuse
        if fresh:
            self._grow(self.n + fresh)
            slots[reuse:] = np.arange(self.n, self.n + fresh)
            self.n += fresh
        return slots

    def _write_columns(self, cols: UnitColumns, slots: npt.NDArray[np.int64], enc: npt.NDArray[np.bytes_]) -> None:
        """Genotype ids, doses, flags (NOT_CODABLE for typings that are not codable), dates and ids of the
        batch at ``slots``."""
        gids = np.zeros((N_LOCI, len(cols)), dtype=np.int64)
        ag = np.where(cols.exact[:, None, None], np.int16(-1), cols.ag).astype(np.int16)
        al = np.where(cols.exact[:, None, None], np.int16(-1), cols.al).astype(np.int16)
        for li, g in enumerate(self.genotypes):
            gids[li] = g.intern(ag[:, li, :], al[:, li, :])
        self.gid[:, slots] = np.stack([gids[0], self.bc.intern(gids[1], gids[2]), gids[3]])
        self.tnc[slots] = cols.tnc
        self.cd34[slots] = cols.cd34
        self.flags[slots] = (cols.flags | LIVE) | np.where(cols.exact, NOT_CODABLE, 0).astype(np.uint16)
        self.collected[slots] = cols.collected
        self.ids[slots] = enc

    def _add_not_codable(
        self,
        cols: UnitColumns,
        slots: npt.NDArray[np.int64],
        exact_typings: Sequence[HlaTyping | str | None] | None,
    ) -> None:
        """Units whose typing is not codable: their coded genotype alternatives when given, else their typing
        (graded exactly by the search); ValueError when neither is given."""
        alt_ag: list[I16] = []
        alt_al: list[I16] = []
        alt_owner: list[npt.NDArray[np.int64]] = []
        for k in (int(x) for x in np.flatnonzero(cols.exact)):
            alts = cols.alternatives[k] if cols.alternatives is not None else None
            if alts is not None:
                alt_ag.append(alts[0])
                alt_al.append(alts[1])
                alt_owner.append(np.full(len(alts[0]), slots[k], dtype=np.int64))
                continue
            typing = exact_typings[k] if exact_typings is not None else None
            if typing is None:
                raise ValueError(f"unit {cols.unit_id[k]!r} is marked exact but no typing was given")
            self.exact[int(slots[k])] = typing
        if alt_owner:
            self._store_alternatives(np.concatenate(alt_ag), np.concatenate(alt_al), alt_owner, slots)

    def _store_alternatives(
        self, ag_rows: I16, al_rows: I16, alt_owner: list[npt.NDArray[np.int64]], slots: npt.NDArray[np.int64]
    ) -> None:
        """Replace the alternative rows of ``slots`` by the new ones, kept grouped by owner for the search."""
        gids_rows = np.stack([g.intern(ag_rows[:, li, :], al_rows[:, li, :]) for li, g in enumerate(self.genotypes)])
        keep = ~np.isin(self.alt_owner, slots)
        owners = np.concatenate([self.alt_owner[keep], *alt_owner])
        gids_all = np.concatenate([self.alt_gid[:, keep], gids_rows], axis=1)
        order = np.argsort(owners, kind="stable")
        self.alt_owner, self.alt_gid = owners[order], gids_all[:, order]

    def set_nima(self, slots: Sequence[int], antigen_ids: Sequence[frozenset[int]]) -> None:
        """Record the NIMA antigens of some units (replacing earlier values of the same slots)."""
        if len(slots) == 0:
            return
        new_slots = np.asarray(slots, dtype=np.int64)
        rows = np.full((len(new_slots), 6), -1, dtype=np.int16)
        for i, ids in enumerate(antigen_ids):
            vals = sorted(ids)[:6]
            rows[i, : len(vals)] = vals
        self._drop_nima(new_slots)
        all_slots = np.concatenate([self._nima_slots, new_slots])
        all_ids = np.concatenate([self._nima_ids, rows])
        order = np.argsort(all_slots, kind="stable")
        self._nima_slots, self._nima_ids = all_slots[order], all_ids[order]

    def _drop_nima(self, slots: npt.NDArray[np.int64]) -> None:
        if len(self._nima_slots):
            keep = ~np.isin(self._nima_slots, slots)
            self._nima_slots, self._nima_ids = self._nima_slots[keep], self._nima_ids[keep]

    def nima(self, slot: int) -> frozenset[int] | None:
        """The NIMA antigen ids of a unit, or None when none is recorded."""
        i = int(np.searchsorted(self._nima_slots, slot))
        if i < len(self._nima_slots) and self._nima_slots[i] == slot:
            return frozenset(int(a) for a in self._nima_ids[i] if a >= 0)
        return None

    def slot_of(self, unit_id: str) -> int:
        """The live slot of a unit; NotFoundError otherwise."""
        key = unit_id.encode("ascii", "replace")
        if len(key) > self.ids.dtype.itemsize:
            raise NotFoundError(f"unit {unit_id} is not in the registry", where=unit_id)
        hits = np.flatnonzero((self.ids[: self.n] == key) & self.live)
        if len(hits) == 0:
            raise NotFoundError(f"unit {unit_id} is not in the registry", where=unit_id)
        return int(hits[0])

    def withdraw(self, unit_ids: Sequence[str]) -> int:
        """Withdraw units (tombstone + free slot); returns how many were live."""
        done = 0
        for uid in unit_ids:
            try:
                s = self.slot_of(uid)
            except NotFoundError:
                continue
            self.flags[s] = 0
            self.tnc[s] = 0.0  # a withdrawn slot fails every dose filter without a separate live check
            self.ids[s] = b""
            self.gid[:, s] = 0
            self.exact.pop(s, None)
            self.extra_hla.pop(s, None)
            self._drop_nima(np.array([s]))
            if len(self.alt_owner):
                keep = self.alt_owner != s
                self.alt_owner, self.alt_gid = self.alt_owner[keep], self.alt_gid[:, keep]
            self._free.append(s)
            done += 1
        return done

    def codes(self, slot: int) -> tuple[I16, I16]:
        """The coded typing (4, 2) of one slot (not-typed codes for exact units)."""
        ids = self.locus_gids(slot)
        ag = np.stack([g.ag[ids[li]] for li, g in enumerate(self.genotypes)])
        al = np.stack([g.al[ids[li]] for li, g in enumerate(self.genotypes)])
        return ag, al

    def locus_gids(self, slot: int) -> list[int]:
        """Genotype ids of one slot per locus (A, B, C, DRB1)."""
        pair = int(self.gid[1, slot])
        return [int(self.gid[0, slot]), int(self.bc.b[pair]), int(self.bc.c[pair]), int(self.gid[2, slot])]

    def unit_id(self, slot: int) -> str:
        return bytes(self.ids[slot]).decode("ascii")

    # ----------------------------------------------------------------- memory
    def bytes_per_unit(self) -> float:
        """Index bytes per live unit: per-unit arrays at capacity plus genotype tables and side lists."""
        n = max(len(self), 1)
        per_slot = sum(a.nbytes for a in (self.gid, self.tnc, self.cd34, self.flags, self.collected, self.ids))
        shared = sum(g.nbytes() for g in self.genotypes) + self.bc.nbytes()
        side = 200 * len(self.exact)  # rough Python object cost of the (rare) exactly graded typings
        side += self.alt_owner.nbytes + self.alt_gid.nbytes + self._nima_slots.nbytes + self._nima_ids.nbytes
        return (per_slot + shared + side) / n

    def bytes_scanned_per_unit(self) -> int:
        """Bytes of per-unit arrays one search reads (gid, tnc, cd34, flags)."""
        return int(self.gid.dtype.itemsize * GID_ROWS + 4 + 4 + 2)


# --------------------------------------------------------------------------- saved state
def index_state(index: UnitIndex) -> dict[str, npt.NDArray[Any]] | None:
    """The arrays that make up ``index``, for saving it and loading it back without rebuilding it (the
    genotype tables included); None when it holds what arrays cannot (parsed typings, extra-locus GL
    strings, withdrawn slots)."""
    if index._free or index.extra_hla or not all(isinstance(v, str) for v in index.exact.values()):
        return None
    n = index.n
    state: dict[str, npt.NDArray[Any]] = {
        "gid": index.gid[:, :n], "tnc": index.tnc[:n], "cd34": index.cd34[:n], "flags": index.flags[:n],
        "collected": index.collected[:n], "ids": index.ids[:n],
        "bc_b": index.bc.b, "bc_c": index.bc.c, "bc_keys": index.bc._keys, "bc_ids": index.bc._ids,
        "alt_owner": index.alt_owner, "alt_gid": index.alt_gid,
        "nima_slots": index._nima_slots, "nima_ids": index._nima_ids,
        "exact_slot": np.fromiter(index.exact.keys(), dtype=np.int64, count=len(index.exact)),
        "exact_gl": np.array([str(v) for v in index.exact.values()], dtype=np.str_),
    }  # fmt: skip
    for li, g in enumerate(index.genotypes):
        state.update({f"g{li}_ag": g.ag, f"g{li}_al": g.al, f"g{li}_keys": g._keys, f"g{li}_ids": g._ids})
    return state


def index_from_state(state: Mapping[str, npt.NDArray[Any]], release: str) -> UnitIndex:
    """The index whose :func:`index_state` is ``state`` (same arrays, same slots)."""
    index = UnitIndex(release=release, capacity=0)
    n = len(state["ids"])
    index.n = index._cap = n
    index.gid = np.ascontiguousarray(state["gid"], dtype=np.intp)
    index.tnc, index.cd34 = state["tnc"], state["cd34"]
    index.flags, index.collected, index.ids = state["flags"], state["collected"], state["ids"]
    index.bc.b, index.bc.c = state["bc_b"].astype(np.intp), state["bc_c"].astype(np.intp)
    index.bc._keys, index.bc._ids = state["bc_keys"], state["bc_ids"]
    index.alt_owner, index.alt_gid = state["alt_owner"], state["alt_gid"]
    index._nima_slots, index._nima_ids = state["nima_slots"], state["nima_ids"]
    index.exact = dict(zip(state["exact_slot"].tolist(), state["exact_gl"].tolist(), strict=True))
    for li, g in enumerate(index.genotypes):
        g.ag, g.al, g._keys, g._ids = state[f"g{li}_ag"], state[f"g{li}_al"], state[f"g{li}_keys"], state[f"g{li}_ids"]
    return index
