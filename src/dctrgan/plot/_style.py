"""What every figure of :mod:`dctrgan.plot` shares: the style, the layout, labels, inputs.

Figures are built on the Agg canvas without :mod:`matplotlib.pyplot` and laid out
in inches (fixed margins rather than a layout engine, which costs about a second a
figure), so the text of the mplhep ROOT style (26 pt) has the same size in every
figure and panels of different figures line up.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = (
    "LINESTYLES",
    "MODEL_COLORS",
    "Rect",
    "decades",
    "figure",
    "headroom",
    "label",
    "labels_or",
    "legend_size",
    "log_axis",
    "metrics",
    "numbered",
    "per_model",
    "power_of_ten",
    "require",
    "style",
    "vector",
)

HINT = 'plotting needs matplotlib and mplhep: pip install "dctrgan[plot]"'

#: Colours and line styles of the model histograms, in order (the reference is grey).
MODEL_COLORS = ("tab:blue", "tab:red", "tab:green", "tab:orange", "tab:purple", "tab:brown")
LINESTYLES = ("--", "-", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))

#: ``(left, bottom, width, height)`` of an axes, as fractions of the figure.
Rect = tuple[float, float, float, float]


def require() -> tuple[ModuleType, ModuleType]:
    """Import matplotlib and mplhep on first use, with an install hint if they are missing."""
    try:
        matplotlib = importlib.import_module("matplotlib")
        mplhep = importlib.import_module("mplhep")
    except ModuleNotFoundError as err:
        msg = f"{HINT} ({err})"
        raise ModuleNotFoundError(msg) from err
    return matplotlib, mplhep


@contextlib.contextmanager
def style() -> Iterator[ModuleType]:
    """The mplhep ROOT style, as an rc context; yields mplhep.

    The style's mathtext fonts are left out: those are looked up again when the
    figure is drawn (outside this context), and the legends' math must find the
    same fonts then.
    """
    matplotlib, mplhep = require()
    params = {k: v for k, v in mplhep.style.ROOT.items() if not k.startswith("mathtext.")}
    with matplotlib.rc_context(params):
        yield mplhep


def _gaps(gaps: float | Sequence[float], n: int, what: str) -> list[float]:
    if isinstance(gaps, (int, float)):
        return [float(gaps)] * max(n - 1, 0)
    out = [float(g) for g in gaps]
    if len(out) != max(n - 1, 0):
        msg = f"{what}: expected {max(n - 1, 0)} gaps, got {len(out)}"
        raise ValueError(msg)
    return out


def figure(
    widths: Sequence[float],
    heights: Sequence[float],
    *,
    wgap: float | Sequence[float] = 0.0,
    hgap: float | Sequence[float] = 0.0,
    margins: tuple[float, float, float, float] = (2.0, 0.4, 1.5, 0.4),
) -> tuple[Figure, list[list[Rect]]]:
    """A figure sized to a grid of panels given in inches, and the panels' rectangles.

    Call inside :func:`style`.

    Args:
        widths: width of each column, inches.
        heights: height of each row (top row first), inches.
        wgap: space between columns (one number, or one per gap), inches.
        hgap: space between rows, inches.
        margins: ``(left, right, bottom, top)`` space around the grid, inches.

    Returns:
        The figure (with an Agg canvas) and ``rects[row][column]`` for ``fig.add_axes``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    wgaps, hgaps = _gaps(wgap, len(widths), "wgap"), _gaps(hgap, len(heights), "hgap")
    left, right, bottom, top = margins
    total_w = left + sum(widths) + sum(wgaps) + right
    total_h = bottom + sum(heights) + sum(hgaps) + top
    fig = Figure(figsize=(total_w, total_h))
    FigureCanvasAgg(fig)
    xs = [left + sum(widths[:c]) + sum(wgaps[:c]) for c in range(len(widths))]
    # rows from the top: the first row's top edge sits ``top`` below the figure's
    ys = [total_h - top - sum(heights[: r + 1]) - sum(hgaps[:r]) for r in range(len(heights))]
    rects = [
        [
            (x / total_w, y / total_h, w / total_w, h / total_h)
            for x, w in zip(xs, widths, strict=True)
        ]
        for y, h in zip(ys, heights, strict=True)
    ]
    return fig, rects


def legend_size(size: str | float = "x-small") -> float:
    """Font size in points of a legend of ``size`` in the current style."""
    from matplotlib.font_manager import FontProperties

    return float(FontProperties(size=size).get_size_in_points())


