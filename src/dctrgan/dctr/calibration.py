"""Calibration of DCTR weights: the temperature, the normalization offset, clipping.

A fitted classifier gives a logit ``z`` per event; its weight is
``w = exp(z / T + b)``. The temperature ``T`` (:func:`fit_temperature`) calibrates
the classifier on held-out events, the offset ``b`` (:func:`fit_offset`) makes the
weights of the fake sample average 1, and :func:`weights_from_log` turns the
log-weights into weights, clipped and without overflow. :func:`neff_fraction` tells
how many effective entries such weights leave.

Where the samples barely overlap, the best classifier (in the loss) gives weights
that reproduce the real events worse than no weights at all: a few fake events
carry the weight. Two guards keep the weights useful there:
:func:`closure_factor` softens the temperature until the weighted fake validation
events are closest to the real ones in their histograms (no weights, a factor of
1000, is among the candidates), and :func:`truncation` caps each weight at
:math:`√N` times the mean (truncated importance sampling), so that no rare event
outweighs the sample.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np

from dctrgan.stats import effective_entries

__all__ = (
    "MAX_LOG_WEIGHT",
    "closure_factor",
    "fit_offset",
    "fit_temperature",
    "neff_fraction",
    "truncation",
    "weights_from_log",
)

log = logging.getLogger(__name__)

#: Largest log-weight whose exp is a finite float32 (with a margin): weights are float32.
MAX_LOG_WEIGHT = math.log(np.finfo(np.float32).max) - 1.0
#: Factors on the fitted temperature that :func:`closure_factor` tries; 1000 leaves the
#: weights within a few per cent of 1 for logits up to ~20, about no weighting.
CLOSURE_FACTORS = (1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0)
#: Equal-probability bins per projection of the closure histograms, at most; with fewer
#: validation events, one bin per :data:`CLOSURE_BIN_EVENTS` of the smaller class (>= 5).
CLOSURE_BINS = 30
CLOSURE_BIN_EVENTS = 25
#: Validation events per class that :func:`closure_factor` histograms, at most.
CLOSURE_EVENTS = 100_000


def _proper_loss(s: np.ndarray, y: np.ndarray, w: np.ndarray, loss: str) -> float:
    """``sum w * l(sigmoid(s), y)``: BCE with logits, overflow-free, or the Brier loss."""
    if loss == "brier":
        return float(np.sum(w * (y - 0.5 * (1.0 + np.tanh(0.5 * s))) ** 2))
    # BCE with logits: y * log(1 + e^-s) + (1 - y) * log(1 + e^s), overflow-free
    return float(np.sum(w * (y * np.logaddexp(0.0, -s) + (1 - y) * np.logaddexp(0.0, s))))


def fit_temperature(
    logit: np.ndarray, target: np.ndarray, weight: np.ndarray, *, loss: str = "auto"
) -> float:
    """The temperature ``T`` minimizing the weighted loss of ``sigmoid(logit / T)``.

    Golden-section search on ``log T`` in ``[1/20, 20]`` (the loss is convex in
    ``1/T`` for non-negative weights; deterministic, no optimizer state). With
    negative weights the sum is a difference of convex functions: a scan of 41
    points first brackets the smallest value, the search then refines it.

    Args:
        logit: ``(M,)`` logits of held-out events.
        target: ``(M,)`` their labels, 1 real, 0 fake.
        weight: ``(M,)`` their (class-balanced) weights, any sign.
        loss: ``"bce"``, ``"brier"``, or ``"auto"``: Brier if any weight is negative
            (as the training loss, :func:`dctrgan.training.classifier_step`), else BCE.

    References:
        C. Guo et al., "On calibration of modern neural networks", ICML 2017.
    """
    z = np.asarray(logit, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    signed = bool((w < 0).any())
    if loss not in ("auto", "bce", "brier"):
        msg = f"fit_temperature: loss must be 'auto', 'bce' or 'brier', got {loss!r}"
        raise ValueError(msg)
    chosen = ("brier" if signed else "bce") if loss == "auto" else loss

    def f(log_t: float) -> float:
        return _proper_loss(z / math.exp(log_t), y, w, chosen)

    lo, hi = math.log(1 / 20), math.log(20)
    if signed:
        grid = np.linspace(lo, hi, 41)
        k = int(np.argmin([f(float(g)) for g in grid]))
        lo, hi = float(grid[max(k - 1, 0)]), float(grid[min(k + 1, 40)])
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = f(a), f(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = f(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = f(b)
    return math.exp(0.5 * (lo + hi))


def fit_offset(logit: np.ndarray, temperature: float, weight: np.ndarray) -> float:
    r"""The log-weight offset ``b`` that makes the weighted mean of ``exp(logit / T + b)``
    over fake events 1 (DCTRGAN eq. 10), computed in log space.

    With signed weights ``w0``: :math:`Σ w_0 e^{z / T + b} = Σ w_0`, the weighted
    fake sample keeps its signed total.

    Args:
        logit: ``(M,)`` logits of held-out fake events.
        temperature: the fitted ``T``.
        weight: ``(M,)`` their sample weights, any sign, with a positive sum.

    Raises:
        ValueError: if :math:`Σ w_0` or :math:`Σ w_0 \exp(z / T)` is not positive: the
            learned weights give the fake sample no positive total to normalize.
    """
    w0 = np.asarray(weight, dtype=np.float64)
    s = np.asarray(logit, np.float64) / temperature
    if (w0 > 0).all():
        log_w0 = np.log(w0)
        return _logsumexp(log_w0) - _logsumexp(s + log_w0)
    top = float(np.max(s))
    total, weighted = float(np.sum(w0)), float(np.sum(w0 * np.exp(s - top)))
    if not (total > 0 and weighted > 0):
        msg = (
            f"fake_weight: the held-out fake events have sum(w0) = {total:.6g} and "
            f"sum(w0 * w) of sign {np.sign(weighted):+.0f}: with their negative weights the "
            "learned weights give no positive total to normalize (more events, or "
            "normalize=False)"
        )
        raise ValueError(msg)
    return math.log(total) - top - math.log(weighted)


def _logsumexp(x: np.ndarray) -> float:
    """``log(sum(exp(x)))`` without overflow."""
    top = float(np.max(x))
    return top + math.log(float(np.sum(np.exp(x - top))))


def weights_from_log(log_w: np.ndarray, clip: float | None) -> tuple[np.ndarray, int]:
    """Weights ``exp(log_w)`` clipped at ``clip``, and how many were clipped.

    ``exp(logit / T)``, not :math:`h / (1 - h)`: in float32 the sigmoid rounds to exactly 1
    once the logit passes ~17 (a division by zero) and to 0 below ~-88 (0/0), while
    ``exp`` of a float64 log-weight is exact. Weights are float32, finite up to
    ``exp(88)``: beyond that a weight is set to ``exp(87.7)``, with a warning.
    """
    clipped = 0
    if clip is not None:
        over = log_w > math.log(clip)
        clipped = int(over.sum())
        log_w = np.where(over, math.log(clip), log_w)
        if clipped:
            log.info(
                "DCTR: clipped %d of %d weights (%.3g%%) at %g",
                clipped,
                len(log_w),
                100 * clipped / len(log_w),
                clip,
            )
    huge = log_w > MAX_LOG_WEIGHT
    if huge.any():
        warnings.warn(
            f"DCTR: {int(huge.sum())} weight(s) would overflow float32 (first at event "
            f"{int(np.flatnonzero(huge)[0])}); set to {math.exp(MAX_LOG_WEIGHT):.3g}: "
            "the samples barely overlap there, consider clip=",
            RuntimeWarning,
            stacklevel=3,
        )
        log_w = np.minimum(log_w, MAX_LOG_WEIGHT)
    return np.exp(log_w), clipped


def neff_fraction(log_w: np.ndarray, weight: np.ndarray, clip: float | None) -> float:
    """``n_eff / N`` of the weights ``weight * exp(log_w)`` (clipped at ``clip``), which
    is unchanged by a common factor: computed without overflow for any ``log_w``."""
    if len(log_w) == 0:
        return 1.0
    if clip is not None:
        log_w = np.minimum(log_w, math.log(clip))
    return effective_entries(weight * np.exp(log_w - log_w.max())) / len(log_w)


def truncation(weight: np.ndarray) -> float:
    r"""The clip of ``clip="sqrt_n"``: :math:`√n_\text{eff}` of the fake sample's input
    ``weight`` (all 1: :math:`√N`), the weights averaging 1.

    Truncated importance sampling: weights capped at :math:`√N` times their mean
    have a finite variance for any density ratio, and the bias the cap brings falls
    as ``N`` grows. Without it a fake event where the generator leaves almost no
    events beside a hole gets a weight of ``10^4`` or more, and the rare events of
    that kind set ``n_eff`` of any large sample.

    References:
        E. L. Ionides, "Truncated importance sampling", J. Comput. Graph. Stat. 17
        (2008) 295.
    """
    return math.sqrt(max(effective_entries(np.asarray(weight, np.float64)), 1.0))


def closure_factor(
    logit: np.ndarray,
    is_real: np.ndarray,
    weight: np.ndarray,
    projections: np.ndarray | None,
    temperature: float,
    clip: float | None,
    rng: np.random.Generator,
) -> tuple[float, list[float]]:
    """The factor ``f`` of ``CLOSURE_FACTORS`` whose temperature ``f * T`` brings
    the weighted fake validation events closest to the real ones, and the closure of
    each factor.

    The closure of a factor is the mean :math:`⟨S^2⟩` between the real and the weighted
    fake events over the projections: each column of ``projections`` (the
    classifier's input features) and the logit, each in ``CLOSURE_BINS`` (fewer
    below 750 events of a class) equal-probability bins of both classes together
    (signed weights: ``|p1| + |p2|`` in the denominator). A classifier that separates
    the samples almost completely
    has a temperature near the lower end (a sharp one) and weights on a few events:
    its histograms are noisy and biased, and a larger factor wins; at the largest
    the weights are about 1.

    The factor of the smallest closure is chosen, the largest of equal ones. (The
    one-standard-error rule, the softest factor within a bootstrap standard error of
    the smallest, was measured too: with a few hundred events it softens weights
    that help to about none, as on 200 NanoAOD events with jets 30 % too hard, while
    the smallest closure keeps the held-out S² of the disjoint-support case in
    ``tests/test_graceful.py`` as good as without weights on average over seeds.)

    Args:
        logit: ``(M,)`` logits of the validation events.
        is_real: ``(M,)`` their classes.
        weight: ``(M,)`` their input weights.
        projections: ``(M, d)`` features of the events, or ``None``.
        temperature: the temperature fitted on the loss (:func:`fit_temperature`).
        clip: the weight clip, or ``None``.
        rng: picks ``CLOSURE_EVENTS`` events per class when there are more.
    """
    keep = np.concatenate(
        [_at_most(np.flatnonzero(c), CLOSURE_EVENTS, rng) for c in (is_real, ~is_real)]
    )
    z = np.asarray(logit, np.float64)[keep]
    real, w0 = is_real[keep], np.asarray(weight, np.float64)[keep]
    columns = [z] if projections is None else [*np.asarray(projections, np.float64)[keep].T, z]
    smaller = min(int(real.sum()), int((~real).sum()))
    bins = min(CLOSURE_BINS, max(5, smaller // CLOSURE_BIN_EVENTS))
    index, ends = _pooled_bins(columns, bins)
    hist_real = _histograms(index[:, real], w0[real], ends)
    closures = []
    for factor in CLOSURE_FACTORS:
        t = temperature * factor
        try:
            log_w = z[~real] / t + fit_offset(z[~real], t, w0[~real])
        except ValueError:  # signed weights whose weighted total is not positive at t
            closures.append(math.inf)
            continue
        if clip is not None:
            log_w = np.minimum(log_w, math.log(clip))
        w = w0[~real] * np.exp(np.minimum(log_w, MAX_LOG_WEIGHT))
        hist_fake = _histograms(index[:, ~real], w, ends)
        closures.append(_mean_separation(hist_real, hist_fake, ends))
    if not np.isfinite(closures[0]) or np.isnan(closures).any():  # no total to compare
        return 1.0, closures
    # ties (to rounding) go to the softer weights: samples that no weight brings closer
    best = np.flatnonzero(np.asarray(closures) <= min(closures) * (1 + 1e-9) + 1e-15)
    return CLOSURE_FACTORS[int(best.max())], closures


def _histograms(index: np.ndarray, w: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The weighted histograms of all projections (``index``: ``(d, M)`` bin numbers)."""
    return np.bincount(index.ravel(), np.tile(w, len(index)), int(ends[-1]))


