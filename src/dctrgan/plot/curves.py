"""Training curves of the adversarial and supervised models (Erdmann et al. Figs. 4 and 7)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dctrgan.plot._style import figure, headroom, legend_size, require, style

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ("losses",)

#: Legend labels and colours of the histories' keys (Erdmann et al. eqs. 3-8).
_KNOWN: dict[str, tuple[str, str]] = {
    "critic_loss": (r"critic loss $-C_1 + C_2$", "black"),
    "wasserstein": (r"Wasserstein estimate $C_1$", "tab:red"),
    "gradient_penalty": (r"gradient penalty $\lambda C_2$", "tab:green"),
    "generator_loss": ("generator loss", "tab:blue"),
    "refiner_loss": ("refiner loss", "tab:blue"),
    "constrainer_loss": (r"constrainer loss $C_4$", "tab:purple"),
    "constrainer_penalty": (r"constrainer term $\kappa C_3$", "tab:orange"),
    "train_loss": ("training loss", "tab:blue"),
    "val_loss": ("validation loss", "tab:orange"),
}
#: The default panels: keys drawn together (Fig. 4a, the generator, 4b, 4c, supervised fits).
_GROUPS: tuple[tuple[str, ...], ...] = (
    ("critic_loss", "wasserstein", "gradient_penalty"),
    ("generator_loss", "refiner_loss"),
    ("constrainer_loss",),
    ("constrainer_penalty",),
    ("train_loss", "val_loss"),
)
#: Keys of histories that are not losses: DCTR's fold index per epoch.
_BOOKKEEPING = frozenset({"fold"})
_OTHER_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _history(history: Any) -> dict[str, np.ndarray]:
    source = getattr(history, "history", history)
    if not isinstance(source, Mapping):
        msg = (
            "history: expected a mapping name -> values per step (or a model with a "
            f".history, such as dctrgan.WGAN), got {type(history).__name__}"
        )
        raise TypeError(msg)
    out = {}
    for key, values in source.items():
        array = np.asarray(values, dtype=np.float64)
        if array.ndim != 1:
            msg = f"history: {key!r} must be one value per step, got shape {array.shape}"
            raise ValueError(msg)
        out[str(key)] = array
    return out


def _panels(curves: dict[str, np.ndarray], panels: Any) -> list[list[str]]:
    if panels is None:
        known = [[k for k in group if k in curves] for group in _GROUPS]
        grouped = {k for group in _GROUPS for k in group}
        others = [[k] for k in curves if k not in grouped and k not in _BOOKKEEPING]
        return [group for group in known if group] + others
    out = [[p] if isinstance(p, str) else [str(k) for k in p] for p in panels]
    missing = [k for group in out for k in group if k not in curves]
    if missing or not out:
        msg = f"panels: {missing or 'none given'}; the history has {sorted(curves)}"
        raise ValueError(msg)
    return out


def _running_mean(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Centred running mean over ``window`` finite steps: ``(steps, means)`` (steps from 1)."""
    steps = np.arange(1, len(values) + 1, dtype=np.float64)
    if window <= 1 or len(values) < window:
        return steps, values
    kernel = np.ones(window) / window
    means = np.convolve(values, kernel, mode="valid")
    return steps[window // 2 : window // 2 + len(means)], means


def losses(
    history: Any,
    *,
    panels: Sequence[str | Sequence[str]] | None = None,
    smooth: int | None = None,
    xlabel: str = "Iteration",
    ncols: int = 3,
) -> tuple[Figure, np.ndarray]:
    """Loss curves of a training history, one panel per group of losses.

    Erdmann et al. Fig. 4 (the critic's Wasserstein estimate ``C_1`` and gradient
    penalty ``C_2``, the constrainer's ``C_4``, the constrainer term ``C_3`` of the
    generator) and Fig. 7 (the refiner's critic loss ``-C_1 + C_2``). By default
    the keys of :attr:`dctrgan.WGAN.history` and of the refiner's history are grouped
    as in the paper -- critic, generator, ``C_4``, ``C_3`` -- the training and
    validation losses of supervised fits (DCTR, the regressor) share a panel, and
    any other key gets its own. Each curve is drawn faintly step by step and, with
    smoothing, as a running mean on top; the y range covers the 0.5-99.5 % of the
    values, so single spikes do not squash the curves. DCTR's per-epoch ``fold``
    index, if present, marks the start of each fold with a dotted line.

    Args:
        history: ``{name: [value per step]}``, or a model with a ``history``
            (:class:`dctrgan.WGAN`, the refiner, :class:`dctrgan.DCTR`,
            :class:`dctrgan.Regressor`).
        panels: the panels, each a key or a sequence of keys drawn together
            (default: the grouping above).
        smooth: window of the running mean, in steps (default: a fiftieth of the
            longest curve, no smoothing below 200 steps; 1 for none).
        xlabel: label of the step axis (``"Generator update"``, ``"Epoch"``).
        ncols: panels per row.

    Returns:
        The figure and its panels, a 1-D array in the order of ``panels``.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        TypeError: for a history that is not a mapping.
        ValueError: for an empty history, unknown keys, or values that are not one
            number per step.

    Example:
        >>> wgan = dctrgan.WGAN((9, 9), condition_dim=1).fit(events)  # doctest: +SKIP
        >>> fig, axes = losses(wgan, xlabel="Generator update")  # doctest: +SKIP
    """
    require()
    curves = _history(history)
    groups = _panels(curves, panels)
    if not groups:
        msg = f"history: no losses to draw (keys {sorted(curves)})"
        raise ValueError(msg)
    longest = max(len(curves[k]) for group in groups for k in group)
    window = (longest // 50 if longest >= 200 else 1) if smooth is None else max(int(smooth), 1)
    fold = curves.get("fold")
    cols = max(1, min(ncols, len(groups)))
    rows = math.ceil(len(groups) / cols)
    with style():
        size = legend_size()
        fig, rects = figure(
            [7.5] * cols, [5.5] * rows, wgap=1.9, hgap=1.5, margins=(2.0, 0.3, 1.2, 0.3)
        )
        axes: list[Axes] = []
        for p, group in enumerate(groups):
            ax = fig.add_axes(rects[p // cols][p % cols])
            values = []
            for k, key in enumerate(group):
                text, colour = _KNOWN.get(
                    key, (key.replace("_", " "), _OTHER_COLOURS[k % len(_OTHER_COLOURS)])
                )
                y = curves[key]
                steps = np.arange(1, len(y) + 1)
                if window > 1:
                    ax.plot(steps, y, color=colour, alpha=0.25, linewidth=1)
                    xs, ys = _running_mean(y, window)
                    ax.plot(xs, ys, color=colour, linewidth=2.5, label=text)
                else:
                    ax.plot(steps, y, color=colour, linewidth=2, label=text)
                values.append(y[np.isfinite(y)])
            if fold is not None and len(fold) == longest:
                for start in np.flatnonzero(np.diff(fold) != 0) + 1.5:
                    ax.axvline(start, color="0.5", linestyle=":", linewidth=1.5)
            every = np.concatenate(values)
            if len(every):
                lo, hi = (float(v) for v in np.percentile(every, [0.5, 99.5]))
                pad = 0.05 * (hi - lo) or 0.5 * max(abs(hi), 1e-12)
                room = headroom(len(group), 5.5, size) + 0.03
                ax.set_ylim(lo - pad, lo - pad + (hi - lo + 2 * pad) / (1 - room))
            ax.set_xlim(0.5, longest + 0.5)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("Loss")
            ax.legend(loc="upper right", fontsize=size)
            axes.append(ax)
    return fig, np.array(axes, dtype=object)