def headroom(entries: int, axes_height: float, fontsize: float) -> float:
    """Fraction of an axes' height that a legend of ``entries`` lines at its top takes.

    Args:
        entries: lines of the legend.
        axes_height: height of the axes, inches.
        fontsize: legend font size, points.

    Returns:
        The fraction (at most 0.8): data drawn below ``1 - fraction`` of the axes
        height is not covered.
    """
    # each entry is one line plus half a line of spacing, and a border of half a line
    points = fontsize * (1.25 * entries + 0.5 * max(entries - 1, 0) + 1.2)
    return min(points / 72 / axes_height, 0.8)


def decades(low: float, high: float) -> tuple[float, float]:
    """The powers of ten around ``[low, high]`` (positive): a log axis with labelled decades."""
    lo = 10.0 ** math.floor(math.log10(low) + 1e-9)
    hi = 10.0 ** math.ceil(math.log10(high) - 1e-9)
    return lo, max(hi, 10 * lo)


def log_axis(ax: Axes, which: str, low: float, high: float) -> None:
    """Make the ``"x"`` or ``"y"`` axis of ``ax`` logarithmic over ``[low, high]``.

    Over a decade or more only the decades are labelled (matplotlib would label
    minor ticks too, which overlap at this style's font size).
    """
    from matplotlib.ticker import NullFormatter

    axis = ax.xaxis if which == "x" else ax.yaxis
    if which == "x":
        ax.set_xscale("log")
        ax.set_xlim(low, high)
    else:
        ax.set_yscale("log")
        ax.set_ylim(low, high)
    if high >= 10 * low * (1 - 1e-9):
        axis.set_minor_formatter(NullFormatter())


def label(name: str, unit: str) -> str:
    """Axis label from a name like ``total_energy`` and its unit: ``Total energy [MeV]``."""
    text = name.replace("_", " ").strip()
    text = text[:1].upper() + text[1:] if text else "Observable"
    return f"{text} [{unit.replace('^2', '²')}]" if unit else text


def power_of_ten(value: float) -> str:
    """``2.88e-03`` as mathtext ``2.88 \\times 10^{-3}``."""
    if not np.isfinite(value):
        return "-"
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.2e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def metrics(s2: float, r: float) -> str:
    """The legend's ``(<S^2> = ..., r = ...)`` of DCTRGAN Figs. 3-6."""
    r_text = f"{r:.1f}" if np.isfinite(r) else "-"
    return rf"($\langle S^2\rangle = {power_of_ten(s2)}$, $r = {r_text}$)"


def vector(values: Any, name: str, *, finite: bool = True) -> np.ndarray:
    """``values`` as a 1-D float64 array (awkward arrays too), checked for finiteness.

    Raises:
        ValueError: for a value that is not one number per entry, or non-finite values.
    """
    array = np.asarray(ak.to_numpy(values) if isinstance(values, ak.Array) else values)
    if array.ndim != 1 or array.dtype.kind not in "biuf":
        msg = f"{name}: expected a 1-D array of numbers, got {array.dtype} {array.shape}"
        raise ValueError(msg)
    out = array.astype(np.float64)
    if finite and not np.isfinite(out).all():
        msg = f"{name}: {int(np.count_nonzero(~np.isfinite(out)))} non-finite value(s)"
        raise ValueError(msg)
    return out


def per_model(values: Any, n: int, name: str) -> list[Any]:
    """One entry per model: a list or tuple of ``n`` (``None`` allowed), or, for one model, the
    value.

    Raises:
        ValueError: for a list of the wrong length, or one value for several models.
    """
    if values is None:
        return [None] * n
    if isinstance(values, (list, tuple)):
        if len(values) != n:
            msg = f"{name}: expected one entry per model ({n}), got {len(values)}"
            raise ValueError(msg)
        return list(values)
    if n != 1:
        msg = f"{name}: with {n} models pass a list of {n} entries (None for none), not one array"
        raise ValueError(msg)
    return [values]


def labels_or(
    labels: Sequence[str] | None, defaults: Sequence[str], name: str = "labels"
) -> list[str]:
    """``labels`` checked to hold one entry per default, or the defaults.

    Raises:
        ValueError: for a number of labels other than ``len(defaults)``.
    """
    if labels is None:
        return list(defaults)
    out = [str(text) for text in labels]
    if len(out) != len(defaults):
        msg = f"{name}: expected {len(defaults)} labels, got {len(out)}"
        raise ValueError(msg)
    return out


def numbered(prefix: str, n: int, first: str | None = None) -> list[str]:
    """Default labels: ``prefix`` alone for one, else ``prefix 1``, ...; after ``first`` if
    given."""
    own = [prefix] if n == 1 else [f"{prefix} {i + 1}" for i in range(n)]
    return own if first is None else [first, *own]
