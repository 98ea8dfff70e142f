"""CaloChallenge figures: the mean energy per layer, the average shower per layer, and
the figures of a reweighting report (:func:`report_figures`).

Both take showers in the challenge's binning (:class:`~dctrgan.data.CylindricalGeometry`):
``(N, V)`` arrays of voxel energies in MeV, voxels ordered by layer, then alpha, then r,
or :class:`~dctrgan.io.calochallenge.ChallengeShowers`.

References:
    M. Faucci Giannelli, G. Kasieczka, C. Krause, B. Nachman et al., "Fast Calorimeter
    Simulation Challenge 2022", github.com/CaloChallenge/homepage (the average shower
    per layer of its evaluation); arXiv:2410.21611.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dctrgan.plot._style import (
    LINESTYLES,
    MODEL_COLORS,
    decades,
    figure,
    headroom,
    labels_or,
    legend_size,
    log_axis,
    numbered,
    per_model,
    require,
    style,
    vector,
)
from dctrgan.plot.histograms import comparison

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from dctrgan.data import CylindricalGeometry
    from dctrgan.io.calochallenge import ChallengeShowers
    from dctrgan.report import ChallengeReport

__all__ = ("average_shower", "layer_profile", "report_figures")

#: Showers summed at a time (in float64) for the mean shower: bounded memory for dataset 3.
_CHUNK = 4096
#: Quads per full circle at least, in the polar panels.
_ARC_STEPS = 96


def _voxels(sample: Any, geometry: CylindricalGeometry, name: str) -> np.ndarray:
    """The ``(N, V)`` voxel energies of a sample (an array or ChallengeShowers), checked."""
    own = getattr(sample, "geometry", geometry)
    if own != geometry:
        msg = f"{name}: the showers are binned differently from geometry"
        raise ValueError(msg)
    x = np.asarray(getattr(sample, "showers", sample))
    if x.ndim != 2 or x.shape[1] != geometry.n_voxels or x.dtype.kind not in "biuf":
        msg = (
            f"{name}: expected (N, {geometry.n_voxels}) voxel energies for this binning, "
            f"got {x.dtype} {x.shape}"
        )
        raise ValueError(msg)
    if not len(x) or not np.isfinite(x).all():
        msg = f"{name}: expected showers with finite voxel energies, got {len(x)} showers"
        raise ValueError(msg)
    return x


def _weights(weights: Any, n: int, name: str) -> np.ndarray | None:
    """``(n,)`` non-negative weights with a positive sum, or None."""
    if weights is None:
        return None
    w = vector(weights, name)
    if len(w) != n or (w < 0).any() or w.sum() <= 0:
        msg = f"{name}: expected {n} non-negative weights, one per shower, with a positive sum"
        raise ValueError(msg)
    return w


def _samples(
    samples: Sequence[Any], weights: Sequence[Any], geometry: CylindricalGeometry, where: list[str]
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Each sample's voxel energies and checked weights, errors naming the argument."""
    out = []
    for sample, w, name in zip(samples, weights, where, strict=True):
        x = _voxels(sample, geometry, name)
        out.append((x, _weights(w, len(x), f"weights for {name}")))
    return out


