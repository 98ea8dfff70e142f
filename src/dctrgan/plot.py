"""The figures of both papers, for your own samples (matplotlib + mplhep).

Needs the ``plot`` extra: ``pip install "dctrgan[plot]"``. Every function takes
plain arrays (awkward arrays and, where it says so, histograms and the package's
events too) and returns ``(fig, axes)``: a :class:`matplotlib.figure.Figure` and its
panels. Figures of one panel (:func:`weights`, :func:`weights_scatter`,
:func:`label_vs_reconstructed`) return that ``Axes``; the others return an object
array of panels, 1-D or 2-D as each docstring states, even when it holds one panel
(so ``axes[0]`` always works). Colorbars are further axes of ``fig`` only.

Figures use the mplhep ROOT style (26 pt text, no experiment label), are built on
the Agg canvas without :mod:`matplotlib.pyplot` (no display needed, nothing left
open) and are laid out in inches, so text has the same size in every figure; save
them with ``fig.savefig("name.png", dpi=100)`` (in Jupyter, a returned figure
shows as the cell's output).

DCTRGAN (Diefenbacher et al.):

- :func:`density` -- toy densities: truth, GAN, DCTRGAN (Fig. 1);
- :func:`weights`, :func:`weights_scatter` -- weight distributions and the
  correlation of two models' weights with Pearson's rho (Fig. 2);
- :func:`compare` -- histograms with a ratio panel and ``<S^2>``, ``r`` in the
  legend (Figs. 3-6); :func:`comparison` is its three-histogram form;
- :func:`correlations` -- differences of weighted correlation matrices (Fig. 7);
- :func:`summary` -- ``<S^2>``, its ratio and ``r`` over all observables (Fig. 8).

Erdmann et al. (WGAN and refiner):

- :func:`patterns` -- 9 x 9 station footprints on their hexagonal grid (Fig. 2);
- :func:`label_vs_reconstructed` -- label against constrainer energy (Fig. 3);
- :func:`losses` -- training curves of :attr:`dctrgan.WGAN.history` and the
  others (Figs. 4 and 7);
- :func:`traces` -- data, simulated and refined traces of one event (Fig. 5);
- :func:`energy_reconstruction` -- reconstructed against true energy with bias and
  resolution, for several models (Fig. 6).

References:
    S. Diefenbacher et al., "DCTRGAN: Improving the Precision of Generative Models
    with Reweighting", JINST 15 (2020) P11004.
    M. Erdmann, L. Geiger, J. Glombitza, D. Schmidt, "Generating and refining
    particle detector simulations using the Wasserstein distance in adversarial
    networks", Comput. Softw. Big Sci. 2 (2018) 4.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from dctrgan._plot_airshower import (
    energy_reconstruction,
    label_vs_reconstructed,
    patterns,
    traces,
)
from dctrgan._plot_base import require
from dctrgan._plot_compare import compare, summary
from dctrgan._plot_losses import losses
from dctrgan._plot_toys import density
from dctrgan._plot_weights import correlations, weights, weights_scatter

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = (
    "compare",
    "comparison",
    "correlations",
    "density",
    "energy_reconstruction",
    "label_vs_reconstructed",
    "losses",
    "patterns",
    "summary",
    "traces",
    "weights",
    "weights_scatter",
)


def _require() -> tuple[ModuleType, ModuleType]:
    """matplotlib and mplhep, or the install hint: for callers that check before long work."""
    return require()


def comparison(
    reference: Any,
    model: Any,
    weights: Any,
    *,
    reference_weights: Any = None,
    bins: int | np.ndarray = 30,
    observable: str = "",
    unit: str = "",
    labels: Sequence[str] = ("Reference", "Model", "Model, weighted"),
    ratio_range: tuple[float, float] = (0.5, 1.5),
) -> Figure:
    """Reference, model and weighted model histograms of one observable, with a ratio panel.

    :func:`compare` of ``reference`` with ``model`` twice, without and with
    ``weights``; see there.

    Args:
        reference: ``(N1,)`` values of the observable in the reference sample.
        model: ``(N2,)`` values in the model sample.
        weights: ``(N2,)`` non-negative weights of the model events.
        reference_weights: ``(N1,)`` weights of the reference events (default: 1).
        bins: number of bins (edges from :func:`dctrgan.report.edges`) or the edges.
        observable: name of the observable, for the x label (``total_energy``).
        unit: its unit, for the x label (``MeV``).
        labels: legend labels of the reference, the model and the weighted model.
        ratio_range: y range of the ratio panel.

    Returns:
        The figure, with two axes: the histograms, and the ratio to the reference.

    Raises:
        ModuleNotFoundError: without matplotlib or mplhep (install ``dctrgan[plot]``).
        ValueError: for non-finite values, invalid weights, or not three labels.

    Example:
        >>> fig = comparison(full_energy, fast_energy, w, observable="total_energy", unit="MeV")  # doctest: +SKIP
        >>> fig.savefig("total_energy.png")  # doctest: +SKIP
    """
    if len(labels) != 3:
        msg = f"labels: expected three (reference, model, weighted model), got {len(labels)}"
        raise ValueError(msg)
    fig, _ = compare(
        reference,
        model,
        model,
        labels=labels,
        bins=bins,
        weights=[None, weights],
        reference_weights=reference_weights,
        observable=observable,
        unit=unit,
        ratio_range=ratio_range,
    )
    return fig
