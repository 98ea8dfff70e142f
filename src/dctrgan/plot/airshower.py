"""Air-shower figures of Erdmann et al.: footprints (Fig. 2), label against constrainer
energy (Fig. 3), traces (Fig. 5) and energy reconstruction (Fig. 6)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np

from dctrgan import features, regression
from dctrgan.features.traces import signal_array
from dctrgan.plot._style import (
    figure,
    headroom,
    labels_or,
    legend_size,
    numbered,
    per_model,
    require,
    style,
    vector,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ("energy_reconstruction", "label_vs_reconstructed", "patterns", "traces")

#: Axial offsets of the six neighbours of a station on the hexagonal grid.
_NEIGHBOURS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, -1), (-1, 1))


def _positions(shape: tuple[int, int], spacing: float) -> np.ndarray:
    """``(n_x, n_y, 2)`` ground positions of stations in axial coordinates, centred.

    Station ``[i, j]`` sits at ``spacing * ((i - c_i) + (j - c_j) / 2, sqrt(3) / 2 (j - c_j))``
    with ``c`` the central indices: :func:`dctrgan.simulate.station_positions` for 9 x 9.
    """
    i, j = np.meshgrid(
        np.arange(shape[0]) - shape[0] // 2, np.arange(shape[1]) - shape[1] // 2, indexing="ij"
    )
    return np.stack([spacing * (i + 0.5 * j), spacing * (math.sqrt(3) / 2) * j], axis=-1)


def _log_norm(arrays: Sequence[np.ndarray], dynamic_range: float = 1e4) -> Any:
    from matplotlib.colors import LogNorm

    every = np.concatenate([np.ravel(a) for a in arrays])
    positive = every[every > 0]
    if not len(positive):
        return LogNorm(1.0, 10.0)
    hi = float(positive.max())
    lo = max(float(positive.min()), hi / dynamic_range)
    return LogNorm(lo, max(hi, lo * 10))


def _colormap(name: str, bad: str = "0.92") -> Any:
    import matplotlib as mpl

    return mpl.colormaps[name].with_extremes(bad=bad, under=bad)


def _footprints(signals: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(N, n_x, n_y)`` patterns, and the energies and ``(N, 2)`` cores (m) of events."""
    if isinstance(signals, ak.Array):
        fields = ak.fields(signals)
        pattern = features.pattern(signals).astype(np.float64)
        energy = np.asarray(signals["energy"], np.float64) if "energy" in fields else None
        cores = None
        if "core_x" in fields and "core_y" in fields:
            cores = np.column_stack(
                [
                    np.asarray(signals["core_x"], np.float64),
                    np.asarray(signals["core_y"], np.float64),
                ]
            )
        return pattern, energy, cores
    a = np.asarray(signals, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    elif a.ndim == 4:
        a = a.sum(axis=-1)
    if a.ndim != 3 or not np.isfinite(a).all():
        msg = (
            "signals: expected finite patterns (n_x, n_y) or (N, n_x, n_y), traces "
            f"(N, n_x, n_y, n_t) or air-shower events, got shape {np.shape(signals)}"
        )
        raise ValueError(msg)
    return a, None, None


def patterns(
    signals: Any,
    *,
    energies: Any = None,
    titles: Sequence[str] | None = None,
    hexagonal: bool = True,
    spacing: float = 1500.0,
    ncols: int = 4,
    cores: Any = None,
) -> tuple[Figure, np.ndarray]:
    """Footprints: the time-integrated signal of every station, one panel per event.

    Erdmann et al. Fig. 2: the stations drawn as the hexagonal cells of their
    triangular grid (the package stores station ``[i, j]`` in axial coordinates,
    see :func:`dctrgan.simulate.station_positions`), coloured by the total signal on
    one logarithmic scale shared by all panels; stations without signal are light
    grey. With ``hexagonal=False`` the array is drawn as it is stored, a square grid
    of ``i`` (x) and ``j`` (y).

    Args:
        signals: air-shower events (their energies and cores are then used), traces
            ``(N, n_x, n_y, n_t)`` (summed over time), patterns ``(N, n_x, n_y)`` such
            as :meth:`dctrgan.WGAN.sample` gives, or one pattern ``(n_x, n_y)``; VEM.
        energies: ``(N,)`` energies (EeV) for the titles, e.g. the WGAN labels.
        titles: one title per event (default: the energies, else ``Event k``).
        hexagonal: hexagonal cells at the stations' ground positions (x, y in km);
            else the square array.
        spacing: distance between neighbouring stations, m.
        ncols: panels per row.
        cores: ``(N, 2)`` shower cores (m, from the central station), marked by a
            cross on the hexagonal map.

    Returns:
        The figure and its panels, a 1-D array in the order of the events. The
        figure also holds the colorbar axes.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: for signals of the wrong shape, or energies, titles or cores
            that are not one per event.

    Example:
        >>> events = dctrgan.simulate.airshower(4, seed=1)
        >>> fig, axes = patterns(events)  # doctest: +SKIP
    """
    require()
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PolyCollection
    from matplotlib.ticker import MaxNLocator

    maps, event_energies, event_cores = _footprints(signals)
    n = len(maps)
    if energies is not None:
        event_energies = vector(energies, "energies")
    if cores is not None:
        event_cores = np.asarray(cores, dtype=np.float64).reshape(-1, 2)
    for what, values in (("energies", event_energies), ("cores", event_cores)):
        if values is not None and len(values) != n:
            msg = f"{what}: expected one per event ({n}), got {len(values)}"
            raise ValueError(msg)
    if titles is None:
        titles = (
            [f"$E = {e:.3g}$ EeV" for e in event_energies]
            if event_energies is not None
            else [f"Event {k}" for k in range(n)]
        )
    if len(titles) != n:
        msg = f"titles: expected one per event ({n}), got {len(titles)}"
        raise ValueError(msg)
    shape = (maps.shape[1], maps.shape[2])
    norm = _log_norm(list(maps))
    cmap = _colormap("viridis")
    if hexagonal:
        xy = _positions(shape, spacing).reshape(-1, 2) / 1000.0  # km
        radius = spacing / 1000.0 / math.sqrt(3)  # circumradius of a cell, km
        angles = np.radians(30 + 60 * np.arange(6))
        hexagon = radius * np.column_stack([np.cos(angles), np.sin(angles)])
        cells = xy[:, None, :] + hexagon[None]
        (x0, y0), (x1, y1) = cells.reshape(-1, 2).min(0), cells.reshape(-1, 2).max(0)
        width = 6.0
        height = width * (y1 - y0) / (x1 - x0)
    else:
        width = height = 6.0
    cols = max(1, min(ncols, n))
    rows = math.ceil(n / cols)
    with style():
        fig, rects = figure(
            [width] * cols + [0.35],
            [height] * rows,
            wgap=[0.35] * (cols - 1) + [0.3],
            hgap=1.5,
            margins=(1.6, 2.0, 1.2, 0.8),
        )
        axes: list[Axes] = []
        for k, values in enumerate(maps):
            ax = fig.add_axes(rects[k // cols][k % cols])
            masked = np.ma.masked_less_equal(values, 0)
            if hexagonal:
                mappable = PolyCollection(
                    list(cells), array=masked.ravel(), cmap=cmap, norm=norm, edgecolors="white"
                )
                mappable.set_linewidth(0.5)
                ax.add_collection(mappable)
                ax.set_xlim(x0, x1)
                ax.set_ylim(y0, y1)
                ax.set_aspect("equal")
                ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
                ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
                ax.set_xlabel("$x$ [km]")
                ax.set_ylabel("$y$ [km]")
                if event_cores is not None:
                    ax.plot(*(event_cores[k] / 1000.0), marker="x", color="tab:red", ms=12, mew=3)
            else:
                ax.pcolormesh(
                    np.arange(shape[0] + 1) - 0.5,
                    np.arange(shape[1] + 1) - 0.5,
                    masked.T,
                    cmap=cmap,
                    norm=norm,
                )
                ax.set_aspect("equal")
                ax.set_xlabel("Station $i$")
                ax.set_ylabel("Station $j$")
            ax.minorticks_off()
            if k % cols:
                ax.set_ylabel("")
                ax.tick_params(labelleft=False)
            ax.set_title(titles[k], fontsize="small")
            axes.append(ax)
        top, bottom = rects[0][cols], rects[rows - 1][cols]
        cax = fig.add_axes((top[0], bottom[1], top[2], top[1] + top[3] - bottom[1]))
        bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax)
        bar.set_label("Signal [VEM]")
    return fig, np.array(axes, dtype=object)


def _counts_panel(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    edges: np.ndarray,
    norm: Any,
) -> Any:
    """A 2-D histogram of ``(x, y)`` with log colours and the diagonal; returns the mesh."""
    counts, _, _ = np.histogram2d(x, y, bins=[edges, edges])
    mesh = ax.pcolormesh(
        edges, edges, np.ma.masked_equal(counts.T, 0), cmap="Blues", norm=norm, rasterized=True
    )
    ax.plot(edges[[0, -1]], edges[[0, -1]], color="0.3", linestyle="--", linewidth=1.5)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(edges[0], edges[-1])
    ax.set_aspect("equal")
    return mesh


def _square_edges(arrays: Sequence[np.ndarray], bins: int, limits: Any) -> np.ndarray:
    if limits is not None:
        lo, hi = (float(v) for v in limits)
    else:
        every = np.concatenate(arrays)
        lo, hi = float(every.min()), float(every.max())
        pad = 0.02 * (hi - lo) or 0.5
        lo, hi = lo - pad, hi + pad
    if not lo < hi:
        msg = f"limits: expected low < high, got ({lo}, {hi})"
        raise ValueError(msg)
    return np.linspace(lo, hi, bins + 1)


def label_vs_reconstructed(
    label: Any,
    reconstructed: Any,
    *,
    bins: int = 40,
    limits: tuple[float, float] | None = None,
    quantity: str = "energy",
    unit: str = "EeV",
) -> tuple[Figure, Axes]:
    """The label a generator was given against the label reconstructed from its output.

    Erdmann et al. Fig. 3: the energy label of WGAN-generated patterns against the
    energy the constrainer reconstructs from them (:meth:`dctrgan.WGAN.reconstruct`),
    as a 2-D histogram with the diagonal and, per label bin, the mean and standard
    deviation of the reconstruction. The legend gives Pearson's ``rho``.

    Args:
        label: ``(N,)`` labels given to the generator.
        reconstructed: ``(N,)`` labels reconstructed from the generated events.
        bins: bins per axis.
        limits: ``(low, high)`` of both axes (default: the values' range).
        quantity: what the label is, for the axis titles.
        unit: its unit.

    Returns:
        The figure and its axes (the figure also holds the colorbar axes).

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: for arrays of different lengths or non-finite values.
    """
    require()
    x, y = vector(label, "label"), vector(reconstructed, "reconstructed")
    if x.shape != y.shape or len(x) < 2:
        msg = f"label {x.shape} and reconstructed {y.shape}: expected the same length, >= 2"
        raise ValueError(msg)
    edges = _square_edges([x, y], bins, limits)
    rho = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else math.nan
    index = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(index, weights=y, minlength=bins) / count
        spread = np.sqrt(np.bincount(index, weights=(y - mean[index]) ** 2, minlength=bins) / count)
    centres = 0.5 * (edges[1:] + edges[:-1])
    text = f"{quantity[:1].upper()}{quantity[1:]}"
    with style():
        fig, rects = figure([7.5, 0.35], [7.5], wgap=0.25, margins=(1.8, 1.9, 1.3, 0.4))
        ax = fig.add_axes(rects[0][0])
        mesh = _counts_panel(ax, x, y, edges, _counts_norm([x], [y], edges))
        ok = count > 0
        ax.errorbar(
            centres[ok], mean[ok], yerr=spread[ok], fmt="o", color="tab:red", ms=5,
            label=r"mean $\pm$ std",
        )  # fmt: skip
        ax.plot([], [], color="0.3", linestyle="--", label=rf"$y = x$, $\rho = {rho:.3f}$")
        ax.legend(loc="upper left", fontsize=legend_size())
        ax.set_xlabel(f"{text} label [{unit}]")
        ax.set_ylabel(f"Reconstructed {quantity} [{unit}]")
        bar = fig.colorbar(mesh, cax=fig.add_axes(rects[0][1]))
        bar.set_label("Events")
    return fig, ax


def _counts_norm(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], edges: np.ndarray) -> Any:
    from matplotlib.colors import LogNorm

    top = max(
        float(np.histogram2d(x, y, bins=[edges, edges])[0].max())
        for x, y in zip(xs, ys, strict=True)
    )
    return LogNorm(1.0, max(top, 10.0))


def _event_signal(sample: Any, event: int, what: str) -> tuple[np.ndarray, float | None]:
    """One event's ``(n_x, n_y, n_t)`` signal (or one ``(n_t,)`` trace) and its energy."""
    if isinstance(sample, ak.Array):
        signal = signal_array(sample, "traces")
        energy = float(sample["energy"][event]) if "energy" in ak.fields(sample) else None
        return np.asarray(signal[event], dtype=np.float64), energy
    a = np.asarray(sample, dtype=np.float64)
    if a.ndim == 4:
        a = a[event]
    if a.ndim not in (1, 3) or not np.isfinite(a).all():
        msg = (
            f"{what}: expected finite traces: events, (N, n_x, n_y, n_t), one event "
            f"(n_x, n_y, n_t) or one trace (n_t,), got shape {np.shape(sample)}"
        )
        raise ValueError(msg)
    return a, None


def _default_stations(signal: np.ndarray) -> list[tuple[int, int]]:
    """The station with the largest signal and its neighbour with the largest (Fig. 5)."""
    total = signal.sum(axis=-1)
    i, j = (int(v) for v in np.unravel_index(np.argmax(total), total.shape))
    neighbours = [
        (i + di, j + dj)
        for di, dj in _NEIGHBOURS
        if 0 <= i + di < total.shape[0] and 0 <= j + dj < total.shape[1]
    ]
    if not neighbours:
        return [(i, j)]
    return [(i, j), max(neighbours, key=lambda s: float(total[s]))]


def traces(
    data: Any,
    simulated: Any = None,
    refined: Any = None,
    *,
    event: int = 0,
    stations: Sequence[tuple[int, int]] | None = None,
    labels: Sequence[str] = ("Data", "Simulation", "Refined"),
    bin_width: float = 25.0,
    start: float = 0.0,
) -> tuple[Figure, np.ndarray]:
    """Signal traces of one event's stations: data, simulation and refined simulation.

    Erdmann et al. Fig. 5: the data trace (solid), the simulated trace of the same
    shower (dotted) and the refined simulated trace (circles), for the station with
    the largest signal and its strongest neighbour on the hexagonal grid (or the
    ``stations`` given). The time axis ends where the drawn traces have deposited
    99.5 % of their signal (plus a few bins).

    Args:
        data: air-shower events, traces ``(N, n_x, n_y, n_t)``, one event
            ``(n_x, n_y, n_t)`` or one trace ``(n_t,)``; VEM per bin.
        simulated: the simulated traces of the same showers, likewise (optional).
        refined: the refined simulated traces, likewise (optional).
        event: which event of ``(N, ...)`` inputs.
        stations: ``(i, j)`` of the stations to draw, one panel each.
        labels: legend labels of data, simulated and refined traces.
        bin_width: time per bin, ns.
        start: time of the opening of bin 0, ns (the air-shower simulator's window
            opens 50 ns before the shower front: ``start=-50`` counts from the front).

    Returns:
        The figure and its panels, a 1-D array, one per station.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: for traces of the wrong or different shapes, or stations outside
            the grid.
    """
    require()
    given = [(s, k) for k, s in enumerate((data, simulated, refined)) if s is not None]
    signals, energy = [], None
    for sample, k in given:
        signal, e = _event_signal(sample, event, ("data", "simulated", "refined")[k])
        signals.append(signal)
        energy = energy if energy is not None else e
    if any(s.shape != signals[0].shape for s in signals):
        msg = f"traces: shapes differ: {[s.shape for s in signals]}"
        raise ValueError(msg)
    if signals[0].ndim == 1:
        chosen: list[tuple[int, int] | None] = [None]
        series = [[s] for s in signals]
    else:
        chosen = list(stations) if stations is not None else list(_default_stations(signals[0]))
        shape = signals[0].shape[:2]
        for station in chosen:
            if station is None or not all(0 <= v < n for v, n in zip(station, shape, strict=True)):
                msg = f"stations: {station} is outside the {shape[0]} x {shape[1]} grid"
                raise ValueError(msg)
        series = [[s[st] for st in chosen if st is not None] for s in signals]
    n_t = signals[0].shape[-1]
    edges = start + bin_width * np.arange(n_t + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    drawn = np.abs(np.concatenate([np.stack(s) for s in series])).sum(axis=0)
    cumulative = np.cumsum(drawn)
    last = int(np.searchsorted(cumulative, 0.995 * cumulative[-1])) if cumulative[-1] > 0 else n_t
    stop = min(n_t, max(last + 5, 20))
    with style():
        size = legend_size()
        fig, rects = figure([8.0] * len(chosen), [6.0], wgap=1.8, margins=(1.8, 0.3, 1.2, 0.8))
        axes: list[Axes] = []
        for p, station in enumerate(chosen):
            ax = fig.add_axes(rects[0][p])
            for (_, k), s in zip(given, series, strict=True):
                if k < 2:
                    line = "-" if k == 0 else ":"  # data solid, simulation dotted
                    ax.stairs(
                        s[p], edges, color="black", linewidth=2.5, linestyle=line, label=labels[k]
                    )
                else:
                    ax.plot(centres, s[p], "o", color="tab:blue", ms=7, label=labels[k])
            ax.set_xlim(edges[0], edges[stop])
            top = max(float(s[p][:stop].max()) for s in series)
            low = min(0.0, *(float(s[p][:stop].min()) for s in series))
            room = headroom(len(given), 6.0, size) + 0.03
            ax.set_ylim(low, low + ((top - low) or 1.0) / (1 - room))
            parts = [] if station is None else [f"station ({station[0]}, {station[1]})"]
            if energy is not None:
                parts.insert(0, f"$E = {energy:.3g}$ EeV")
            ax.set_title(", ".join(parts), fontsize="small")
            ax.set_xlabel("Time [ns]")
            ax.set_ylabel(f"Signal [VEM / {bin_width:g} ns]")
            ax.legend(loc="upper right", fontsize=size)
            axes.append(ax)
    return fig, np.array(axes, dtype=object)


def energy_reconstruction(
    true: Any,
    *predictions: Any,
    labels: Sequence[str] | None = None,
    bins: int = 40,
    resolution_bins: int = 10,
    limits: tuple[float, float] | None = None,
    unit: str = "EeV",
) -> tuple[Figure, np.ndarray]:
    """Reconstructed against true energy for several models, with bias and resolution.

    Erdmann et al. Fig. 6: for each model (say: trained and tested on simulation;
    trained on simulation, tested on data; trained on refined simulation, tested on
    data) a 2-D histogram of reconstructed against true energy with the diagonal,
    the overall relative bias and resolution of :func:`dctrgan.bias_resolution` in
    the legend, and below, the relative bias (markers) and resolution (error bars)
    in bins of true energy.

    Args:
        true: ``(N,)`` true energies shared by all models, or a list with one array
            per model (for models tested on different events).
        *predictions: ``(N,)`` reconstructed energies of each model.
        labels: panel titles, one per model (default ``Model 1``, ...).
        bins: bins per axis of the 2-D histograms.
        resolution_bins: bins of true energy for the lower panels.
        limits: ``(low, high)`` energies of the axes (default: the values' range).
        unit: energy unit.

    Returns:
        The figure and its axes, a ``(2, models)`` array: the 2-D histograms on top,
        the bias and resolution below. The figure also holds the colorbar axes.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: without predictions, for lengths that differ, non-finite or
            non-positive true energies.
    """
    require()
    from matplotlib.cm import ScalarMappable

    if not predictions:
        msg = "energy_reconstruction: pass the reconstructed energies of at least one model"
        raise ValueError(msg)
    n = len(predictions)
    titles = labels_or(labels, numbered("Model", n))
    shared = not isinstance(true, (list, tuple))
    trues = [vector(t, "true") for t in ([true] * n if shared else per_model(true, n, "true"))]
    preds = [vector(p, f"predictions[{i}]") for i, p in enumerate(predictions)]
    edges = _square_edges(trues + preds, bins, limits)
    every_true = np.concatenate(trues)
    coarse = np.linspace(every_true.min(), every_true.max(), resolution_bins + 1)
    if not coarse[-1] > coarse[0]:
        coarse = np.linspace(edges[0], edges[-1], resolution_bins + 1)
    scores = [
        regression.bias_resolution(p, t, bins=coarse) for p, t in zip(preds, trues, strict=True)
    ]
    norm = _counts_norm(trues, preds, edges)
    with style():
        fig, rects = figure(
            [7.0] * n + [0.35],
            [7.0, 3.5],
            wgap=[0.5] * (n - 1) + [0.25],
            hgap=1.4,
            margins=(2.1, 1.9, 1.3, 0.8),
        )
        axes = np.empty((2, n), dtype=object)
        size = legend_size()
        for k, (t, p, score) in enumerate(zip(trues, preds, scores, strict=True)):
            ax = fig.add_axes(rects[0][k])
            _counts_panel(ax, t, p, edges, norm)
            ax.plot(
                [],
                [],
                color="0.3",
                linestyle="--",
                label=(
                    f"bias {100 * score.bias:+.1f} %\nresolution {100 * score.resolution:.1f} %"
                ),
            )
            ax.legend(loc="upper left", fontsize=size, handlelength=0)
            ax.set_title(titles[k], fontsize="small")
            ax.set_xlabel(f"True energy [{unit}]")
            low = fig.add_axes(rects[1][k], sharex=ax, sharey=axes[1, 0] if k else None)
            assert score.bin_bias is not None
            assert score.bin_resolution is not None
            centres = 0.5 * (coarse[1:] + coarse[:-1])
            low.errorbar(
                centres, score.bin_bias, yerr=score.bin_resolution, fmt="o", color="tab:red",
                ms=6, capsize=4,
            )  # fmt: skip
            low.axhline(0.0, color="0.3", linewidth=1)
            low.set_xlabel(f"True energy [{unit}]")
            low.set_aspect("auto")
            if k:
                ax.tick_params(labelleft=False)
                low.tick_params(labelleft=False)
            axes[0, k], axes[1, k] = ax, low
        axes[0, 0].set_ylabel(f"Reconstructed [{unit}]")
        axes[1, 0].set_ylabel(r"$\Delta E / E$")
        spread = [
            np.abs(s.bin_bias) + s.bin_resolution
            for s in scores
            if s.bin_bias is not None and s.bin_resolution is not None
        ]
        reach = float(np.nanmax(np.concatenate(spread))) if spread else 0.1
        reach = 1.15 * reach if np.isfinite(reach) and reach > 0 else 0.1
        axes[1, 0].set_ylim(-reach, reach)
        bar = fig.colorbar(ScalarMappable(norm, "Blues"), cax=fig.add_axes(rects[0][n]))
        bar.set_label("Events")
    return fig, axes
