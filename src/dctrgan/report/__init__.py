r"""Observable-by-observable comparison of a (weighted) model sample with a reference.

For every observable: the separation power :math:`\langle S^2 \rangle` (DCTRGAN eq. 15) of the model
against the reference, without and with the weights, their ratio, and the
uncertainty ratio ``r`` (DCTRGAN sec. II B): the uncertainty on the mean of the
observable from the model sample over that from the reference sample. The table is
written as Markdown (for people) and CSV (for programs)::

    comparison = dctrgan.report.compare(full, fast, weights)
    comparison.write("report")  # report.md and report.csv
    comparison.median("s2_weighted", group="input")

Showers are compared on :func:`dctrgan.features.observables`, air-shower traces on
:func:`dctrgan.features.trace_observables`, anything else given as a mapping
``name -> (N,) values``. :func:`calochallenge` reweights a generative model's showers
in the CaloChallenge format towards the reference and reports on held-out showers
(``challenge.py``).

Every observable is histogrammed in the same number of equal-width bins between the
0.1 and 99.9 percentiles of both samples together; events outside are not counted
(as in the paper's figures, whose first and last bins hold no under- or overflow).
Integer-valued observables (active cells) get edges on half-integers, so every bin
holds the same number of integers. ``r`` uses every event.

Two finite samples of the same distribution do not give :math:`\langle S^2 \rangle = 0`:
with :math:`B` bins and :math:`N_1`, :math:`N_2` events,
:math:`E[\langle S^2 \rangle] \approx \frac{B - 1}{4} (1/N_1 + 1/N_2)`, with the effective
numbers of entries in place of :math:`N` for weighted samples. The report states this
floor; an :math:`\langle S^2 \rangle` near it is as good as the sample size can tell.

References:
    DCTRGAN (Diefenbacher et al.), eq. 15, sec. II B, Figs. 3-8.
"""

from __future__ import annotations

from dctrgan.report.binning import edges
from dctrgan.report.challenge import ChallengeReport, calochallenge
from dctrgan.report.comparison import Comparison, compare, compare_observable, observable_unit
from dctrgan.report.table import Entry, statistical_floor

__all__ = (
    "ChallengeReport",
    "Comparison",
    "Entry",
    "calochallenge",
    "compare",
    "compare_observable",
    "edges",
    "observable_unit",
    "statistical_floor",
)
