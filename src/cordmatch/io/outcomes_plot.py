"""Plot adapter: cumulative incidence of neutrophil engraftment vs day, as PNG or SVG bytes.

Kept outside the pure ``cordmatch.outcomes`` core (matplotlib is heavy and writes files); returns bytes
so the CLI can write a file and the web pages can serve the image directly.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from cordmatch.errors import InvalidInputError
from cordmatch.outcomes.engraftment import EngraftmentEstimate

FORMATS = ("png", "svg")


def plot_engraftment(
    estimates: Sequence[tuple[str, EngraftmentEstimate]],
    fmt: str = "png",
    last_day: int = 60,
    title: str = "Estimated cumulative incidence of neutrophil engraftment",
) -> bytes:
    """Plot one curve per (label, estimate); mark day 42 and each median. Returns the image bytes."""
    if fmt not in FORMATS:
        raise InvalidInputError(f"plot format must be one of {', '.join(FORMATS)}, got {fmt!r}", where="format")
    if not estimates:
        raise InvalidInputError("nothing to plot", where="estimates")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 4.2), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    days = [d / 4 for d in range(4 * last_day + 1)]
    for label, est in estimates:
        values = [100 * est.curve.cumulative_incidence(d) for d in days]
        (line,) = ax.plot(
            days,
            values,
            label=f"{label}: median day {est.median_days:.0f} among engrafters, "
            f"{100 * est.p_engraft_day42:.0f}% by day 42",
        )
        lo, hi = est.interval_days
        ax.axvspan(lo, hi, color=line.get_color(), alpha=0.08)
        ax.axvline(est.median_days, color=line.get_color(), linestyle=":", linewidth=1)
    ax.axvline(42, color="grey", linestyle="--", linewidth=1)
    ax.text(42.5, 3, "day 42", color="grey", fontsize=8)
    ax.set_xlim(0, last_day)
    ax.set_ylim(0, 100)
    ax.set_xlabel("Days after cord blood infusion")
    ax.set_ylabel("Neutrophil engraftment (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.text(
        0.01,
        0.01,
        "Decision support: population estimate from published cohorts (see docs/outcomes.md). "
        "Shaded: neutropenic window interval.",
        fontsize=6,
        color="grey",
    )
    fig.subplots_adjust(bottom=0.17)
    buffer = io.BytesIO()
    metadata = {"Software": "cordmatch"} if fmt == "png" else {"Creator": "cordmatch", "Date": None}
    fig.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


def engraftment_png(estimate: EngraftmentEstimate, label: str = "this graft") -> bytes:
    """PNG bytes of one estimate's cumulative incidence curve."""
    return plot_engraftment([(label, estimate)], fmt="png")


def engraftment_svg(estimate: EngraftmentEstimate, label: str = "this graft") -> bytes:
    """SVG bytes of one estimate's cumulative incidence curve."""
    return plot_engraftment([(label, estimate)], fmt="svg")
