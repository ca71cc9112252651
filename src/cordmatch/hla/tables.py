"""Integer-coded nomenclature tables built once from the IPD-IMGT/HLA release (through py-ard).

Pure data and look-ups: no I/O. The adapter :mod:`cordmatch.imgt` builds, caches and loads them.

Coding:
- every full (WHO) allele name has an *allele id* (row in ``alleles``);
- every allele has an *lgx id* (its P group at two fields, the antigen recognition site protein: equal lgx
  ids mean an allele match), a *family id* (``allele_antigen``: its first field, ``A*02``) and a
  *serology id* (``allele_serology``: its WHO serologic antigen from rel_dna_ser.txt, ``B62``, ``B15/B70``,
  or the protein itself, ``C*16:06``, where WHO assigns none); ``serology_relation[x, y]`` says whether two
  serology ids are the same antigen (0), related through a broad (1) or different antigens (2);
- every known token (full alleles, truncated names, G and P groups, serology, XX codes) has a *name id*,
  its members (allele ids, as py-ard's W reduction lists them) and its reduction at each level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from cordmatch.errors import InvalidInputError
from cordmatch.hla.loci import REDUCTION_LEVELS
from cordmatch.hla.names import normalise_token, shape_of
from cordmatch.hla.serology import MATCH, MISMATCH, SerologyRelations, parse_rel_ser_ser

IntArray = npt.NDArray[np.int32]

#: Format of the cached tables; bump when the layout changes so old caches are rebuilt.
TABLES_FORMAT = 3


class UnknownAlleleError(InvalidInputError):
    """A token that has the form of an HLA name but is not in the release."""


@dataclass(frozen=True)
class CodedRelation:
    """The WHO antigen relation for integer-coded grading (``tables.coded_relation``).

    ``matrix[x, y]``: 0 same antigen, 1 related (cannot tell), 2 different; ``code_family[x]``: the
    first-field family an XX code stands for (all its alleles), else -1; ``lgx_family[l]``: a protein's
    family. An allele-unknown position of an XX code may share a protein with a position of the same
    family only; other allele-unknown positions may share one with any position not of a different antigen.
    """

    matrix: npt.NDArray[np.int8]
    code_family: IntArray
    lgx_family: IntArray


def _unflatten(offsets: npt.NDArray[np.generic], values: npt.NDArray[np.generic]) -> list[list[int]]:
    o = offsets.astype(np.int64).tolist()
    v = values.astype(np.int32).tolist()
    return [v[o[k] : o[k + 1]] for k in range(len(o) - 1)]


def split_blob(blob: npt.NDArray[np.uint8]) -> list[str]:
    """Decode a newline-joined UTF-8 blob into its strings."""
    text = blob.tobytes().decode("utf-8")
    return text.split("\n") if text else []


def join_blob(strings: Sequence[str]) -> npt.NDArray[np.uint8]:
    """Encode strings as a newline-joined UTF-8 blob (strings must not contain newlines)."""
    return np.frombuffer("\n".join(strings).encode("utf-8"), dtype=np.uint8).copy()


@dataclass(eq=False)
class NomenclatureTables:
    """The release's nomenclature as integer arrays. Construct with :meth:`from_arrays`."""

    release: str
    alleles: list[str]
    allele_lgx: IntArray
    lgx_names: list[str]
    allele_antigen: IntArray
    antigen_names: list[str]
    allele_null: npt.NDArray[np.bool_]
    names: list[str]
    member_offsets: npt.NDArray[np.int64]
    members: IntArray
    level_results: dict[str, IntArray]
    level_blobs: dict[str, npt.NDArray[np.uint8]]
    allele_serology: IntArray
    serology_names: list[str]
    #: Relations of serology ids that are not "same id: 0, different ids: 2", as rows (x, y, relation).
    serology_pairs: IntArray
    #: Ids below this are WHO antigens of alleles; the rest code XX codes (``A2|A203|A210 (A*02)`` for
    #: A*02:XX), ``serology_sets[id - serology_real]`` their antigen ids.
    serology_real: int
    serology_sets: list[list[int]]
    #: First-field family id (``allele_antigen``) of each set id that codes an XX code, else -1.
    serology_set_family: IntArray
    #: First-field family id of each lgx protein.
    lgx_family: IntArray
    allele_cwd: npt.NDArray[np.bool_]
    #: Members used for grading serologic tokens (with their splits' and associated antigens' alleles);
    #: an empty range means the token's own members.
    grade_offsets: npt.NDArray[np.int64]
    grade_members: IntArray
    #: Members whose antigens a serology or XX token stands for at antigen level (its CWD 2.0 alleles when
    #: any carries the name); an empty range means the grading members.
    antigen_offsets: npt.NDArray[np.int64]
    antigen_members: IntArray
    #: Data lines of rel_ser_ser.txt (broad/split/associated antigens).
    rel_ser_ser: list[str]
    #: Optional data-provider hook for names outside the tables (old names, py-ard-only forms):
    #: returns the full allele names the token stands for, or None when unknown.
    fallback: Callable[[str], tuple[str, ...] | None] | None = None
    name_index: dict[str, int] = field(init=False)
    allele_index: dict[str, int] = field(init=False)
    lgx_index: dict[str, int] = field(init=False)
    antigen_index: dict[str, int] = field(init=False)
    serology_index: dict[str, int] = field(init=False)
    serology_relation: npt.NDArray[np.int8] = field(init=False)
    serology_set_index: dict[tuple[frozenset[int], int], int] = field(init=False)
    coded_relation: CodedRelation = field(init=False)
    relations: SerologyRelations = field(init=False)
    _level_lists: dict[str, list[int]] = field(init=False, default_factory=dict)
    _level_texts: dict[str, list[str]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.name_index = {n: i for i, n in enumerate(self.names)}
        self.allele_index = {n: i for i, n in enumerate(self.alleles)}
        self.lgx_index = {n: i for i, n in enumerate(self.lgx_names)}
        self.antigen_index = {n: i for i, n in enumerate(self.antigen_names)}
        self._fallback_cache: dict[str, tuple[int, ...] | None] = {}
        self._decoded: dict[str, tuple[list[int], list[str]]] = {}
        self.serology_index = {n: i for i, n in enumerate(self.serology_names)}
        k = len(self.serology_names)
        rel = np.full((k, k), MISMATCH, dtype=np.int8)
        np.fill_diagonal(rel, MATCH)
        p = self.serology_pairs
        rel[p[:, 0], p[:, 1]] = p[:, 2]
        #: serology_relation[x, y]: 0 same antigen, 1 related through a broad, 2 different antigens.
        self.serology_relation = rel
        self.serology_set_index = {
            (frozenset(m), int(self.serology_set_family[j])): self.serology_real + j
            for j, m in enumerate(self.serology_sets)
        }
        code_family = np.full(k, -1, dtype=np.int32)
        code_family[self.serology_real :] = self.serology_set_family
        #: What the vectorised graders need: the relation, and the family of each code and each protein.
        self.coded_relation = CodedRelation(rel, code_family, self.lgx_family.astype(np.int32))
        self.relations = parse_rel_ser_ser(self.rel_ser_ser)

    # ----------------------------------------------------------------- building / serialising
    @classmethod
    def from_arrays(
        cls,
        arrays: dict[str, npt.NDArray[np.generic]],
        fallback: Callable[[str], tuple[str, ...] | None] | None = None,
    ) -> NomenclatureTables:
        """Rebuild from the dict that :meth:`to_arrays` produced (e.g. a loaded ``.npz``)."""
        meta = split_blob(arrays["meta"].astype(np.uint8))
        if int(meta[1]) != TABLES_FORMAT:
            raise ValueError(f"nomenclature tables format {meta[1]} != {TABLES_FORMAT}")
        return cls(
            release=meta[0],
            alleles=split_blob(arrays["alleles"].astype(np.uint8)),
            allele_lgx=arrays["allele_lgx"].astype(np.int32),
            lgx_names=split_blob(arrays["lgx_names"].astype(np.uint8)),
            allele_antigen=arrays["allele_antigen"].astype(np.int32),
            antigen_names=split_blob(arrays["antigen_names"].astype(np.uint8)),
            allele_null=arrays["allele_null"].astype(np.bool_),
            names=split_blob(arrays["names"].astype(np.uint8)),
            member_offsets=arrays["member_offsets"].astype(np.int64),
            members=arrays["members"].astype(np.int32),
            level_results={lv: arrays[f"res_{lv}"].astype(np.int32) for lv in REDUCTION_LEVELS if lv != "W"},
            level_blobs={lv: arrays[f"txt_{lv}"].astype(np.uint8) for lv in REDUCTION_LEVELS if lv != "W"},
            allele_serology=arrays["allele_serology"].astype(np.int32),
            serology_names=split_blob(arrays["serology_names"].astype(np.uint8)),
            serology_pairs=arrays["serology_pairs"].astype(np.int32).reshape(-1, 3),
            serology_real=int(arrays["serology_real"][0]),
            serology_sets=_unflatten(arrays["serology_set_offsets"], arrays["serology_set_members"]),
            serology_set_family=arrays["serology_set_family"].astype(np.int32),
            lgx_family=arrays["lgx_family"].astype(np.int32),
            allele_cwd=arrays["allele_cwd"].astype(np.bool_),
            grade_offsets=arrays["grade_offsets"].astype(np.int64),
            grade_members=arrays["grade_members"].astype(np.int32),
            antigen_offsets=arrays["antigen_offsets"].astype(np.int64),
            antigen_members=arrays["antigen_members"].astype(np.int32),
            rel_ser_ser=split_blob(arrays["rel_ser_ser"].astype(np.uint8)),
            fallback=fallback,
        )

    def to_arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """Everything needed to rebuild the tables, as numpy arrays (for ``np.savez``)."""
        out: dict[str, npt.NDArray[np.generic]] = {
            "meta": join_blob([self.release, str(TABLES_FORMAT)]),
            "alleles": join_blob(self.alleles),
            "allele_lgx": self.allele_lgx,
            "lgx_names": join_blob(self.lgx_names),
            "allele_antigen": self.allele_antigen,
            "antigen_names": join_blob(self.antigen_names),
            "allele_null": self.allele_null,
            "names": join_blob(self.names),
            "member_offsets": self.member_offsets,
            "members": self.members,
            "allele_serology": self.allele_serology,
            "serology_names": join_blob(self.serology_names),
            "serology_pairs": self.serology_pairs,
            "serology_real": np.array([self.serology_real], dtype=np.int64),
            "serology_set_offsets": np.cumsum([0, *[len(m) for m in self.serology_sets]]).astype(np.int64),
            "serology_set_members": np.array([x for m in self.serology_sets for x in m], dtype=np.int32),
            "serology_set_family": self.serology_set_family,
            "lgx_family": self.lgx_family,
            "allele_cwd": self.allele_cwd,
            "grade_offsets": self.grade_offsets,
            "grade_members": self.grade_members,
            "antigen_offsets": self.antigen_offsets,
            "antigen_members": self.antigen_members,
            "rel_ser_ser": join_blob(self.rel_ser_ser),
        }
        for lv, res in self.level_results.items():
            out[f"res_{lv}"] = res
            out[f"txt_{lv}"] = self.level_blobs[lv]
        return out

    # ----------------------------------------------------------------- look-ups
    def name_id(self, token: str) -> int | None:
        """The name id of a token (normalised), or None when the tables do not hold it."""
        i = self.name_index.get(token)
        if i is None:
            i = self.name_index.get(normalise_token(token))
        return i

    def is_known(self, token: str) -> bool:
        """True when the token is a name of this release (tables or data-provider fallback)."""
        return self.name_id(token) is not None or self._fallback_members(token) is not None

    def _fallback_members(self, token: str) -> tuple[int, ...] | None:
        if self.fallback is None:
            return None
        t = normalise_token(token)
        if t in self._fallback_cache:
            return self._fallback_cache[t]
        found = self.fallback(t)
        ids = None
        if found:
            ids_list = [self.allele_index[a] for a in found if a in self.allele_index]
            ids = tuple(ids_list) if ids_list else None
        self._fallback_cache[t] = ids
        return ids

    def member_ids(self, token: str) -> tuple[int, ...]:
        """Allele ids a token stands for (every full allele, nulls included); raises UnknownAlleleError."""
        i = self.name_id(token)
        if i is not None:
            return self._members_of(i)
        found = self._fallback_members(token)
        if found is None:
            shape_of(token)  # raises a syntax error first when the token is malformed
            raise UnknownAlleleError(
                f"{token.strip()!r} is not an allele or antigen name in IPD-IMGT/HLA {self.release}",
                where=token.strip(),
            )
        return found

    @lru_cache(maxsize=200_000)  # noqa: B019 - the tables live for the whole process
    def _members_of(self, name_id: int) -> tuple[int, ...]:
        a, b = int(self.member_offsets[name_id]), int(self.member_offsets[name_id + 1])
        return tuple(int(x) for x in self.members[a:b])

    def grading_member_ids(self, token: str) -> tuple[int, ...]:
        """Allele ids a token stands for when grading: a serologic antigen adds its splits' and associated
        antigens' alleles (A2 -> A*02:03 via A203). Other tokens: :meth:`member_ids`."""
        i = self.name_id(token)
        if i is not None:
            a, b = int(self.grade_offsets[i]), int(self.grade_offsets[i + 1])
            if b > a:
                return tuple(int(x) for x in self.grade_members[a:b])
        return self.member_ids(token)

    def antigen_member_ids(self, token: str) -> tuple[int, ...]:
        """Allele ids whose serologic antigens a token stands for at antigen level: for serology and XX
        codes their CWD 2.0 alleles when any carries the name (docs/adr/0002), else the grading members."""
        i = self.name_id(token)
        if i is not None:
            a, b = int(self.antigen_offsets[i]), int(self.antigen_offsets[i + 1])
            if b > a:
                return tuple(int(x) for x in self.antigen_members[a:b])
        return self.grading_member_ids(token)

    def expand(self, token: str) -> list[str]:
        """Full allele names a token stands for, in release order."""
        return [self.alleles[i] for i in self.member_ids(token)]

    def reduce(self, token: str, level: str) -> str:
        """Reduce one name to a level (G, P, lg, lgx, W, exon, U2, S), as py-ard's ``redux`` does."""
        decoded = self._decoded.get(level)
        if decoded is not None:  # fast path: a stored name at a decoded level
            i = self.name_index.get(token)
            if i is not None:
                rid = decoded[0][i]
                if rid >= 0:
                    return decoded[1][rid]
        return self._reduce(token, level)

    def _reduce(self, token: str, level: str) -> str:
        if level not in REDUCTION_LEVELS:
            raise InvalidInputError(
                f"unknown reduction level {level!r}; choose one of {', '.join(REDUCTION_LEVELS)}", where=level
            )
        i = self.name_index.get(token)
        if i is None:
            i = self.name_id(token)
        if level == "W":
            ids = self.member_ids(token) if i is None else self._members_of(i)
            return "/".join(self.alleles[j] for j in ids)
        results, texts = self._level(level)
        if i is not None and results[i] >= 0:
            return texts[results[i]]
        ids = self.member_ids(token) if i is None else self._members_of(i)
        # A group-like token (G/P group, serology, XX) or a fallback name: the ordered union of the
        # reductions of its member alleles (allele ids are also their name ids).
        parts: dict[str, None] = {}
        for j in ids:
            r = results[j]
            if r >= 0:
                for p in texts[r].split("/"):
                    if p:
                        parts.setdefault(p, None)
        return "/".join(parts)

    def _level(self, level: str) -> tuple[list[int], list[str]]:
        """Result ids per name and result texts of a stored level, decoded once."""
        results = self._level_lists.get(level)
        if results is None:
            results = self._level_lists[level] = self.level_results[level].tolist()
            self._level_texts[level] = split_blob(self.level_blobs[level])
            self._decoded[level] = (results, self._level_texts[level])
        return results, self._level_texts[level]

    def serology_of(self, allele_id: int) -> str | None:
        """WHO serologic antigen of an allele (``B62``; ``B15/B70`` when WHO lists several; ``A203`` for an
        associated antigen), or None when the release assigns none (null or unknown serology)."""
        if self.allele_null[allele_id]:
            return None
        name = self.serology_names[int(self.allele_serology[allele_id])]
        return None if "*" in name else name

    def broad_of(self, antigen: str) -> str | None:
        """The broad antigen of a split (``B62 -> B15``), else None."""
        return self.relations.broad_of.get(antigen)

    def splits_of(self, antigen: str) -> tuple[str, ...]:
        """Splits of a broad antigen (``B15 -> B62, B63, B75, B76, B77``)."""
        return tuple(self.relations.splits.get(antigen, ()))

    def parent_of(self, antigen: str) -> str | None:
        """The antigen an associated antigen belongs to (``B3901 -> B39``), else None."""
        return self.relations.parent_of.get(antigen)

    def associated_of(self, antigen: str) -> tuple[str, ...]:
        """Associated antigens of an antigen (``A2 -> A203, A210``)."""
        return tuple(self.relations.associated.get(antigen, ()))

    def antigen_code(self, antigens: frozenset[int], family: int = -1) -> int | None:
        """One id for a position's serologic antigens: the antigen itself, or (``family`` >= 0) the id of an
        XX code of that first-field family (A*02:XX = A2|A203|A210 of A*02); None when there is no such id
        (several antigens outside an XX code: the position is not codable, it is graded exactly)."""
        if family >= 0:
            return self.serology_set_index.get((antigens, family))
        return next(iter(antigens)) if len(antigens) == 1 else None

    def antigen_relation(self, a: int, b: int) -> int:
        """Relation of two serology ids: 0 same antigen, 1 related (broad/split: cannot tell), 2 different."""
        return int(self.serology_relation[a, b])

    def is_null(self, allele_id: int) -> bool:
        """True for a null (not expressed) allele, suffix N."""
        return bool(self.allele_null[allele_id])

    def family_members(self, family: str) -> tuple[int, ...]:
        """Allele ids of a first-field family such as ``A*01`` (for XX and MAC codes)."""
        return self.member_ids(f"{family}:XX")

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"NomenclatureTables(release={self.release!r}, alleles={len(self.alleles)}, names={len(self.names)})"