def _mean_shower(x: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """``(V,)`` (weighted) mean energy of every voxel, summed in float64 a chunk at a time."""
    total = np.zeros(x.shape[1])
    for a in range(0, len(x), _CHUNK):
        chunk = x[a : a + _CHUNK].astype(np.float64)
        total += chunk.sum(axis=0) if w is None else w[a : a + _CHUNK] @ chunk
    mean: np.ndarray = total / (len(x) if w is None else w.sum())
    return mean


def layer_profile(
    reference: Any,
    *models: Any,
    geometry: CylindricalGeometry,
    weights: Any = None,
    labels: Sequence[str] | None = None,
    ratio_range: tuple[float, float] = (0.5, 1.5),
) -> tuple[Figure, np.ndarray]:
    """Mean energy per layer of the reference and each model, with a ratio panel.

    The longitudinal profile of the showers: the (weighted) mean of each relevant
    layer's energy on a log scale, and below, each model's ratio to the reference
    with the reference's relative standard error of the mean as a grey band.

    Args:
        reference: the reference showers, ``(N, V)`` voxel energies in MeV or a
            :class:`~dctrgan.io.calochallenge.ChallengeShowers`.
        *models: each model's showers, the same way (one sample may come twice, with
            and without weights).
        geometry: the binning of the showers.
        weights: ``(N_i,)`` weights of each model's showers, one array or None per
            model in a list; with one model, its array.
        labels: legend labels, the reference's first (default ``"Reference"``,
            ``"Model"`` or ``"Model 1"``, ...).
        ratio_range: y range of the ratio panel.

    Returns:
        The figure and its two axes as an array: ``[profile, ratio]``.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: without models, for showers that do not fit the binning, weights
            that are not one non-negative array (or None) per model, or labels that
            are not one per sample.

    Example:
        >>> fig, (ax, ratio) = layer_profile(g4, gen, gen, geometry=g4.geometry,
        ...                                  weights=[None, w])  # doctest: +SKIP
    """
    require()
    from matplotlib.ticker import MaxNLocator

    if not models:
        msg = "layer_profile: pass at least one model sample after the reference"
        raise ValueError(msg)
    names = labels_or(labels, numbered("Model", len(models), first="Reference"))
    where = ["reference", *(f"models[{i}]" for i in range(len(models)))]
    all_weights = [None, *per_model(weights, len(models), "weights")]
    samples = _samples([reference, *models], all_weights, geometry, where)
    layers = np.array(geometry.relevant_layers)
    starts = [geometry.layer_offsets[i] for i in layers]
    energies = [np.add.reduceat(x, starts, axis=1, dtype=np.float64) for x, _ in samples]
    means = [np.average(e, axis=0, weights=w) for e, (_, w) in zip(energies, samples, strict=True)]
    ref = means[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = [np.where(ref > 0, m / ref, np.nan) for m in means[1:]]
        band = np.where(ref > 0, energies[0].std(axis=0) / math.sqrt(len(energies[0])) / ref, 0.0)
    positive = np.concatenate(means)
    positive = positive[positive > 0]
    lo, hi = (float(positive.min()), float(positive.max())) if len(positive) else (1.0, 10.0)

    with style():
        fig, rects = figure([8.2], [6.4, 2.1], hgap=0.2, margins=(1.7, 0.3, 1.0, 0.3))
        ax = fig.add_axes(rects[0][0])
        rax = fig.add_axes(rects[1][0], sharex=ax)
        ax.plot(layers, ref, color="0.3", marker="o", label=names[0])
        rax.fill_between(layers, 1 - band, 1 + band, color="0.85", linewidth=0)
        rax.axhline(1.0, color="0.3", linewidth=1)
        for i, (mean, ratio) in enumerate(zip(means[1:], ratios, strict=True)):
            color, linestyle = MODEL_COLORS[i % len(MODEL_COLORS)], LINESTYLES[i % len(LINESTYLES)]
            ax.plot(layers, mean, color=color, linestyle=linestyle, label=names[i + 1])
            rax.plot(layers, ratio, color=color, linestyle=linestyle)
        size = legend_size()
        # the legend's share of the height, above the data on the log scale
        bottom = decades(lo, hi)[0]
        room = headroom(len(names), 6.4, size) + 0.04
        log_axis(ax, "y", bottom, max(bottom * (hi / bottom) ** (1 / (1 - room)), 10 * bottom))
        ax.set_ylabel("Mean layer energy [MeV]")
        ax.legend(loc="upper right", fontsize=size)
        ax.tick_params(labelbottom=False)
        rax.set_ylim(*ratio_range)
        rax.set_xlim(layers[0] - 0.5, layers[-1] + 0.5)
        rax.xaxis.set_major_locator(MaxNLocator(integer=True))
        rax.set_ylabel("Ratio")
        rax.set_xlabel("Layer")
    return fig, np.array([ax, rax], dtype=object)


def _chosen_layers(layers: Sequence[int] | None, geometry: CylindricalGeometry) -> list[int]:
    """``layers`` checked to have voxels, or up to six spread over the relevant layers."""
    relevant = geometry.relevant_layers
    if layers is None:
        spread = np.linspace(0, len(relevant) - 1, min(6, len(relevant)))
        return [relevant[i] for i in np.unique(np.round(spread).astype(int))]
    chosen = [int(layer) for layer in layers]
    wrong = [layer for layer in chosen if layer not in relevant]
    if wrong or not chosen:
        msg = f"layers: expected layers with voxels (of {list(relevant)}), got {list(layers)}"
        raise ValueError(msg)
    return chosen


def _polar_layer(
    ax: Any, mean: np.ndarray, geometry: CylindricalGeometry, layer: int, norm: Any, floor: float
) -> Any:
    """The mean energies of one layer's voxels on a polar ``ax``; returns the mesh.

    Each angular bin is drawn as several thinner quads (the mesh's array repeats its
    values), so that arcs, and the rings of layers without angular bins, look round.
    """
    r_edges = np.asarray(geometry.r_edges[layer])
    n_alpha = geometry.n_alpha[layer]
    steps = math.ceil(_ARC_STEPS / n_alpha)
    alpha, r = np.meshgrid(
        np.linspace(-math.pi, math.pi, n_alpha * steps + 1), r_edges, indexing="ij"
    )
    values = mean[geometry.layer_slice(layer)].reshape(n_alpha, len(r_edges) - 1)
    mesh = ax.pcolormesh(
        alpha,
        r,
        np.repeat(np.maximum(values, floor), steps, axis=0),
        norm=norm,
        cmap="viridis",
        edgecolors="face",  # no seams between the thin quads where they meet at r = 0
        linewidth=0.2,
    )
    ax.set_ylim(0.0, r_edges[-1])
    ax.set_xticks(np.linspace(0, 2 * math.pi, 8, endpoint=False), [])
    ax.set_yticks([])
    return mesh


def average_shower(
    showers: Any,
    geometry: CylindricalGeometry,
    *,
    weights: Any = None,
    layers: Sequence[int] | None = None,
    labels: Sequence[str] | None = None,
    log: bool = True,
) -> tuple[Figure, np.ndarray]:
    """The average shower per layer: the mean energy of every voxel, one polar panel each.

    The CaloChallenge's figure: for each chosen layer, its voxels drawn where they
    lie (angle alpha, radius r), coloured by their (weighted) mean energy over the
    showers, one row per sample on one colour scale. Layers without angular bins
    show as rings. With ``log``, the scale spans four decades below the largest mean;
    smaller means (zeros too) take the colour of its floor.

    Args:
        showers: one sample, or a list of samples (rows: say the reference, a model
            and the weighted model), each ``(N_i, V)`` voxel energies in MeV or a
            :class:`~dctrgan.io.calochallenge.ChallengeShowers`.
        geometry: the binning of the showers.
        weights: ``(N_i,)`` weights of each sample's showers, one array or None per
            sample in a list; with one sample, its array.
        layers: the layers to draw (default: up to six spread over the relevant
            layers, the first and the last among them).
        labels: one label per sample, beside its row (default ``"Sample"`` or
            ``"Sample 1"``, ...).
        log: a logarithmic colour scale, else linear from 0.

    Returns:
        The figure and its polar axes, a ``(samples, layers)`` array. The figure
        also holds the colorbar axes.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: for showers that do not fit the binning, weights that are not one
            non-negative array (or None) per sample, layers without voxels, or labels
            that are not one per sample.

    Example:
        >>> fig, axes = average_shower([g4, gen, gen], g4.geometry, weights=[None, None, w],
        ...                            labels=["Geant4", "Model", "Model + DCTR"])  # doctest: +SKIP
    """
    require()
    from matplotlib.colors import LogNorm, Normalize

    several = isinstance(showers, (list, tuple))
    given = list(showers) if several else [showers]
    where = [f"showers[{i}]" for i in range(len(given))] if several else ["showers"]
    names = labels_or(labels, numbered("Sample", len(given)))
    chosen = _chosen_layers(layers, geometry)
    all_weights = per_model(weights, len(given), "weights")
    means = [_mean_shower(x, w) for x, w in _samples(given, all_weights, geometry, where)]
    top = max(float(m.max()) for m in means)
    top = top if top > 0 else 1.0
    floor = 1e-4 * top if log else 0.0
    norm = LogNorm(floor, top) if log else Normalize(0.0, top)

    with style():
        size = 3.6
        fig, rects = figure(
            [size] * len(chosen) + [0.35],
            [size] * len(given),
            wgap=[0.5] * (len(chosen) - 1) + [0.6],
            hgap=0.6,
            margins=(1.0, 2.4, 0.9, 0.9),
        )
        axes = np.empty((len(given), len(chosen)), dtype=object)
        for row, (mean, name) in enumerate(zip(means, names, strict=True)):
            for col, layer in enumerate(chosen):
                ax = axes[row, col] = fig.add_axes(rects[row][col], projection="polar")
                mesh = _polar_layer(ax, mean, geometry, layer, norm, floor)
                if row == 0:
                    ax.set_title(f"layer {layer}", fontsize="small", pad=12)
                if row == len(given) - 1:
                    ax.set_xlabel(
                        f"$r < {geometry.r_edges[layer][-1]:g}$ mm",
                        fontsize="x-small",
                        loc="center",
                    )
            axes[row, 0].text(
                -0.12,
                0.5,
                name,
                transform=axes[row, 0].transAxes,
                rotation=90,
                ha="center",
                va="center",
                fontsize="small",
            )
        first, last = rects[0][-1], rects[-1][-1]
        cax = fig.add_axes((first[0], last[1], first[2], first[1] + first[3] - last[1]))
        fig.colorbar(mesh, cax=cax).set_label("Energy [MeV]")
    return fig, axes


#: The features :func:`report_figures` draws: those of the largest :math:`⟨S^2⟩` unweighted.
WORST = 6
_LABELS = ("Reference", "Model", "Model, DCTR weights")


def _unit(feature: str) -> str:
    """The unit of a challenge feature (or the incident energy)."""
    if feature == "incident_energy":
        return "GeV"
    if feature.startswith("E_"):
        return "MeV"
    return "mm" if feature.startswith(("EC_", "width_")) else ""


def report_figures(
    result: ChallengeReport,
    reference: ChallengeShowers,
    model: ChallengeShowers,
    weights: Any,
) -> dict[str, Figure]:
    """The figures of a CaloChallenge reweighting report, on its held-out showers, by
    file name: ``profile.png`` (:func:`layer_profile`), ``average_shower.png``
    (:func:`average_shower`) and ``feature_<name>.png`` for the ``WORST`` features
    of the largest :math:`⟨S^2⟩` before weighting (:func:`dctrgan.plot.comparison`); the
    reference, the model and the model with the DCTR weights in each.

    Args:
        result: the report (:func:`dctrgan.report.calochallenge`).
        reference: the reference showers it was made of (all of them).
        model: the model's showers (all of them).
        weights: the DCTR weights of the model's held-out showers.
    """
    test_ref, test_model = reference[result.held_out[0]], model[result.held_out[1]]
    geometry = test_ref.geometry
    drawn = {
        "profile.png": layer_profile(
            test_ref,
            test_model,
            test_model,
            geometry=geometry,
            weights=[None, weights],
            labels=_LABELS,
        )[0],
        "average_shower.png": average_shower(
            [test_ref, test_model, test_model],
            geometry,
            weights=[None, None, weights],
            labels=_LABELS,
        )[0],
    }
    values = [
        {"incident_energy": s.incident_energy, **s.features()} for s in (test_ref, test_model)
    ]
    scored = [e for e in result.comparison.entries if math.isfinite(e.s2_unweighted)]
    for entry in sorted(scored, key=lambda e: e.s2_unweighted, reverse=True)[:WORST]:
        name = entry.observable
        drawn[f"feature_{name}.png"] = comparison(
            values[0][name],
            values[1][name],
            weights,
            observable=name,
            unit=_unit(name),
            labels=_LABELS,
        )
    return drawn
