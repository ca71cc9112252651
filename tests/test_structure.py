"""House rules that keep the code mappable: small modules, functions no worse than radon's C.

These are checks on the source tree itself (they fail on a new long module or a tangled function); the
package-layer rules (no cycles, core imports no adapter) are in tests/test_layers.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from radon.complexity import cc_rank, cc_visit

SRC = Path(__file__).resolve().parents[1] / "src" / "cordmatch"
MAX_MODULE_LINES = 500
WORST_RANK = "C"  # radon ranks A (simple) .. F; C is cyclomatic complexity 11-20


def _modules() -> list[Path]:
    """Every hand-written module (Alembic migrations are generated and excluded)."""
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def test_the_tree_is_found() -> None:
    assert len(_modules()) > 100


def test_no_module_is_longer_than_the_limit() -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in _modules()
        if (n := len(p.read_text("utf-8").splitlines())) >= MAX_MODULE_LINES
    }
    assert long == {}, f"modules of {MAX_MODULE_LINES} lines or more: {long}"


def test_no_function_is_more_complex_than_c() -> None:
    worse = []
    for path in _modules():
        for block in cc_visit(path.read_text("utf-8")):
            rank = cc_rank(block.complexity)
            if rank > WORST_RANK:
                worse.append(f"{path.relative_to(SRC)}:{block.lineno} {block.fullname} {rank}({block.complexity})")
    assert worse == [], "functions worse than radon C:\n" + "\n".join(worse)


@pytest.mark.parametrize(
    "source, rank",
    [
        ("def f(x):\n    return x\n", "A"),
        ("def f(x):\n" + "".join(f"    if x == {i}:\n        return {i}\n" for i in range(35)) + "    return 0\n", "E"),
    ],
)
def test_the_complexity_check_can_fail(source: str, rank: str) -> None:
    assert cc_rank(cc_visit(source)[0].complexity) == rank