def _at_most(index: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return index if len(index) <= n else np.sort(rng.choice(index, n, replace=False))


def _pooled_bins(columns: list[np.ndarray], bins: int) -> tuple[np.ndarray, np.ndarray]:
    """``(d, M)`` global bin numbers of each column's values in ``bins``
    equal-probability bins of its own (fewer where values repeat), and the end of
    each column's bins (``ends[-1]``: their count)."""
    index = np.empty((len(columns), len(columns[0])), np.int64)
    ends: list[int] = []
    levels = np.linspace(0, 1, bins + 1)[1:-1]
    for j, x in enumerate(columns):
        inner = np.unique(np.quantile(x, levels))
        start = ends[-1] if ends else 0
        index[j] = start + np.searchsorted(inner, x, side="right")
        ends.append(start + len(inner) + 1)
    return index, np.asarray(ends)


def _mean_separation(h1: np.ndarray, h2: np.ndarray, ends: np.ndarray) -> float:
    """Mean over the projections (bins ``[ends[j-1], ends[j])``) of :math:`⟨S^2⟩`; NaN
    for a histogram without a positive total."""
    if not (h1[: ends[0]].sum() > 0 and h2[: ends[0]].sum() > 0):
        return math.nan
    values, start = [], 0
    for end in ends:
        p, q = h1[start:end], h2[start:end]
        p, q = p / p.sum(), q / q.sum()
        both = np.abs(p) + np.abs(q)
        values.append(0.5 * float(np.sum((p - q)[both > 0] ** 2 / both[both > 0])))
        start = end
    return float(np.mean(values))
