"""Plot adapter: PNG/SVG bytes of the cumulative incidence curve."""

from __future__ import annotations

import pytest

from cordmatch.errors import InvalidInputError
from cordmatch.io.outcomes_plot import engraftment_png, engraftment_svg, plot_engraftment
from cordmatch.outcomes import EngraftmentInputs, estimate


@pytest.fixture(scope="module")
def est():  # type: ignore[no-untyped-def]
    return estimate(EngraftmentInputs(3.0, 1.5, match_8=6))


def test_png_bytes(est) -> None:  # type: ignore[no-untyped-def]
    data = engraftment_png(est)
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000


def test_svg_bytes_show_the_curve_and_day_42(est) -> None:  # type: ignore[no-untyped-def]
    data = engraftment_svg(est).decode("utf-8")
    assert "<svg" in data and "day 42" in data and "median day" in data


def test_several_curves_and_bad_format(est) -> None:  # type: ignore[no-untyped-def]
    other = estimate(EngraftmentInputs(3.0, 1.5, match_8=6, dsa=True))
    svg = plot_engraftment([("no DSA", est), ("DSA", other)], fmt="svg").decode()
    assert "no DSA" in svg and "DSA:" in svg
    with pytest.raises(InvalidInputError):
        plot_engraftment([("x", est)], fmt="gif")
    with pytest.raises(InvalidInputError):
        plot_engraftment([], fmt="png")
