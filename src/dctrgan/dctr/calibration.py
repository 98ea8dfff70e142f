"""Calibration of DCTR weights: the temperature, the normalization offset, clipping.

A fitted classifier gives a logit ``z`` per event; its weight is
``w = exp(z / T + b)``. The temperature ``T`` (:func:`fit_temperature`) calibrates
the classifier on held-out events, the offset ``b`` (:func:`fit_offset`) makes the
weights of the fake sample average 1, and :func:`weights_from_log` turns the
log-weights into weights, clipped and without overflow. :func:`neff_fraction` tells
how many effective entries such weights leave.
"""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np

from dctrgan.stats import effective_entries

__all__ = (
    "MAX_LOG_WEIGHT",
    "fit_offset",
    "fit_temperature",
    "neff_fraction",
    "weights_from_log",
)

log = logging.getLogger(__name__)

#: Largest log-weight whose exp is a finite float32 (with a margin): weights are float32.
MAX_LOG_WEIGHT = math.log(np.finfo(np.float32).max) - 1.0


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
    """The log-weight offset ``b`` that makes the weighted mean of ``exp(logit / T + b)``
    over fake events 1 (DCTRGAN eq. 10), computed in log space.

    With signed weights ``w0``: ``sum w0 exp(logit / T + b) = sum w0``, the weighted
    fake sample keeps its signed total.

    Args:
        logit: ``(M,)`` logits of held-out fake events.
        temperature: the fitted ``T``.
        weight: ``(M,)`` their sample weights, any sign, with a positive sum.

    Raises:
        ValueError: if ``sum w0`` or ``sum w0 exp(logit / T)`` is not positive: the
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

    ``exp(logit / T)``, not ``h / (1 - h)``: in float32 the sigmoid rounds to exactly 1
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
