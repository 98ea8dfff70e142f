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
- :func:`compare` -- histograms with a ratio panel and :math:`⟨S^2⟩`, ``r`` in the
  legend (Figs. 3-6); :func:`comparison` is its three-histogram form, and
  :func:`save_comparisons` (or, in the background, a :class:`ComparisonWriter`) saves it
  for many observables at once, one figure redrawn per worker process;
- :func:`correlations` -- differences of weighted correlation matrices (Fig. 7);
- :func:`summary` -- :math:`⟨S^2⟩`, its ratio and ``r`` over all observables (Fig. 8).

Checks of a weighting:

- :func:`reliability` -- weighted reliability (calibration) diagram of a classifier;
- :func:`compare` draws the reweighting uncertainty of histograms filled with
  replicas (:meth:`dctrgan.Hist.fill` with ``replicas=``) as hatched bands.

Erdmann et al. (WGAN and refiner):

- :func:`patterns` -- 9 x 9 station footprints on their hexagonal grid (Fig. 2);
- :func:`label_vs_reconstructed` -- label against constrainer energy (Fig. 3);
- :func:`losses` -- training curves of :attr:`dctrgan.WGAN.history` and the
  others (Figs. 4 and 7);
- :func:`traces` -- data, simulated and refined traces of one event (Fig. 5);
- :func:`energy_reconstruction` -- reconstructed against true energy with bias and
  resolution, for several models (Fig. 6).

CaloChallenge (Faucci Giannelli et al.):

- :func:`layer_profile` -- mean energy per layer with a ratio panel;
- :func:`average_shower` -- the average shower per layer, polar panels of the mean
  voxel energy (the challenge's evaluation figure);
- :func:`report_figures` -- the figures of ``dctrgan calochallenge``'s report.

References:
    S. Diefenbacher et al., "DCTRGAN: Improving the Precision of Generative Models
    with Reweighting", JINST 15 (2020) P11004.
    M. Erdmann, L. Geiger, J. Glombitza, D. Schmidt, "Generating and refining
    particle detector simulations using the Wasserstein distance in adversarial
    networks", Comput. Softw. Big Sci. 2 (2018) 4.
    M. Faucci Giannelli, G. Kasieczka, C. Krause, B. Nachman et al., "Fast Calorimeter
    Simulation Challenge 2022", arXiv:2410.21611.
"""

from __future__ import annotations

from dctrgan.plot._style import require
from dctrgan.plot.airshower import (
    energy_reconstruction,
    label_vs_reconstructed,
    patterns,
    traces,
)
from dctrgan.plot.batch import ComparisonWriter, save_comparisons
from dctrgan.plot.calochallenge import average_shower, layer_profile, report_figures
from dctrgan.plot.curves import losses
from dctrgan.plot.histograms import compare, comparison, summary
from dctrgan.plot.toys import density
from dctrgan.plot.validation import reliability
from dctrgan.plot.weighting import correlations, weights, weights_scatter

__all__ = (
    "ComparisonWriter",
    "average_shower",
    "compare",
    "comparison",
    "correlations",
    "density",
    "energy_reconstruction",
    "label_vs_reconstructed",
    "layer_profile",
    "losses",
    "patterns",
    "reliability",
    "report_figures",
    "require",
    "save_comparisons",
    "summary",
    "traces",
    "weights",
    "weights_scatter",
)
