"""Statistics of weighted samples and histograms.

Separation power (DCTRGAN eq. 15), effective entries and the most that any exact
reweighting keeps of them (:func:`neff_bound`), the uncertainty ratio ``r``
of DCTRGAN sec. II B (eqs. 6-9), and weighted means, variances and correlation
matrices. Every function takes plain arrays or any uhi histogram (hist,
boost-histogram, ...); :class:`dctrgan.Hist` exposes the histogram ones as methods.
Tests between two samples: a chi-square and a Kolmogorov-Smirnov test of two weighted
histograms (:func:`chi2_test`, :func:`ks_test`), and an independent classifier trained
and scored on held-out folds (:func:`classifier_test`: weighted AUC with a bootstrap
interval, and ``ln 2 - BCE``; :func:`classifier_tests` for several weightings of one
sample at once); :func:`calibration_curve` for reliability diagrams;
the Fréchet and kernel physics distances of two weighted samples of features
(:func:`fpd`, :func:`kpd`).

Weights may be negative (NLO generators produce them) as long as their sum is
positive; they must be finite.

Every comparison of two histograms (:func:`separation_power`, :func:`histogram_ratio`,
:func:`uncertainty_ratio_hist`, :func:`statistical_floor_hist`, :func:`chi2_test`,
:func:`ks_test`) first checks that
their axes match and raises a ``ValueError`` naming the axis and what differs: the
number of axes, the bin edges (equal to 1e-12 of the axis's largest ``|edge|``), the
categories of a category axis (in order), a category axis against a numeric one, and
the names where both axes are named. A ``Regular`` and a ``Variable`` (or ``Integer``)
axis with the same edges match: the numbers depend on the edges only."""

from __future__ import annotations

from dctrgan.stats.binned import (
    CalibrationCurve,
    KSTest,
    calibration_curve,
    chi2_test,
    ks_test,
)
from dctrgan.stats.comparison import (
    histogram_ratio,
    separation_power,
    statistical_floor,
    statistical_floor_hist,
)
from dctrgan.stats.distances import Distance, fpd, kpd
from dctrgan.stats.two_sample import (
    ClassifierTest,
    classifier_test,
    classifier_tests,
    weighted_auc,
)
from dctrgan.stats.weighted import (
    effective_counts,
    effective_entries,
    neff_bound,
    uncertainty_ratio,
    uncertainty_ratio_hist,
    weighted_correlation,
    weighted_mean,
    weighted_variance,
)

__all__ = (
    "CalibrationCurve",
    "ClassifierTest",
    "Distance",
    "KSTest",
    "calibration_curve",
    "chi2_test",
    "classifier_test",
    "classifier_tests",
    "effective_counts",
    "effective_entries",
    "fpd",
    "histogram_ratio",
    "kpd",
    "ks_test",
    "neff_bound",
    "separation_power",
    "statistical_floor",
    "statistical_floor_hist",
    "uncertainty_ratio",
    "uncertainty_ratio_hist",
    "weighted_auc",
    "weighted_correlation",
    "weighted_mean",
    "weighted_variance",
)
